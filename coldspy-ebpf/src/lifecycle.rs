//! Process lifecycle: follow forks, stop a target when it execs or reaches
//! its entry point (so userspace can find the interpreter before any Python
//! runs), and report exits.

use crate::{globals, maps};
use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_kernel_str_bytes,
        generated::bpf_send_signal,
    },
    macros::{tracepoint, uprobe},
    programs::{ProbeContext, TracePointContext},
    EbpfContext,
};
use coldspy_common::{
    lifecycle::{
        LifecycleEvent, EVENT_KIND_ENTRY, EVENT_KIND_EXEC, EVENT_KIND_EXIT, EVENT_KIND_FORK,
    },
    offsets::{
        TARGET_FOLLOW_CHILDREN, TARGET_PYTHON_READY, TARGET_STOP_AT_ENTRY, TARGET_STOP_ON_EXEC,
    },
};

const SIGSTOP: u32 = 19;

fn emit(kind: u32, pid: u32, other_pid: u32, stopped: bool) -> Option<*mut LifecycleEvent> {
    let Some(entry) = maps::CONTROL.reserve::<LifecycleEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        return None;
    };
    let mut entry = entry;
    let event = entry.as_mut_ptr();
    // SAFETY: reserved record of the right size.
    unsafe {
        (*event).kind = kind;
        (*event).pid = pid;
        (*event).other_pid = other_pid;
        (*event).stopped = stopped as u32;
        (*event).ktime_ns = bpf_ktime_get_ns();
        (*event).path[0] = 0;
    }
    entry.submit(0);
    Some(event)
}

/// A target called `execve`: its old layout is gone; stop it if asked.
#[tracepoint]
pub fn coldspy_exec(ctx: TracePointContext) -> u32 {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let Some(cfg) = maps::current_target(tgid) else {
        return 0;
    };
    // SAFETY: map value pointer valid for this run.
    let flags = unsafe { (*cfg).flags };
    let stop = flags & TARGET_STOP_ON_EXEC != 0;
    // SAFETY: as above.
    unsafe { (*cfg).flags = flags & !TARGET_PYTHON_READY };
    if stop {
        // SAFETY: signals the current task; it stops before running user code.
        unsafe { bpf_send_signal(SIGSTOP) };
    }
    let Some(mut entry) = maps::CONTROL.reserve::<LifecycleEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        return 0;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: reserved record; the data_loc points inside the tracepoint record.
    unsafe {
        (*event).kind = EVENT_KIND_EXEC;
        (*event).pid = tgid;
        (*event).other_pid = 0;
        (*event).stopped = stop as u32;
        (*event).ktime_ns = bpf_ktime_get_ns();
        let loc = ctx
            .read_at::<u32>(globals::exec_filename_loc_offset())
            .unwrap_or(0);
        let src = (ctx.as_ptr() as *const u8).add((loc & 0xffff) as usize);
        let path = &mut (*event).path;
        if bpf_probe_read_kernel_str_bytes(src, path).is_err() {
            path[0] = 0;
        }
    }
    entry.submit(0);
    0
}

/// A target forked: the child becomes a target with the same layout.
#[tracepoint]
pub fn coldspy_fork(ctx: TracePointContext) -> u32 {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let Some(cfg) = maps::current_target(tgid) else {
        return 0;
    };
    // SAFETY: map value pointer valid for this run.
    let cfg = unsafe { *cfg };
    if cfg.flags & TARGET_FOLLOW_CHILDREN == 0 {
        return 0;
    }
    // SAFETY: offset read from the tracepoint format by userspace.
    let Ok(child) = (unsafe { ctx.read_at::<u32>(globals::fork_child_pid_offset() as usize) })
    else {
        return 0;
    };
    // Threads also pass here; their entries are keyed by tid, never looked
    // up as a tgid, and removed when they exit.
    let _ = maps::TARGETS.insert(child, cfg, 0);
    emit(EVENT_KIND_FORK, tgid, child, false);
    0
}

/// A target thread exited; the last one ends the process.
#[tracepoint]
pub fn coldspy_exit(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    let tid = pid_tgid as u32;
    if tid != tgid {
        let _ = maps::TARGETS.remove(tid);
    }
    if maps::current_target(tgid).is_none() {
        return 0;
    }
    let offset = globals::exit_group_dead_offset();
    let group_dead = if offset == u32::MAX {
        tid == tgid
    } else {
        // SAFETY: offset read from the tracepoint format by userspace.
        unsafe { ctx.read_at::<u8>(offset as usize) }.unwrap_or(0) != 0
    };
    if group_dead {
        let _ = maps::TARGETS.remove(tgid);
        emit(EVENT_KIND_EXIT, tgid, 0, false);
    }
    0
}

/// Attached at the entry point of an interpreter executable: the dynamic
/// loader has mapped libpython; stop so userspace can read its layout.
#[uprobe]
pub fn coldspy_entry(_ctx: ProbeContext) -> u32 {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let Some(cfg) = maps::current_target(tgid) else {
        return 0;
    };
    // SAFETY: map value pointer valid for this run.
    let flags = unsafe { (*cfg).flags };
    if flags & TARGET_STOP_AT_ENTRY == 0 {
        return 0;
    }
    // SAFETY: as above; then signal the current task.
    unsafe {
        (*cfg).flags = flags & !TARGET_STOP_AT_ENTRY;
        bpf_send_signal(SIGSTOP);
    }
    emit(EVENT_KIND_ENTRY, tgid, 0, true);
    0
}
