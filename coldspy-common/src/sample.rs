//! One CPU sample of a Python thread, as the perf_event program emits it.

use crate::limits::MAX_FRAMES;

/// The stack had more than [`MAX_FRAMES`] frames; the outermost were cut.
pub const SAMPLE_TRUNCATED: u32 = 1 << 0;
/// The thread held no Python thread state (native code without the GIL,
/// interpreter start or shutdown): counted as a native/idle sample.
pub const SAMPLE_NO_PYTHON: u32 = 1 << 1;
/// Reading the target's memory failed part-way; the frames read are kept.
pub const SAMPLE_READ_ERROR: u32 = 1 << 2;
/// The process had no Python layout yet (before the interpreter was found).
pub const SAMPLE_NOT_READY: u32 = 1 << 3;

/// One frame as read in the kernel: raw addresses, symbolized in userspace.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawFrame {
    /// Address of the code object (`PyCodeObject*`).
    pub code_addr: u64,
    /// The raw instruction field: `f_lasti` (3.9, 3.10) or an instruction
    /// pointer into the code object's bytecode (3.11+).
    pub instr: u64,
    /// Identity of the code object at sample time (its `co_filename` and
    /// `co_qualname` pointers, see [`code_key`]): a code object freed and
    /// replaced at the same address before userspace reads it is detected.
    pub code_key: u64,
}

/// Combines the two identity pointers of a code object into one key.
#[inline(always)]
pub fn code_key(filename_ptr: u64, name_ptr: u64) -> u64 {
    filename_ptr ^ name_ptr.rotate_left(1)
}

/// A sample record in the `SAMPLES` ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SampleEvent {
    /// `bpf_ktime_get_ns()` at the sample.
    pub ktime_ns: u64,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id (kernel tid).
    pub tid: u32,
    /// CPU the sample fired on.
    pub cpu: u32,
    /// `SAMPLE_*` flags.
    pub flags: u32,
    /// Frames filled in `frames`, innermost first.
    pub depth: u32,
    /// Explicit padding.
    pub _pad: u32,
    /// The thread's user-space instruction pointer at the sample (the
    /// interrupted one, or where it entered the kernel): which native
    /// library it was running, e.g. an extension module; 0 if unknown.
    pub user_ip: u64,
    /// The stack, innermost frame first.
    pub frames: [RawFrame; MAX_FRAMES],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn sizes_are_pinned() {
        assert_eq!(size_of::<RawFrame>(), 24);
        assert_eq!(offset_of!(SampleEvent, user_ip), 32);
        assert_eq!(offset_of!(SampleEvent, frames), 40);
        assert_eq!(size_of::<SampleEvent>(), 40 + 24 * MAX_FRAMES);
    }
}
