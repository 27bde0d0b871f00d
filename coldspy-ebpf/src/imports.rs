//! Import start and end: a uprobe/uretprobe pair on the function through
//! which `import_find_and_load` calls importlib's `_find_and_load`
//! (`PyObject_CallMethodObjArgs`, or `_PyObject_CallMethodIdObjArgs` before
//! 3.11). Calls are filtered on the method name; entries and returns pair up
//! per thread by stack pointer (a return leaves `sp == entry_sp + 8`).

use crate::{maps, pystack};
use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_user,
        bpf_probe_read_user_str_bytes,
    },
    macros::{map, uprobe, uretprobe},
    maps::HashMap,
    programs::{ProbeContext, RetProbeContext},
};
use coldspy_common::{
    import_event::{ImportEvent, EVENT_KIND_IMPORT_END, EVENT_KIND_IMPORT_START},
    limits::{MAX_IMPORTING_THREADS, MAX_IMPORT_DEPTH, MAX_TARGETS},
    offsets::{TargetConfig, IMPORT_NAME_IDENTIFIER},
    sample::RawFrame,
};

/// The imports in flight on one thread: stack pointers at their entries.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ImportStack {
    pub depth: u32,
    pub _pad: u32,
    pub entry_sp: [u64; MAX_IMPORT_DEPTH],
}

/// Thread id → imports in flight; a thread's entry is removed when its
/// outermost import ends. Preallocated: kernels before 6.1 refuse a map
/// allocated per entry in a perf-event program and `WARN` (a kernel splat,
/// a panic under `panic_on_warn`) for one in a uprobe. Sized for `record`
/// ([`MAX_IMPORTING_THREADS`], ≈ 0.5 MiB); `record --all` enlarges it at
/// load time.
#[map]
static IMPORT_STACKS: HashMap<u32, ImportStack> =
    HashMap::with_max_entries(MAX_IMPORTING_THREADS, 0);

/// Process → address of the `_find_and_load` name object, once seen.
#[map]
static FIND_AND_LOAD_NAME: HashMap<u32, u64> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// Per-CPU scratch for a new thread's stack (too big for the BPF stack).
#[map]
static SCRATCH_STACK: aya_ebpf::maps::PerCpuArray<ImportStack> =
    aya_ebpf::maps::PerCpuArray::with_max_entries(1, 0);

const NEEDLE: &[u8; 15] = b"_find_and_load\0";

/// Whether `name` (the method-name argument) is `_find_and_load`.
#[inline(always)]
fn is_find_and_load(cfg: &TargetConfig, tgid: u32, name: u64) -> bool {
    // SAFETY: map lookups; the value is copied.
    if let Some(&known) = unsafe { FIND_AND_LOAD_NAME.get(tgid) } {
        return known == name;
    }
    let layout = &cfg.layout;
    let chars = if layout.import_name_kind == IMPORT_NAME_IDENTIFIER {
        // SAFETY: bpf_probe_read_user checks the address.
        match unsafe { bpf_probe_read_user((name + layout.identifier_string as u64) as *const u64) }
        {
            Ok(p) => p,
            Err(_) => return false,
        }
    } else {
        name + layout.unicode_ascii_data as u64
    };
    // SAFETY: as above.
    let Ok(bytes) = (unsafe { bpf_probe_read_user(chars as *const [u8; 15]) }) else {
        return false;
    };
    if &bytes != NEEDLE {
        return false;
    }
    let _ = FIND_AND_LOAD_NAME.insert(tgid, name, 0);
    true
}

#[inline(always)]
fn stack_pointer(regs: *const aya_ebpf::bindings::pt_regs) -> u64 {
    // SAFETY: `regs` is the probe context's register set.
    unsafe { (*regs).rsp }
}

