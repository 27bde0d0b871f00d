//! `record --all`: the exec hook's decision for a process that is not a
//! target yet — go on, hold it for the daemon, or arm its entry stop.

use crate::{globals, maps};
use aya_ebpf::helpers::{
    bpf_ktime_get_ns, bpf_probe_read_kernel,
    generated::{bpf_get_current_ancestor_cgroup_id, bpf_get_current_task},
};
use coldspy_common::{
    offsets::{TargetConfig, TARGET_FOLLOW_CHILDREN, TARGET_STOP_AT_ENTRY},
    system_wide::{
        ExeKey, COUNT_EXECS, COUNT_HELD, COUNT_NOT_PYTHON, COUNT_OUTSIDE_CGROUP, COUNT_UNHELD,
        EXE_NOT_PYTHON, EXE_SHARED_PYTHON, HOLD_FRESH_NS, MAX_CGROUP_LEVELS,
    },
};

/// What the exec hook does with a process under `record --all`.
pub enum Decision {
    /// Nothing: outside the filter, not Python, or the daemon is not alive.
    Ignore,
    /// Stop it now and report it.
    Hold(ExeKey),
    /// Report it; the entry probe stops it later (a known shared build).
    ArmEntry(ExeKey),
}

/// Decides for the current process (tgid `tgid`), which just exec'd.
#[inline(always)]
pub fn decide(tgid: u32) -> Decision {
    maps::count_system(COUNT_EXECS);
    if !in_cgroup_filter() {
        maps::count_system(COUNT_OUTSIDE_CGROUP);
        return Decision::Ignore;
    }
    let Some(key) = exe_key() else {
        return Decision::Ignore;
    };
    // SAFETY: map lookup by value.
    let verdict = unsafe { maps::EXE_VERDICTS.get(key) }.copied().unwrap_or(0);
    if verdict == EXE_NOT_PYTHON {
        maps::count_system(COUNT_NOT_PYTHON);
        return Decision::Ignore;
    }
    if !heartbeat_fresh() {
        maps::count_system(COUNT_UNHELD);
        return Decision::Ignore;
    }
    if verdict == EXE_SHARED_PYTHON {
        let config = TargetConfig {
            flags: TARGET_STOP_AT_ENTRY | TARGET_FOLLOW_CHILDREN,
            ..TargetConfig::default()
        };
        if maps::TARGETS.insert(tgid, config, 0).is_err() {
            maps::count_system(COUNT_UNHELD);
            return Decision::Ignore;
        }
        maps::count_system(COUNT_HELD);
        return Decision::ArmEntry(key);
    }
    maps::count_system(COUNT_HELD);
    Decision::Hold(key)
}

/// Records that `tgid` is stopped, for the daemon and its guardian.
#[inline(always)]
pub fn mark_held(tgid: u32) {
    // SAFETY: helper call with no arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    let _ = maps::HELD.insert(tgid, now, 0);
}

/// Whether the daemon refreshed its heartbeat recently.
#[inline(always)]
pub fn heartbeat_fresh() -> bool {
    let Some(beat) = maps::HEARTBEAT.get(0) else {
        return false;
    };
    let beat = *beat;
    // SAFETY: helper call with no arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    beat != 0 && now.saturating_sub(beat) < HOLD_FRESH_NS
}

/// Whether the current task is inside one of the `--cgroup` subtrees (or
/// there is no filter).
#[inline(always)]
fn in_cgroup_filter() -> bool {
    if !globals::cgroup_filter() {
        return true;
    }
    for level in 0..MAX_CGROUP_LEVELS {
        // SAFETY: helper call; returns 0 past the task's own level.
        let id = unsafe { bpf_get_current_ancestor_cgroup_id(level) };
        if id == 0 {
            return false;
        }
        // SAFETY: map lookup by value.
        if unsafe { maps::CGROUP_ALLOW.get(id) }.is_some() {
            return true;
        }
    }
    false
}

/// `(s_dev, i_ino)` of the current task's executable, through the chain
/// of offsets userspace read from BTF.
#[inline(always)]
fn exe_key() -> Option<ExeKey> {
    // SAFETY: every read below is a bpf_probe_read_kernel of a kernel
    // pointer chain; a bad pointer makes the read fail, not fault.
    unsafe {
        let task = bpf_get_current_task() as *const u8;
        let mm: *const u8 = read_ptr(task, globals::exe_chain(0))?;
        let file: *const u8 = read_ptr(mm, globals::exe_chain(1))?;
        let inode: *const u8 = read_ptr(file, globals::exe_chain(2))?;
        let ino: u64 =
            bpf_probe_read_kernel(inode.add(globals::exe_chain(3)) as *const u64).ok()?;
        let sb: *const u8 = read_ptr(inode, globals::exe_chain(4))?;
        let dev: u32 = bpf_probe_read_kernel(sb.add(globals::exe_chain(5)) as *const u32).ok()?;
        Some(ExeKey {
            dev: dev as u64,
            ino,
        })
    }
}

/// Reads the pointer at `base + offset`; `None` if unreadable or null.
#[inline(always)]
unsafe fn read_ptr(base: *const u8, offset: usize) -> Option<*const u8> {
    if base.is_null() || offset == u32::MAX as usize {
        return None;
    }
    // SAFETY: a probe read (see the caller).
    let ptr: *const u8 =
        unsafe { bpf_probe_read_kernel(base.add(offset) as *const *const u8) }.ok()?;
    (!ptr.is_null()).then_some(ptr)
}
