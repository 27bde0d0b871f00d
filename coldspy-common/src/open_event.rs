//! A finished `openat` call of a target thread.

use crate::limits::MAX_PATH_BYTES;

/// Kind tag of [`OpenEvent`] in the `EVENTS` ring buffer.
pub const EVENT_KIND_OPEN: u32 = 1;

/// An `openat` call: path, result and duration.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OpenEvent {
    /// Always [`EVENT_KIND_OPEN`].
    pub kind: u32,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Explicit padding.
    pub _pad: u32,
    /// `bpf_ktime_get_ns()` at syscall entry.
    pub enter_ns: u64,
    /// `bpf_ktime_get_ns()` at syscall exit.
    pub exit_ns: u64,
    /// The syscall's return value: a file descriptor, or `-errno`.
    pub ret: i64,
    /// The path, NUL-terminated (truncated to [`MAX_PATH_BYTES`]).
    pub path: [u8; MAX_PATH_BYTES],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn sizes_are_pinned() {
        assert_eq!(offset_of!(OpenEvent, enter_ns), 16);
        assert_eq!(offset_of!(OpenEvent, path), 40);
        assert_eq!(size_of::<OpenEvent>(), 40 + MAX_PATH_BYTES);
    }
}
