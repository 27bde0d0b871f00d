//! File opens of target threads: `sys_enter_openat` remembers path and time,
//! `sys_exit_openat` emits the finished call.

use crate::globals;
use crate::maps::{self, InflightOpen, INFLIGHT_OPENS};
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_user_str_bytes},
    macros::tracepoint,
    programs::TracePointContext,
};
use coldspy_common::open_event::{OpenEvent, EVENT_KIND_OPEN};

/// Remembers an `openat` of a target thread.
#[tracepoint]
pub fn coldspy_openat_enter(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if maps::current_target(tgid).is_none() {
        return 0;
    }
    // SAFETY: offset read from the tracepoint format by userspace.
    let Ok(path_ptr) = (unsafe { ctx.read_at::<u64>(globals::openat_filename_offset()) }) else {
        return 0;
    };
    let inflight = InflightOpen {
        // SAFETY: no preconditions.
        enter_ns: unsafe { bpf_ktime_get_ns() },
        path_ptr,
    };
    let _ = INFLIGHT_OPENS.insert(pid_tgid as u32, inflight, 0);
    0
}

/// Emits a finished `openat` of a target thread.
#[tracepoint]
pub fn coldspy_openat_exit(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    // SAFETY: the value is copied out before the entry is removed.
    let Some(inflight) = (unsafe { INFLIGHT_OPENS.get(tid) }).copied() else {
        return 0;
    };
    let _ = INFLIGHT_OPENS.remove(tid);
    let Some(mut entry) = maps::EVENTS.reserve::<OpenEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        return 0;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` points at a reserved record; offsets from the format.
    unsafe {
        (*event).kind = EVENT_KIND_OPEN;
        (*event).pid = (pid_tgid >> 32) as u32;
        (*event).tid = tid;
        (*event)._pad = 0;
        (*event).enter_ns = inflight.enter_ns;
        (*event).exit_ns = bpf_ktime_get_ns();
        (*event).ret = ctx
            .read_at::<i64>(globals::openat_ret_offset())
            .unwrap_or(0);
        let path = &mut (*event).path;
        if bpf_probe_read_user_str_bytes(inflight.path_ptr as *const u8, path).is_err() {
            path[0] = 0;
        }
    }
    entry.submit(maps::DATA_RING_SUBMIT);
    0
}
