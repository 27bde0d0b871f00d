//! Start and end of a module's top-level code, from the probe on
//! `PyEval_EvalCode`: every loader runs a module's body through it (the
//! import statement's, `importlib.import_module`'s, `exec_module`'s,
//! `runpy`'s), so imports that bypass the import statement are seen too.

use crate::limits::MAX_PATH_BYTES;
use crate::sample::RawFrame;

/// Kind tag of a module body's start in the `EVENTS` ring buffer.
pub const EVENT_KIND_MODULE_EXEC_START: u32 = 4;
/// Kind tag of a module body's end.
pub const EVENT_KIND_MODULE_EXEC_END: u32 = 5;
/// Python frames kept with a start, innermost first: the frames that asked
/// for the module (through importlib's machinery, ~8 frames deep).
pub const MODULE_EXEC_CALLERS: usize = 16;

/// One edge of a module body's execution on one thread.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ModuleExecEvent {
    /// [`EVENT_KIND_MODULE_EXEC_START`] or [`EVENT_KIND_MODULE_EXEC_END`].
    pub kind: u32,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Nesting depth of module bodies on this thread (0 = outermost).
    pub depth: u32,
    /// `bpf_ktime_get_ns()` at the edge.
    pub ktime_ns: u64,
    /// Start edges: the code object run (`PyCodeObject*`).
    pub code_addr: u64,
    /// Start edges: the length in bytes of its `co_filename`; when it is
    /// longer than [`MAX_PATH_BYTES`] - 1, `path` holds its end.
    pub path_len: u32,
    /// Start edges: slots of `callers` used.
    pub caller_count: u32,
    /// Start edges: the calling frames, innermost first; slots with
    /// `code_addr == 0` are frames skipped (C-stack shims).
    pub callers: [RawFrame; MODULE_EXEC_CALLERS],
    /// Start edges: `co_filename` (ASCII only), NUL-terminated.
    pub path: [u8; MAX_PATH_BYTES],
}

/// Kind tag of a module body's constants (see [`ModuleConstsEvent`]).
pub const EVENT_KIND_MODULE_CONSTS: u32 = 9;
/// Constants kept of a module body (its first ones).
pub const MODULE_CONSTS_MAX: usize = 63;

/// The first items of a module body's `co_consts`, sent right after its
/// start for targets flagged `TARGET_WATCH_HANDLERS`: the code objects of
/// the module's top-level functions are among them and outlive the
/// module's own code object, which is freed once the body ran (often before
/// userspace reads the start).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ModuleConstsEvent {
    /// [`EVENT_KIND_MODULE_CONSTS`].
    pub kind: u32,
    /// Process id (tgid).
    pub pid: u32,
    /// The module's code object (`PyCodeObject*`), as in its start.
    pub module_code: u64,
    /// Items of `items` read (0 when the tuple was unreadable).
    pub count: u32,
    /// Explicit padding.
    pub _pad: u32,
    /// The constants (`PyObject*`), in order.
    pub items: [u64; MODULE_CONSTS_MAX],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn sizes_are_pinned() {
        assert_eq!(size_of::<ModuleConstsEvent>(), 24 + 8 * MODULE_CONSTS_MAX);
        assert_eq!(offset_of!(ModuleExecEvent, code_addr), 24);
        assert_eq!(offset_of!(ModuleExecEvent, callers), 40);
        assert_eq!(
            offset_of!(ModuleExecEvent, path),
            40 + 24 * MODULE_EXEC_CALLERS
        );
        assert_eq!(
            size_of::<ModuleExecEvent>(),
            40 + 24 * MODULE_EXEC_CALLERS + MAX_PATH_BYTES
        );
    }
}
