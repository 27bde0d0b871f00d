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
    /// The executable path for an exec, NUL-terminated.
    pub path: [u8; MAX_PATH_BYTES],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn sizes_are_pinned() {
        assert_eq!(offset_of!(LifecycleEvent, path), 24);
        assert_eq!(size_of::<LifecycleEvent>(), 24 + MAX_PATH_BYTES);
    }
}
