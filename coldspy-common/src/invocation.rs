//! Calls of a FaaS runtime's handler function, seen by a hardware watchpoint
//! on the reference count of the handler's code object: every call of a
//! Python function takes a reference to its code object when its frame is
//! made (CPython 3.11+) and drops it when the frame goes, so the watchpoint
//! fires at each call's start and end without any change to the program.

/// Kind tag of a handler call's start in the `EVENTS` ring buffer.
pub const EVENT_KIND_INVOCATION_START: u32 = 6;
/// Kind tag of a handler call's end.
pub const EVENT_KIND_INVOCATION_END: u32 = 7;

use crate::limits::MAX_PATH_BYTES;

/// A key of `HANDLER_REFCOUNTS`: a watched code object's count is kept per
/// process, since the workers of a pre-fork server hold copies of it at the
/// same address, each with a count of its own.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HandlerKey {
    /// The handler's code object (`PyCodeObject*`).
    pub code: u64,
    /// The process (tgid); [`HANDLER_BASE`] for the count when the watch
    /// was set, the first count of a process forked with the watch.
    pub tgid: u32,
    /// Explicit padding.
    pub _pad: u32,
}

/// [`HandlerKey::tgid`] of the count a forked process starts from.
pub const HANDLER_BASE: u32 = 0;

/// One edge of a handler call on one thread.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct InvocationEvent {
    /// [`EVENT_KIND_INVOCATION_START`] or [`EVENT_KIND_INVOCATION_END`].
    pub kind: u32,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Explicit padding.
    pub _pad: u32,
    /// `bpf_ktime_get_ns()` at the edge.
    pub ktime_ns: u64,
    /// The handler's code object (`PyCodeObject*`).
    pub code_addr: u64,
    /// Its reference count after the write that fired the watchpoint.
    pub refcnt: u64,
    /// The innermost Python frame at the edge: the runtime's frame that
    /// calls the handler.
    pub caller: crate::sample::RawFrame,
    /// The caller's `co_filename` (its end when longer), NUL-terminated,
    /// read at the edge: a worker that ends before userspace reads the
    /// event can no longer be read.
    pub caller_file: [u8; MAX_PATH_BYTES],
    /// The caller's qualified name (`co_qualname`: the watch runs on
    /// CPython 3.11+), NUL-terminated (its end when longer).
    pub caller_qualname: [u8; MAX_FUNCTION_BYTES],
}

/// Bytes kept of the caller's qualified name.
pub const MAX_FUNCTION_BYTES: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn size_is_pinned() {
        assert_eq!(size_of::<InvocationEvent>(), 64 + 256 + 64);
        assert_eq!(size_of::<HandlerKey>(), 16);
    }
}
