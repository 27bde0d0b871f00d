//! Process lifecycle: follow forks, stop a target when it execs or reaches
//! its entry point (so userspace can find the interpreter before any Python
//! runs), and report exits.

use crate::system_wide::{self, Decision};
use crate::{globals, maps};
use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_kernel_str_bytes,
        generated::{bpf_get_current_cgroup_id, bpf_send_signal},
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
    system_wide::{ExeKey, COUNT_UNHELD},
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
        fill(event, kind, pid, stopped);
        (*event).other_pid = other_pid;
    }
    entry.submit(0);
    Some(event)
}

/// Fills the common fields of a reserved lifecycle record.
///
/// # Safety
/// `event` must point at a reserved record.
#[inline(always)]
unsafe fn fill(event: *mut LifecycleEvent, kind: u32, pid: u32, stopped: bool) {
    // SAFETY: per the contract.
    unsafe {
        (*event).kind = kind;
        (*event).pid = pid;
        (*event).other_pid = 0;
        (*event).stopped = stopped as u32;
        (*event).ktime_ns = bpf_ktime_get_ns();
        (*event).cgroup_id = bpf_get_current_cgroup_id();
        (*event).exe = ExeKey::default();
        (*event).was_target = 0;
        (*event)._pad = 0;
        (*event).path[0] = 0;
    }
}

/// Copies the exec'd file name from the tracepoint record into `event`.
///
/// # Safety
/// `event` must point at a reserved record; `ctx` is a `sched_process_exec` context.
#[inline(always)]
unsafe fn copy_exec_path(ctx: &TracePointContext, event: *mut LifecycleEvent) {
    // SAFETY: the data_loc points inside the tracepoint record.
    unsafe {
        let loc = ctx
            .read_at::<u32>(globals::exec_filename_loc_offset())
            .unwrap_or(0);
        let src = (ctx.as_ptr() as *const u8).add((loc & 0xffff) as usize);
        let path = &mut (*event).path;
        if bpf_probe_read_kernel_str_bytes(src, path).is_err() {
            path[0] = 0;
        }
    }
}

/// A process called `execve`. A target's old layout is gone; it is stopped
/// if asked. Under `record --all`, every process is considered.
#[tracepoint]
pub fn coldspy_exec(ctx: TracePointContext) -> u32 {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    if globals::system_wide() {
        return exec_system_wide(&ctx, tgid);
    }
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
    // SAFETY: reserved record.
    unsafe {
        fill(event, EVENT_KIND_EXEC, tgid, stop);
        copy_exec_path(&ctx, event);
    }
    entry.submit(0);
    0
}

/// `record --all`: any process exec'd. A former target's profile ends; the
/// new image is held (or armed for its entry stop) when the daemon wants it.
fn exec_system_wide(ctx: &TracePointContext, tgid: u32) -> u32 {
    if tgid == globals::self_tgid() {
        return 0;
    }
    let was_target = maps::current_target(tgid).is_some();
    if was_target {
        let _ = maps::TARGETS.remove(tgid);
    }
    let (key, stop) = match system_wide::decide(tgid) {
        Decision::Ignore if !was_target => return 0,
        Decision::Ignore => (ExeKey::default(), false),
        Decision::Hold(key) => (key, true),
        Decision::ArmEntry(key) => (key, false),
    };
    // Reserve first: a process is held only if the daemon will hear of it.
    let Some(mut entry) = maps::CONTROL.reserve::<LifecycleEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        maps::count_system(COUNT_UNHELD);
        let _ = maps::TARGETS.remove(tgid);
        return 0;
    };
    if stop {
        // SAFETY: signals the current task; it stops before running user code.
        unsafe { bpf_send_signal(SIGSTOP) };
        system_wide::mark_held(tgid);
    }
    let event = entry.as_mut_ptr();
    // SAFETY: reserved record.
    unsafe {
        fill(event, EVENT_KIND_EXEC, tgid, stop);
        (*event).exe = key;
        (*event).was_target = was_target as u32;
        copy_exec_path(ctx, event);
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
    } else if globals::system_wide() {
        // Killed while held: nothing is left to resume.
        let _ = maps::HELD.remove(tgid);
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
    // SAFETY: as above.
    unsafe { (*cfg).flags = flags & !TARGET_STOP_AT_ENTRY };
    // A dead daemon holds nothing: its process runs on unprofiled.
    if globals::system_wide() && !system_wide::heartbeat_fresh() {
        maps::count_system(COUNT_UNHELD);
        return 0;
    }
    // SAFETY: signals the current task.
    unsafe { bpf_send_signal(SIGSTOP) };
    if globals::system_wide() {
        system_wide::mark_held(tgid);
    }
    emit(EVENT_KIND_ENTRY, tgid, 0, true);
    0
}