/// Entry of the method call: if it is `_find_and_load`, an import starts.
#[uprobe]
pub fn coldspy_import_enter(ctx: ProbeContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    let tid = pid_tgid as u32;
    let Some(cfg) = maps::python_target(tgid) else {
        return 0;
    };
    let Some(method) = ctx.arg::<u64>(1) else {
        return 0;
    };
    if !is_find_and_load(cfg, tgid, method) {
        return 0;
    }
    let module = ctx.arg::<u64>(2).unwrap_or(0);
    let sp = stack_pointer(ctx.regs);

    let stack = match IMPORT_STACKS.get_ptr_mut(tid) {
        Some(s) => s,
        None => {
            let Some(fresh) = SCRATCH_STACK.get_ptr_mut(0) else {
                return 0;
            };
            // SAFETY: per-CPU scratch slot.
            unsafe { (*fresh).depth = 0 };
            // SAFETY: as above; inserted by copy. Passed by reference: a
            // by-value copy would not fit the 512-byte BPF stack.
            #[allow(clippy::needless_borrows_for_generic_args)]
            if IMPORT_STACKS.insert(tid, unsafe { &*fresh }, 0).is_err() {
                // More threads importing at once than the map holds.
                maps::count_lost(maps::LOST_EVENTS);
                return 0;
            }
            match IMPORT_STACKS.get_ptr_mut(tid) {
                Some(s) => s,
                None => return 0,
            }
        }
    };
    // SAFETY: map value pointer valid for this run; index masked below.
    let depth = unsafe { (*stack).depth };
    if (depth as usize) < MAX_IMPORT_DEPTH {
        unsafe {
            (*stack).entry_sp[depth as usize & (MAX_IMPORT_DEPTH - 1)] = sp;
            (*stack).depth = depth + 1;
        }
    } else {
        return 0;
    }

    let Some(mut entry) = maps::EVENTS.reserve::<ImportEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        return 0;
    };
    let event = entry.as_mut_ptr();
    let site = pystack::innermost_frame(cfg, tid);
    // SAFETY: reserved record of the right size.
    unsafe {
        (*event).kind = EVENT_KIND_IMPORT_START;
        (*event).pid = tgid;
        (*event).tid = tid;
        (*event).depth = depth;
        (*event).ktime_ns = bpf_ktime_get_ns();
        (*event).result = 0;
        (*event).site = site;
        let name = &mut (*event).name;
        let chars = module + cfg.layout.unicode_ascii_data as u64;
        if bpf_probe_read_user_str_bytes(chars as *const u8, name).is_err() {
            name[0] = 0;
        }
    }
    entry.submit(maps::DATA_RING_SUBMIT);
    0
}

/// Return of a method call: if it matches the innermost import's entry, that import ends.
#[uretprobe]
pub fn coldspy_import_exit(ctx: RetProbeContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    let Some(stack) = IMPORT_STACKS.get_ptr_mut(tid) else {
        return 0;
    };
    // SAFETY: map value pointer valid for this run; index checked just before use.
    let depth = unsafe { (*stack).depth } as u64;
    if depth == 0 {
        return 0;
    }
    let top = depth - 1;
    if top >= MAX_IMPORT_DEPTH as u64 {
        return 0;
    }
    let entry_sp = unsafe { (*stack).entry_sp[top as usize] };
    if stack_pointer(ctx.regs) != entry_sp + 8 {
        return 0;
    }
    unsafe { (*stack).depth = top as u32 };
    if top == 0 {
        // The outermost import ended: free the entry (`stack` is not used
        // again), so the map holds only threads with imports in flight.
        let _ = IMPORT_STACKS.remove(tid);
    }
    let Some(mut entry) = maps::EVENTS.reserve::<ImportEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        return 0;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: reserved record of the right size.
    unsafe {
        (*event).kind = EVENT_KIND_IMPORT_END;
        (*event).pid = (pid_tgid >> 32) as u32;
        (*event).tid = tid;
        (*event).depth = top as u32;
        (*event).ktime_ns = bpf_ktime_get_ns();
        (*event).result = ctx.ret::<u64>();
        (*event).site = RawFrame::default();
        (*event).name[0] = 0;
    }
    entry.submit(maps::DATA_RING_SUBMIT);
    0
}
