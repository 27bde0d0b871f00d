//! Start and end of a module import, from the import-path probes.

use crate::limits::MAX_MODULE_NAME_BYTES;
use crate::sample::RawFrame;

/// Kind tag of an import start in the `EVENTS` ring buffer.
pub const EVENT_KIND_IMPORT_START: u32 = 2;
/// Kind tag of an import end.
pub const EVENT_KIND_IMPORT_END: u32 = 3;

/// One edge of a module import on one thread.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ImportEvent {
    /// [`EVENT_KIND_IMPORT_START`] or [`EVENT_KIND_IMPORT_END`].
    pub kind: u32,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Nesting depth on this thread (0 = outermost import).
    pub depth: u32,
    /// `bpf_ktime_get_ns()` at the edge.
    pub ktime_ns: u64,
    /// End edges: the call's return value (0 = the import raised).
    pub result: u64,
    /// Start edges: the innermost Python frame (the import statement).
    pub site: RawFrame,
    /// Start edges: the absolute module name, NUL-terminated.
    pub name: [u8; MAX_MODULE_NAME_BYTES],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn sizes_are_pinned() {
        assert_eq!(offset_of!(ImportEvent, site), 32);
        assert_eq!(offset_of!(ImportEvent, name), 56);
        assert_eq!(size_of::<ImportEvent>(), 56 + MAX_MODULE_NAME_BYTES);
    }
}
