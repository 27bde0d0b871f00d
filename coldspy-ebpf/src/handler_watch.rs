//! Handler calls of a FaaS runtime: a perf_event program on a hardware
//! write watchpoint over the handler's code object's reference count
//! (userspace sets one per thread of the runtime, inherited by new threads
//! and forks). A call takes a reference when its frame is made and drops it
//! when the frame goes; both happen while the handler's frame is not on the
//! thread's stack, so a write with the handler's frame on the stack (its own
//! code reading `f_code`, logging's `findCaller`) is no call edge. Whether
//! the count went up or down tells start from end.

use crate::{maps, pystack};
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_user},
    macros::{map, perf_event},
    maps::HashMap,
    programs::PerfEventContext,
};
use coldspy_common::{
    invocation::{
        HandlerKey, InvocationEvent, EVENT_KIND_INVOCATION_END, EVENT_KIND_INVOCATION_START,
        HANDLER_BASE,
    },
    limits::MAX_TARGETS,
    offsets::PyLayout,
};

/// (handler code object, process) → its reference count after the last
/// write seen there.
#[map]
static HANDLER_REFCOUNTS: HashMap<HandlerKey, u64> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// Frames searched for the handler's own frame.
const HANDLER_SEARCH_FRAMES: usize = 64;

#[inline(always)]
fn read_u64(addr: u64) -> u64 {
    // SAFETY: bpf_probe_read_user checks the address; a fault reads 0.
    unsafe { bpf_probe_read_user(addr as *const u64) }.unwrap_or(0)
}

/// Whether a frame running `code` is on the stack whose innermost frame is
/// `frame`. A BPF subprogram, not inlined: the verifier then walks the
/// unrolled search once and its two results, where inlined every one of
/// its 64 exits carried the rest of the program (watch verified in 29-35
/// ms instead of 86-106).
#[inline(never)]
fn on_stack(layout: &PyLayout, mut frame: u64, code: u64) -> bool {
    for _ in 0..HANDLER_SEARCH_FRAMES {
        if frame == 0 {
            return false;
        }
        if read_u64(frame + layout.frame_code as u64) & layout.code_ptr_mask == code {
            return true;
        }
        frame = read_u64(frame + layout.frame_previous as u64);
    }
    false
}

/// Keeps `refcnt` as the count of `code` in process `tgid`; returns the
/// count before it, or `None` when `code` is not watched (or the map is
/// full: counted lost).
#[inline(always)]
fn swap_count(code: u64, tgid: u32, refcnt: u64) -> Option<u64> {
    let key = HandlerKey {
        code,
        tgid,
        _pad: 0,
    };
    // A process forked with the watch (a pre-fork worker) has no count of
    // its own yet: it started from the watched process's.
    let base = HandlerKey {
        tgid: HANDLER_BASE,
        ..key
    };
    // SAFETY: map lookups; values are copied.
    let last = *(unsafe { HANDLER_REFCOUNTS.get(key) })
        .or_else(|| unsafe { HANDLER_REFCOUNTS.get(base) })?;
    if HANDLER_REFCOUNTS.insert(key, refcnt, 0).is_err() {
        maps::count_lost(maps::LOST_EVENTS);
        return None;
    }
    Some(last)
}

/// Copies the caller's file and qualified name into the event.
///
/// # Safety
/// `event` points to a reserved [`InvocationEvent`] whose `caller` is set.
#[inline(always)]
unsafe fn read_caller_names(layout: &PyLayout, event: *mut InvocationEvent) {
    // SAFETY: per the contract.
    unsafe {
        let code = (*event).caller.code_addr;
        pystack::read_code_str(
            layout,
            code,
            layout.code_filename,
            &mut (*event).caller_file,
        );
        pystack::read_code_str(
            layout,
            code,
            layout.code_name,
            &mut (*event).caller_qualname,
        );
    }
}

/// The watchpoint fired: the handler's code object's count was written.
#[perf_event]
pub fn coldspy_handler_watch(ctx: PerfEventContext) -> u32 {
    // A call's end is timed as early as the trap allows, its start as late
    // (below): the program's own work stays outside the span it marks.
    // SAFETY: a helper without arguments.
    let trapped_ns = unsafe { bpf_ktime_get_ns() };
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    let tid = pid_tgid as u32;
    let Some(cfg) = maps::python_target(tgid) else {
        return 0;
    };
    // SAFETY: the perf_event context; `addr` is the watched address.
    let code = unsafe { (*ctx.ctx).addr };
    // 3.12+ keep immortality in the high half: the count is the low half.
    let refcnt = read_u64(code) & 0xffff_ffff;
    let Some(last) = swap_count(code, tgid, refcnt) else {
        return 0;
    };
    if refcnt == last {
        return 0;
    }
    let frame = pystack::innermost_frame_addr(cfg, tid);
    let caller = pystack::raw_frame(&cfg.layout, frame);
    let Some(mut entry) = maps::EVENTS.reserve::<InvocationEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        return 0;
    };
    let event = entry.as_mut_ptr();
    let starts = refcnt > last;
    // SAFETY: reserved record of the right size; every field but the
    // caller's names and the time is written here, those after the search,
    // before the submit.
    unsafe {
        (*event).kind = if starts {
            EVENT_KIND_INVOCATION_START
        } else {
            EVENT_KIND_INVOCATION_END
        };
        (*event).pid = tgid;
        (*event).tid = tid;
        (*event)._pad = 0;
        (*event).code_addr = code;
        (*event).refcnt = refcnt;
        (*event).caller = caller;
    }
    if on_stack(&cfg.layout, frame, code) {
        entry.discard(0);
        return 0;
    }
    // SAFETY: as above; the caller's names, then the time, last.
    unsafe {
        read_caller_names(&cfg.layout, event);
        (*event).ktime_ns = if starts {
            bpf_ktime_get_ns()
        } else {
            trapped_ns
        };
    }
    entry.submit(maps::DATA_RING_SUBMIT);
    0
}
