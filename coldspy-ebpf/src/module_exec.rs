//! Module bodies: a uprobe/uretprobe pair on `PyEval_EvalCode`, through
//! which every loader runs a module's top-level code (`exec(code,
//! module.__dict__)` in importlib, `runpy`, the main script). Imports that
//! bypass the import statement (`importlib.import_module`, `exec_module`,
//! lazy loaders) have no import edge of their own; their body's edges stand
//! for them (userspace decides which bodies are such imports). Entries and
//! returns pair up per thread by stack pointer, as in [`crate::imports`].

use crate::imports::ImportStack;
use crate::{maps, pystack};
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::{map, uprobe, uretprobe},
    maps::{HashMap, PerCpuArray},
    programs::{ProbeContext, RetProbeContext},
};
use coldspy_common::{
    limits::{MAX_IMPORTING_THREADS, MAX_IMPORT_DEPTH},
    module_exec::{
        ModuleConstsEvent, ModuleExecEvent, EVENT_KIND_MODULE_CONSTS, EVENT_KIND_MODULE_EXEC_END,
        EVENT_KIND_MODULE_EXEC_START, MODULE_CONSTS_MAX, MODULE_EXEC_CALLERS,
    },
    offsets::{TargetConfig, CODE_CONSTS_3_11, TARGET_WATCH_HANDLERS, TUPLE_ITEMS, TUPLE_SIZE},
    sample::RawFrame,
};

/// Thread id → module bodies in flight; preallocated, sized and emptied as
/// [`crate::imports`]' stacks.
#[map]
static EXEC_STACKS: HashMap<u32, ImportStack> = HashMap::with_max_entries(MAX_IMPORTING_THREADS, 0);

/// Per-CPU scratch for a new thread's stack (too big for the BPF stack).
#[map]
static EXEC_SCRATCH: PerCpuArray<ImportStack> = PerCpuArray::with_max_entries(1, 0);

#[inline(always)]
fn stack_pointer(regs: *const aya_ebpf::bindings::pt_regs) -> u64 {
    // SAFETY: `regs` is the probe context's register set.
    unsafe { (*regs).rsp }
}

/// The thread's module-body stack, created empty on first use.
#[inline(always)]
fn exec_stack(tid: u32) -> Option<*mut ImportStack> {
    if let Some(stack) = EXEC_STACKS.get_ptr_mut(tid) {
        return Some(stack);
    }
    let fresh = EXEC_SCRATCH.get_ptr_mut(0)?;
    // SAFETY: this CPU's scratch slot; inserted by reference (a copy would
    // not fit the 512-byte BPF stack).
    unsafe { (*fresh).depth = 0 };
    #[allow(clippy::needless_borrows_for_generic_args)]
    if EXEC_STACKS.insert(tid, unsafe { &*fresh }, 0).is_err() {
        // More threads running bodies at once than the map holds.
        maps::count_lost(maps::LOST_EVENTS);
        return None;
    }
    EXEC_STACKS.get_ptr_mut(tid)
}

/// Fills `callers` with up to [`MODULE_EXEC_CALLERS`] frames of the thread,
/// innermost first; returns the slots used.
#[inline(always)]
fn walk_callers(
    cfg: &TargetConfig,
    tid: u32,
    callers: &mut [RawFrame; MODULE_EXEC_CALLERS],
) -> u32 {
    let layout = &cfg.layout;
    let Ok(tstate) = pystack::current_tstate(cfg, tid) else {
        return 0;
    };
    if tstate == 0 {
        return 0;
    }
    let Ok(mut frame) = pystack::follow(tstate, &layout.tstate_to_frame) else {
        return 0;
    };
    let mut used = 0;
    for slot in callers.iter_mut() {
        if frame == 0 {
            break;
        }
        frame = pystack::caller_frame(layout, frame, slot);
        used += 1;
    }
    used
}

