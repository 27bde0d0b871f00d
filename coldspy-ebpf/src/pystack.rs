//! Walks the CPython frame chain of the current thread, following the layout
//! userspace put in the target's [`TargetConfig`]. Version-agnostic: every
//! offset comes from the config.

use crate::globals;
use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid, bpf_probe_read_kernel, bpf_probe_read_user,
        bpf_probe_read_user_str_bytes, generated::bpf_get_current_task,
    },
    macros::map,
    maps::LruHashMap,
};
use coldspy_common::{
    diag::{
        FAIL_CODE_READ, FAIL_FRAME_POINTER, FAIL_FRAME_READ, FAIL_NOT_CODE, FAIL_THREAD_STATE,
        FAIL_TRUNCATED,
    },
    limits::{MAX_CACHED_THREADS, MAX_CHAIN, MAX_FRAMES, MAX_THREADS},
    offsets::{PtrChain, TargetConfig, NO_OFFSET, TARGET_PYTHON_READY},
    sample::{
        code_key, RawFrame, SAMPLE_NOT_READY, SAMPLE_NO_PYTHON, SAMPLE_READ_ERROR, SAMPLE_TRUNCATED,
    },
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

/// Thread (`pid_tgid`) → its `PyThreadState*`, found once by searching the
/// interpreter's thread list and re-checked on every use.
#[map]
static THREAD_STATES: LruHashMap<u64, u64> = LruHashMap::with_max_entries(MAX_CACHED_THREADS, 0);

/// How the current thread is recognised in a `PyThreadState`: its kernel tid
/// (`native_thread_id`, 3.11+) or its `pthread_self()` (`thread_id`, which
/// is the `fs` base on x86_64 glibc; 3.9/3.10 have nothing else).
#[derive(Clone, Copy)]
struct ThreadIdentity {
    field: u32,
    value: u64,
}

#[inline(always)]
fn thread_identity(cfg: &TargetConfig, tid: u32) -> Option<ThreadIdentity> {
    let layout = &cfg.layout;
    if layout.tstate_native_thread_id != NO_OFFSET {
        return Some(ThreadIdentity {
            field: layout.tstate_native_thread_id,
            value: tid as u64,
        });
    }
    let fsbase_offset = globals::task_fsbase_offset();
    if layout.tstate_thread_id == NO_OFFSET || fsbase_offset == u32::MAX {
        return None;
    }
    // SAFETY: the helper returns the current task; the read is checked.
    let task = unsafe { bpf_get_current_task() };
    let fsbase =
        unsafe { bpf_probe_read_kernel((task + fsbase_offset as u64) as *const u64) }.ok()?;
    Some(ThreadIdentity {
        field: layout.tstate_thread_id,
        value: fsbase,
    })
}

#[inline(always)]
fn is_thread(tstate: u64, who: ThreadIdentity) -> bool {
    tstate != 0 && read_u64(tstate + who.field as u64).is_ok_and(|v| v == who.value)
}

/// The current thread's Python thread state, or 0 when it has none: the
/// GIL holder if that is this thread (the common case), else the cached
/// one, else a search of the interpreter's thread list.
#[inline(always)]
pub fn current_tstate(cfg: &TargetConfig, tid: u32) -> Result<u64, i32> {
    let layout = &cfg.layout;
    let Some(who) = thread_identity(cfg, tid) else {
        // No way to tell threads apart: trust the GIL holder.
        return follow(cfg.runtime_addr, &layout.runtime_to_gil_tstate);
    };
    let holder = follow(cfg.runtime_addr, &layout.runtime_to_gil_tstate)?;
    if is_thread(holder, who) {
        return Ok(holder);
    }
    let key = bpf_get_current_pid_tgid();
    // SAFETY: map lookup; the value is copied.
    if let Some(&cached) = unsafe { THREAD_STATES.get(key) } {
        if is_thread(cached, who) {
            return Ok(cached);
        }
    }
    if layout.tstate_next == NO_OFFSET {
        return Ok(0);
    }
    let mut tstate = follow(cfg.runtime_addr, &layout.runtime_to_first_tstate)?;
    for _ in 0..MAX_THREADS {
        if tstate == 0 {
            break;
        }
        if is_thread(tstate, who) {
            let _ = THREAD_STATES.insert(key, tstate, 0);
            return Ok(tstate);
        }
        tstate = read_u64(tstate + layout.tstate_next as u64)?;
    }
    Ok(0)
}

/// The innermost Python frame of the current thread (code 0 if none).
#[inline(always)]
pub fn innermost_frame(cfg: &TargetConfig, tid: u32) -> RawFrame {
    raw_frame(&cfg.layout, innermost_frame_addr(cfg, tid))
}

/// The address of the current thread's innermost Python frame (0 if none).
#[inline(always)]
pub fn innermost_frame_addr(cfg: &TargetConfig, tid: u32) -> u64 {
    match current_tstate(cfg, tid) {
        Ok(0) | Err(_) => 0,
        Ok(tstate) => follow(tstate, &cfg.layout.tstate_to_frame).unwrap_or(0),
    }
}

/// The code object, instruction pointer and identity of the frame at
/// `frame` (all zero for none).
#[inline(always)]
pub fn raw_frame(layout: &coldspy_common::offsets::PyLayout, frame: u64) -> RawFrame {
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

/// Per-CPU buffer for [`caller_frame`]'s header reads: its own, apart from
/// the sampler's [`SCRATCH`].
#[map]
static CALLER_SCRATCH: aya_ebpf::maps::PerCpuArray<[u8; FRAME_CHUNK]> =
    aya_ebpf::maps::PerCpuArray::with_max_entries(1, 0);

/// Writes the frame at `frame` (not 0) into `slot` as [`raw_frame`] reads
/// it, or an empty slot for a frame to skip (a C-stack shim,
/// `skip_owner_mask`), and returns its caller's address; two reads: the
/// frame's header at once, and the code object's `co_filename` and
/// `co_name` at once where they are adjacent (every supported build).
/// Fields are read one by one when the header cannot be read in one piece.
/// Not inlined: the verifier checks it as a subprogram, whose paths end at
/// its return, not once per path before each call.
#[inline(never)]
pub fn caller_frame(
    layout: &coldspy_common::offsets::PyLayout,
    frame: u64,
    slot: &mut RawFrame,
) -> u64 {
    *slot = RawFrame::default();
    let Some(buf) = CALLER_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's slot of a per-CPU map; uprobe programs do not nest.
    let buf = unsafe { &mut *buf };
    let whole = read_chunk(frame, buf);
    let field = |buf: &[u8; FRAME_CHUNK], offset: u32| -> u64 {
        if whole {
            chunk_u64(buf, frame, offset)
        } else {
            read_u64(frame + offset as u64).unwrap_or(0)
        }
    };
    let code = field(buf, layout.frame_code) & layout.code_ptr_mask;
    let previous = field(buf, layout.frame_previous);
    let owner = if layout.frame_owner != NO_OFFSET {
        (field(buf, layout.frame_owner & !7) >> ((layout.frame_owner & 7) * 8)) as u8
    } else {
        0
    };
    if code != 0 && (layout.skip_owner_mask >> (owner & 31)) & 1 == 0 {
        *slot = RawFrame {
            code_addr: code,
            instr: field(buf, layout.frame_instr),
            code_key: identity(layout, code),
        };
    }
    previous
}

/// Where `str.length` is: right after `ob_refcnt` and `ob_type` in every
/// supported (non-free-threaded) build.
const UNICODE_LENGTH: u64 = 16;

/// Copies the ASCII text of the `str` at `offset` in code object `code`
/// (`co_filename`, `co_name`), NUL-terminated, keeping its end when too
/// long; returns its full length (0, and an empty `out`, when unreadable).
#[inline(always)]
pub fn read_code_str<const N: usize>(
    layout: &coldspy_common::offsets::PyLayout,
    code: u64,
    offset: u32,
    out: &mut [u8; N],
) -> u32 {
    out[0] = 0;
    if code == 0 {
        return 0;
    }
    let text = read_u64(code + offset as u64).unwrap_or(0);
    if text == 0 {
        return 0;
    }
    let len = read_u64(text + UNICODE_LENGTH).unwrap_or(0);
    let mut chars = text + layout.unicode_ascii_data as u64;
    if len >= N as u64 {
        chars += len - (N as u64 - 1);
    }
    // SAFETY: the helper checks the user address and NUL-terminates.
    if unsafe { bpf_probe_read_user_str_bytes(chars as *const u8, out) }.is_err() {
        out[0] = 0;
    }
    len as u32
}

/// The identity key of a code object (0 for none): one read of its
/// `co_filename` and `co_name` where they are adjacent, else two.
#[inline(always)]
fn identity(layout: &coldspy_common::offsets::PyLayout, code: u64) -> u64 {
    if code == 0 {
        return 0;
    }
    if layout.code_name == layout.code_filename + 8 {
        // SAFETY: bpf_probe_read_user checks the address.
        let pair =
            unsafe { bpf_probe_read_user((code + layout.code_filename as u64) as *const [u64; 2]) };
        return pair
            .map(|[filename, name]| code_key(filename, name))
            .unwrap_or(0);
    }
    let filename = read_u64(code + layout.code_filename as u64).unwrap_or(0);
    let name = read_u64(code + layout.code_name as u64).unwrap_or(0);
    code_key(filename, name)
}

/// [`walk`], or no frames with `SAMPLE_NOT_READY` while the target's
/// Python layout is not known yet.
#[inline(always)]
pub fn walk_if_ready(
    cfg: &TargetConfig,
    tid: u32,
    frames: *mut [RawFrame; MAX_FRAMES],
    use_bpf_loop: bool,
) -> Walk {
    if cfg.flags & TARGET_PYTHON_READY == 0 {
        return Walk::empty(SAMPLE_NOT_READY, 0);
    }
    walk(cfg, tid, frames, use_bpf_loop)
}

/// What [`walk`] found besides the frames.
pub struct Walk {
    /// Slots of `frames` used.
    pub depth: u32,
    /// `SAMPLE_*` flags.
    pub flags: u32,
    /// Bit `1 << FAIL_*` for each read-failure cause met ([`coldspy_common::diag`]).
    pub causes: u32,
}

/// Fills `frames` (innermost first) from the thread state; returns the
/// number of slots used, `SAMPLE_*` flags and read-failure causes. Slot `i` holds the `i`-th frame
/// of the chain; frames to skip (C-stack shims, non-code objects) have
/// `code_addr == 0`, so the loop state depends on `i` only and the verifier
/// can prune it. With `use_bpf_loop` the frames are walked by `bpf_loop`
/// (kernel 5.17+): the verifier checks one step instead of every one of
/// the [`MAX_FRAMES`] unrolled iterations, which makes loading ~10x faster.
#[inline(always)]
pub fn walk(
    cfg: &TargetConfig,
    tid: u32,
    frames: *mut [RawFrame; MAX_FRAMES],
    use_bpf_loop: bool,
) -> Walk {
    let layout = &cfg.layout;
    let tstate = match current_tstate(cfg, tid) {
        Ok(0) => return Walk::empty(SAMPLE_NO_PYTHON, 0),
        Ok(t) => t,
        Err(_) => return Walk::empty(SAMPLE_NO_PYTHON | SAMPLE_READ_ERROR, 1 << FAIL_THREAD_STATE),
    };
    let Ok(frame) = follow(tstate, &layout.tstate_to_frame) else {
        return Walk::empty(SAMPLE_READ_ERROR, 1 << FAIL_FRAME_POINTER);
    };
    let Some(scratch) = SCRATCH.get_ptr_mut(SCRATCH_SAMPLER) else {
        return Walk::empty(SAMPLE_READ_ERROR, 0);
    };
    // SAFETY: this CPU's slot of a per-CPU map; the sampler is its only user.
    let scratch = unsafe { &mut *scratch };
    // Causes go to the scratch map, not a register: map contents are not
    // tracked by the verifier, so they add no states to the loop.
    note_cause(scratch, 0);
    let mut state = WalkState {
        cfg,
        frames,
        scratch,
        frame,
        used: 0,
        flags: 0,
    };
    if use_bpf_loop {
        // SAFETY: the callback is a BPF subprogram; `state` lives on this
        // stack for the whole call.
        unsafe {
            aya_ebpf::helpers::generated::bpf_loop(
                MAX_FRAMES as u32,
                walk_callback as *mut core::ffi::c_void,
                core::ptr::addr_of_mut!(state).cast(),
                0,
            )
        };
    } else {
        for i in 0..MAX_FRAMES {
            if !step(&mut state, i) {
                break;
            }
        }
    }
    if state.frame != 0 {
        state.flags |= SAMPLE_TRUNCATED;
        note_cause(state.scratch, 1 << FAIL_TRUNCATED);
    }
    Walk {
        depth: state.used,
        flags: state.flags,
        // SAFETY: a field of this CPU's map value.
        causes: unsafe { core::ptr::read_volatile(&state.scratch.causes) },
    }
}

/// What one step of the walk reads and writes.
struct WalkState<'a> {
    cfg: &'a TargetConfig,
    frames: *mut [RawFrame; MAX_FRAMES],
    scratch: &'a mut Scratch,
    /// The frame to read next (0: done).
    frame: u64,
    used: u32,
    flags: u32,
}

/// `bpf_loop`'s callback: one step; 1 stops the loop.
#[inline(never)]
unsafe extern "C" fn walk_callback(index: u64, state: *mut core::ffi::c_void) -> i64 {
    // SAFETY: `state` is the `WalkState` that `walk` passed.
    let state = unsafe { &mut *(state as *mut WalkState) };
    if index >= MAX_FRAMES as u64 {
        return 1;
    }
    if step(state, index as usize) {
        0
    } else {
        1
    }
}

/// Reads frame `i` of the chain into slot `i`; false when the chain ended.
#[inline(always)]
fn step(state: &mut WalkState, i: usize) -> bool {
    let frame = state.frame;
    if frame == 0 || i >= MAX_FRAMES {
        return false;
    }
    let cfg = state.cfg;
    let layout = &cfg.layout;
    let scratch = &mut *state.scratch;
    // One read of the frame's header instead of one per field.
    let header_ok = read_chunk(frame, &mut scratch.frame);
    if !header_ok {
        note_cause(scratch, 1 << FAIL_FRAME_READ);
    }
    let field = |scratch: &Scratch, offset: u32| -> u64 {
        if header_ok {
            chunk_u64(&scratch.frame, frame, offset)
        } else {
            read_u64(frame + offset as u64).unwrap_or(0)
        }
    };
    let code = field(scratch, layout.frame_code) & layout.code_ptr_mask;
    let instr = field(scratch, layout.frame_instr);
    let previous = field(scratch, layout.frame_previous);
    let owner = if layout.frame_owner != NO_OFFSET {
        (chunk_u64(&scratch.frame, frame, layout.frame_owner & !7)
            >> ((layout.frame_owner & 7) * 8)) as u8
    } else {
        0
    };
    let skip_owner = (layout.skip_owner_mask >> (owner & 31)) & 1 != 0;
    let (code_addr, code_key) = if code == 0 || skip_owner {
        (0, 0)
    } else {
        // One read of the code object's header: its type and identity.
        let code_ok = read_chunk(code, &mut scratch.code);
        if !code_ok {
            note_cause(scratch, 1 << FAIL_CODE_READ);
        }
        let cfield = |offset: u32| -> u64 {
            if code_ok {
                chunk_u64(&scratch.code, code, offset)
            } else {
                read_u64(code + offset as u64).unwrap_or(0)
            }
        };
        let type_ok = cfg.code_type_addr == 0 || cfield(layout.object_type) == cfg.code_type_addr;
        if type_ok {
            (
                code,
                code_key(cfield(layout.code_filename), cfield(layout.code_name)),
            )
        } else {
            note_cause(scratch, 1 << FAIL_NOT_CODE);
            (0, 0)
        }
    };
    // SAFETY: `i < MAX_FRAMES`; `frames` points into a reserved record.
    unsafe {
        (*state.frames)[i] = RawFrame {
            code_addr,
            instr,
            code_key,
        }
    };
    state.used = i as u32 + 1;
    if !header_ok && previous == 0 && read_u64(frame + layout.frame_previous as u64).is_err() {
        state.flags |= SAMPLE_READ_ERROR;
    }
    state.frame = previous;
    true
}

impl Walk {
    /// No frames: `flags` and `causes` only.
    #[inline(always)]
    fn empty(flags: u32, causes: u32) -> Self {
        Self {
            depth: 0,
            flags,
            causes,
        }
    }
}

/// Bytes of a frame read at once (covers every frame field of 3.9-3.15).
const FRAME_CHUNK: usize = 128;
/// Bytes of a code object read at once (type and identity fields).
const CODE_CHUNK: usize = 256;
/// Slot of [`SCRATCH`] used by the sampler (others: see `imports.rs`).
const SCRATCH_SAMPLER: u32 = 0;

/// Per-CPU buffers for header reads (too big for the 512-byte BPF stack).
#[repr(C)]
pub struct Scratch {
    frame: [u8; FRAME_CHUNK],
    code: [u8; CODE_CHUNK],
    /// Read-failure causes of the walk in progress (bit `1 << FAIL_*`).
    causes: u32,
    _pad: u32,
}

#[map]
static SCRATCH: aya_ebpf::maps::PerCpuArray<Scratch> =
    aya_ebpf::maps::PerCpuArray::with_max_entries(1, 0);

/// ORs `bits` into the walk's causes (`0` resets them). Volatile, so the
/// compiler keeps the value in the map and not in a loop register.
#[inline(always)]
fn note_cause(scratch: &mut Scratch, bits: u32) {
    let field = core::ptr::addr_of_mut!(scratch.causes);
    // SAFETY: a field of this CPU's map value, aligned and ours alone.
    unsafe {
        let old = if bits == 0 {
            0
        } else {
            core::ptr::read_volatile(field)
        };
        core::ptr::write_volatile(field, old | bits);
    }
}

/// Reads `buf.len()` bytes of user memory at `addr`.
#[inline(always)]
fn read_chunk<const N: usize>(addr: u64, buf: &mut [u8; N]) -> bool {
    // SAFETY: the helper checks the user address; `buf` is a map value.
    unsafe { aya_ebpf::helpers::bpf_probe_read_user_buf(addr as *const u8, buf) }.is_ok()
}

/// The `u64` at `offset` of a chunk read from `base`, or a direct read when
/// the field lies past the chunk.
#[inline(always)]
fn chunk_u64<const N: usize>(buf: &[u8; N], base: u64, offset: u32) -> u64 {
    let at = offset as u64;
    if at + 8 <= N as u64 {
        let at = (at as usize) & (N - 1);
        if at + 8 <= N {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&buf[at..at + 8]);
            return u64::from_le_bytes(bytes);
        }
    }
    read_u64(base + at).unwrap_or(0)
}
