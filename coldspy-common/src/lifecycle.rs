//! Process lifecycle events: exec, fork, exit and the entry stop.

use crate::limits::MAX_PATH_BYTES;

/// A target process called `execve`; it is stopped if it had
/// [`crate::offsets::TARGET_STOP_ON_EXEC`].
pub const EVENT_KIND_EXEC: u32 = 10;
/// A target process forked; `other_pid` is the child.
pub const EVENT_KIND_FORK: u32 = 11;
/// A target process exited (its last thread).
pub const EVENT_KIND_EXIT: u32 = 12;
/// A target reached the entry point of its executable and was stopped.
pub const EVENT_KIND_ENTRY: u32 = 13;

/// A lifecycle event in the `CONTROL` ring buffer (its own ring, so that
/// userspace can wait on it alone and resume a stopped target at once).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LifecycleEvent {
    /// One of the `EVENT_KIND_*` lifecycle kinds.
    pub kind: u32,
    /// Process id (tgid).
    pub pid: u32,
    /// The child for a fork, 0 otherwise.
    pub other_pid: u32,
    /// 1 if the process was stopped and waits for SIGCONT.
    pub stopped: u32,
    /// `bpf_ktime_get_ns()` at the event.
    pub ktime_ns: u64,
    /// `bpf_get_current_cgroup_id()` (the cgroup v2 id) at the event.
    pub cgroup_id: u64,
    /// For an exec under `record --all`: the new executable's identity,
    /// the key of the daemon's verdict on it (zero otherwise).
    pub exe: crate::system_wide::ExeKey,
    /// For an exec under `record --all`: 1 if the process was a target
    /// before (its old image, and its profile, ended).
    pub was_target: u32,
    /// Explicit padding.
    pub _pad: u32,
    /// The executable path for an exec, NUL-terminated.
    pub path: [u8; MAX_PATH_BYTES],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn sizes_are_pinned() {
        assert_eq!(offset_of!(LifecycleEvent, cgroup_id), 24);
        assert_eq!(offset_of!(LifecycleEvent, exe), 32);
        assert_eq!(offset_of!(LifecycleEvent, path), 56);
        assert_eq!(size_of::<LifecycleEvent>(), 56 + MAX_PATH_BYTES);
    }
}
