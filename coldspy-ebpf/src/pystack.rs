//! Walks the CPython frame chain of the current thread, following the layout
//! userspace put in the target's [`TargetConfig`]. Version-agnostic: every
//! offset comes from the config.

use aya_ebpf::helpers::bpf_probe_read_user;
use coldspy_common::{
    limits::{MAX_CHAIN, MAX_FRAMES},
    offsets::{PtrChain, TargetConfig, NO_OFFSET},
    sample::{code_key, RawFrame, SAMPLE_NO_PYTHON, SAMPLE_READ_ERROR, SAMPLE_TRUNCATED},
};

#[inline(always)]
fn read_u64(addr: u64) -> Result<u64, i32> {
    // SAFETY: bpf_probe_read_user checks the address; a fault is an Err.
    unsafe { bpf_probe_read_user(addr as *const u64) }
}

/// Follows `chain` from `start`: add, dereference, repeat. 0 on a null pointer.
#[inline(always)]
pub fn follow(start: u64, chain: &PtrChain) -> Result<u64, i32> {
    let mut addr = start;
    for i in 0..MAX_CHAIN {
        if i as u32 >= chain.len || addr == 0 {
            break;
        }
        addr = read_u64(addr + chain.offsets[i] as u64)?;
    }
    Ok(addr)
}

/// The current thread's Python thread state, or 0 when it holds none.
#[inline(always)]
pub fn current_tstate(cfg: &TargetConfig, tid: u32) -> Result<u64, i32> {
    let layout = &cfg.layout;
    let tstate = follow(cfg.runtime_addr, &layout.runtime_to_gil_tstate)?;
    if tstate == 0 {
        return Ok(0);
    }
    if layout.tstate_native_thread_id != NO_OFFSET {
        let native = read_u64(tstate + layout.tstate_native_thread_id as u64)?;
        if native as u32 != tid {
            return Ok(0);
        }
    }
    Ok(tstate)
}

/// The innermost Python frame of the current thread (code 0 if none).
#[inline(always)]
pub fn innermost_frame(cfg: &TargetConfig, tid: u32) -> RawFrame {
    let layout = &cfg.layout;
    let Ok(tstate) = current_tstate(cfg, tid) else {
        return RawFrame::default();
    };
    if tstate == 0 {
        return RawFrame::default();
    }
    let Ok(frame) = follow(tstate, &layout.tstate_to_frame) else {
        return RawFrame::default();
    };
    if frame == 0 {
        return RawFrame::default();
    }
    let code = read_u64(frame + layout.frame_code as u64).unwrap_or(0) & layout.code_ptr_mask;
    let instr = read_u64(frame + layout.frame_instr as u64).unwrap_or(0);
    RawFrame {
        code_addr: code,
        instr,
        code_key: identity(layout, code),
    }
}

/// The identity key of a code object (0 for none).
#[inline(always)]
fn identity(layout: &coldspy_common::offsets::PyLayout, code: u64) -> u64 {
    if code == 0 {
        return 0;
    }
    let filename = read_u64(code + layout.code_filename as u64).unwrap_or(0);
    let name = read_u64(code + layout.code_name as u64).unwrap_or(0);
    code_key(filename, name)
}

/// Fills `frames` (innermost first) from the thread state; returns the
/// number of slots used and `SAMPLE_*` flags. Slot `i` holds the `i`-th frame
/// of the chain; frames to skip (C-stack shims, non-code objects) have
/// `code_addr == 0`, so the loop state depends on `i` only and the verifier
/// can prune it.
#[inline(always)]
pub fn walk(cfg: &TargetConfig, tid: u32, frames: *mut [RawFrame; MAX_FRAMES]) -> (u32, u32) {
    let layout = &cfg.layout;
    let tstate = match current_tstate(cfg, tid) {
        Ok(0) => return (0, SAMPLE_NO_PYTHON),
        Ok(t) => t,
        Err(_) => return (0, SAMPLE_NO_PYTHON | SAMPLE_READ_ERROR),
    };
    let mut frame = match follow(tstate, &layout.tstate_to_frame) {
        Ok(f) => f,
        Err(_) => return (0, SAMPLE_READ_ERROR),
    };
    let mut used: u32 = 0;
    let mut flags = 0;
    for i in 0..MAX_FRAMES {
        if frame == 0 {
            break;
        }
        let code = read_u64(frame + layout.frame_code as u64).unwrap_or(0) & layout.code_ptr_mask;
        let instr = read_u64(frame + layout.frame_instr as u64).unwrap_or(0);
        let owner: u8 = if layout.frame_owner != NO_OFFSET {
            // SAFETY: bpf_probe_read_user checks the address.
            unsafe { bpf_probe_read_user((frame + layout.frame_owner as u64) as *const u8) }
                .unwrap_or(0)
        } else {
            0
        };
        let skip_owner = (layout.skip_owner_mask >> (owner & 31)) & 1 != 0;
        let type_ok = cfg.code_type_addr == 0
            || read_u64(code + layout.object_type as u64).unwrap_or(0) == cfg.code_type_addr;
        let code_addr = if skip_owner || !type_ok { 0 } else { code };
        let code_key = identity(layout, code_addr);
        // SAFETY: `i < MAX_FRAMES`; `frames` points into a reserved record.
        unsafe {
            (*frames)[i] = RawFrame {
                code_addr,
                instr,
                code_key,
            }
        };
        used = i as u32 + 1;
        frame = match read_u64(frame + layout.frame_previous as u64) {
            Ok(f) => f,
            Err(_) => {
                flags |= SAMPLE_READ_ERROR;
                0
            }
        };
    }
    if frame != 0 {
        flags |= SAMPLE_TRUNCATED;
    }
    (used, flags)
}