/// Entry of `PyEval_EvalCode(code, globals, locals)`: a body starts.
#[uprobe]
pub fn coldspy_module_exec_enter(ctx: ProbeContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    let tid = pid_tgid as u32;
    let Some(cfg) = maps::python_target(tgid) else {
        return 0;
    };
    let code = ctx.arg::<u64>(0).unwrap_or(0);
    let Some(stack) = exec_stack(tid) else {
        return 0;
    };
    // SAFETY: map value pointer valid for this run; index masked.
    let depth = unsafe { (*stack).depth };
    if depth as usize >= MAX_IMPORT_DEPTH {
        return 0;
    }
    unsafe {
        (*stack).entry_sp[depth as usize & (MAX_IMPORT_DEPTH - 1)] = stack_pointer(ctx.regs);
        (*stack).depth = depth + 1;
    }
    let Some(mut entry) = maps::EVENTS.reserve::<ModuleExecEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        return 0;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: reserved record of the right size; every field is written.
    unsafe {
        (*event).kind = EVENT_KIND_MODULE_EXEC_START;
        (*event).pid = tgid;
        (*event).tid = tid;
        (*event).depth = depth;
        (*event).ktime_ns = bpf_ktime_get_ns();
        (*event).code_addr = code;
        (*event).caller_count = walk_callers(cfg, tid, &mut (*event).callers);
        (*event).path_len = pystack::read_code_str(
            &cfg.layout,
            code,
            cfg.layout.code_filename,
            &mut (*event).path,
        );
    }
    entry.submit(maps::DATA_RING_SUBMIT);
    if cfg.flags & TARGET_WATCH_HANDLERS != 0 {
        send_consts(tgid, code);
    }
    0
}

#[inline(always)]
fn read_u64(addr: u64) -> u64 {
    // SAFETY: bpf_probe_read_user checks the address; a fault reads 0.
    unsafe { aya_ebpf::helpers::bpf_probe_read_user(addr as *const u64) }.unwrap_or(0)
}

/// Sends the first constants of module code `code` ([`ModuleConstsEvent`]).
#[inline(never)]
fn send_consts(tgid: u32, code: u64) {
    let Some(mut entry) = maps::EVENTS.reserve::<ModuleConstsEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        return;
    };
    let event = entry.as_mut_ptr();
    let consts = read_u64(code + CODE_CONSTS_3_11);
    let size = read_u64(consts + TUPLE_SIZE);
    let count = if size > MODULE_CONSTS_MAX as u64 {
        MODULE_CONSTS_MAX
    } else {
        size as usize
    };
    // SAFETY: reserved record of the right size; `bytes` is at most the
    // size of `items` (the mask keeps the verifier sure of it).
    unsafe {
        (*event).kind = EVENT_KIND_MODULE_CONSTS;
        (*event).pid = tgid;
        (*event).module_code = code;
        (*event)._pad = 0;
        let bytes = (count * 8) & 0x1ff;
        let items =
            core::slice::from_raw_parts_mut((*event).items.as_mut_ptr().cast::<u8>(), bytes);
        let read = bytes > 0
            && aya_ebpf::helpers::bpf_probe_read_user_buf(
                (consts + TUPLE_ITEMS) as *const u8,
                items,
            )
            .is_ok();
        (*event).count = if read { (bytes / 8) as u32 } else { 0 };
    }
    entry.submit(maps::DATA_RING_SUBMIT);
}

/// Return of `PyEval_EvalCode`: if it matches the innermost entry, that body ends.
#[uretprobe]
pub fn coldspy_module_exec_exit(ctx: RetProbeContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    let Some(stack) = EXEC_STACKS.get_ptr_mut(tid) else {
        return 0;
    };
    // SAFETY: map value pointer valid for this run; index checked before use.
    let depth = unsafe { (*stack).depth } as u64;
    if depth == 0 || depth > MAX_IMPORT_DEPTH as u64 {
        return 0;
    }
    let top = depth - 1;
    let entry_sp = unsafe { (*stack).entry_sp[top as usize & (MAX_IMPORT_DEPTH - 1)] };
    if stack_pointer(ctx.regs) != entry_sp + 8 {
        return 0;
    }
    unsafe { (*stack).depth = top as u32 };
    if top == 0 {
        // The outermost body ended: free the entry (`stack` is not used again).
        let _ = EXEC_STACKS.remove(tid);
    }
    // The end carries no path or frames: reserve the whole record anyway
    // (one type per kind keeps decoding simple); only the header is written.
    let Some(mut entry) = maps::EVENTS.reserve::<ModuleExecEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        return 0;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: reserved record of the right size.
    unsafe {
        (*event).kind = EVENT_KIND_MODULE_EXEC_END;
        (*event).pid = (pid_tgid >> 32) as u32;
        (*event).tid = tid;
        (*event).depth = top as u32;
        (*event).ktime_ns = bpf_ktime_get_ns();
        (*event).code_addr = ctx.ret::<u64>();
        (*event).path_len = 0;
        (*event).caller_count = 0;
        (*event).path[0] = 0;
    }
    entry.submit(maps::DATA_RING_SUBMIT);
    0
}
