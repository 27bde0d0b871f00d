//! The interpreter layout the kernel reads, filled by userspace per target.
//!
//! The kernel program knows nothing about CPython versions: it follows the
//! pointer chains and field offsets given here. Userspace fills them from a
//! per-version table, from DWARF, or from `_Py_DebugOffsets` (3.13+).

use crate::limits::MAX_CHAIN;

/// Marks an offset that does not exist in this interpreter.
pub const NO_OFFSET: u32 = u32::MAX;

/// A chain of pointer dereferences: start at an address, then for each step
/// add `offsets[i]` and read a pointer. `len` steps are used.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PtrChain {
    /// Byte offsets added before each dereference.
    pub offsets: [u32; MAX_CHAIN],
    /// How many of `offsets` are used.
    pub len: u32,
    /// Explicit padding.
    pub _pad: u32,
}

impl PtrChain {
    /// A chain of the given offsets (at most [`MAX_CHAIN`]).
    pub const fn new(steps: &[u32]) -> Self {
        let mut offsets = [0u32; MAX_CHAIN];
        let mut i = 0;
        while i < steps.len() && i < MAX_CHAIN {
            offsets[i] = steps[i];
            i += 1;
        }
        Self {
            offsets,
            len: i as u32,
            _pad: 0,
        }
    }
}

/// How to find and walk the Python stack of a thread of one interpreter.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PyLayout {
    /// From `_PyRuntime` to the `PyThreadState*` that holds (or last held) the GIL.
    pub runtime_to_gil_tstate: PtrChain,
    /// From a `PyThreadState*` to its innermost frame.
    pub tstate_to_frame: PtrChain,
    /// `PyThreadState.native_thread_id` (kernel tid), or [`NO_OFFSET`]
    /// (3.9, 3.10): then `tstate_thread_id` identifies the thread.
    pub tstate_native_thread_id: u32,
    /// `PyThreadState.thread_id` (`pthread_self()`, which is the thread's
    /// `fs` base on x86_64 glibc; compared with `task_struct->thread.fsbase`
    /// when there is no `native_thread_id`), or [`NO_OFFSET`].
    pub tstate_thread_id: u32,
    /// Frame: pointer to the calling frame (`f_back` / `previous`).
    pub frame_previous: u32,
    /// Frame: the code object (`f_code` / `f_executable`).
    pub frame_code: u32,
    /// Frame: the current instruction (`f_lasti` / `prev_instr` / `instr_ptr`).
    pub frame_instr: u32,
    /// Frame: the `owner` byte, or [`NO_OFFSET`] (3.9, 3.10).
    pub frame_owner: u32,
    /// Bit `n` set: skip frames whose `owner` is `n` (C-stack shims, 3.12+).
    pub skip_owner_mask: u32,
    /// Explicit padding.
    pub _pad: u32,
    /// Mask applied to the code pointer (3.14+ tags `_PyStackRef` low bits).
    pub code_ptr_mask: u64,
    /// `PyObject.ob_type` offset, to check that `frame_code` points at a code object.
    pub object_type: u32,
    /// Where a compact ASCII `str` keeps its characters (`sizeof(PyASCIIObject)`).
    pub unicode_ascii_data: u32,
    /// How the import probe names the method it filters on: [`IMPORT_NAME_UNICODE`]
    /// or [`IMPORT_NAME_IDENTIFIER`].
    pub import_name_kind: u32,
    /// For [`IMPORT_NAME_IDENTIFIER`]: offset of `string` in `_Py_Identifier`.
    pub identifier_string: u32,
    /// `co_filename`: first half of a code object's identity key.
    pub code_filename: u32,
    /// `co_qualname` (or `co_name`): second half of the identity key.
    pub code_name: u32,
    /// From `_PyRuntime` to the first `PyThreadState*` of the main
    /// interpreter (`interpreters.main->threads.head`): the thread list
    /// searched when the sampled thread is not the GIL holder.
    pub runtime_to_first_tstate: PtrChain,
    /// `PyThreadState.next`, or [`NO_OFFSET`] to search the GIL holder only.
    pub tstate_next: u32,
    /// Explicit padding.
    pub _pad2: u32,
}

/// The import probe's method-name argument is a `str` (3.11+:
/// `PyObject_CallMethodObjArgs(importlib, &_Py_ID(_find_and_load), name, …)`).
pub const IMPORT_NAME_UNICODE: u32 = 0;
/// The method-name argument is a `_Py_Identifier*` (3.9, 3.10:
/// `_PyObject_CallMethodIdObjArgs`).
pub const IMPORT_NAME_IDENTIFIER: u32 = 1;

/// Flag of [`TargetConfig::flags`]: `layout` and `runtime_addr` are valid,
/// the sampler may walk Python stacks of this process.
pub const TARGET_PYTHON_READY: u32 = 1 << 0;
/// Flag: stop this process (SIGSTOP) when it execs, so userspace can inspect
/// the new image before it runs; set while following a launched command.
pub const TARGET_STOP_ON_EXEC: u32 = 1 << 1;
/// Flag: add this process's children to the targets when it forks.
pub const TARGET_FOLLOW_CHILDREN: u32 = 1 << 2;
/// Flag: stop this process (SIGSTOP) at the entry uprobe, once the dynamic
/// loader has mapped libpython.
pub const TARGET_STOP_AT_ENTRY: u32 = 1 << 3;
/// `co_consts` in a code object on CPython 3.11+ (the first field after
/// `PyObject_VAR_HEAD`), where the handler watch runs.
pub const CODE_CONSTS_3_11: u64 = 24;
/// `ob_size` of a tuple (its item count).
pub const TUPLE_SIZE: u64 = 16;
/// `ob_item` of a tuple (its items, `PyObject*` each).
pub const TUPLE_ITEMS: u64 = 24;

/// Flag: a recognized FaaS runtime on CPython 3.11+, whose handler calls
/// may be watched: each module body also sends its constants
/// ([`crate::module_exec::ModuleConstsEvent`]).
pub const TARGET_WATCH_HANDLERS: u32 = 1 << 4;

/// One profiled process, the value of the `TARGETS` map (key: tgid).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetConfig {
    /// Address of `_PyRuntime` in the target.
    pub runtime_addr: u64,
    /// Address of the `PyCode_Type` object, or 0 to skip the type check.
    pub code_type_addr: u64,
    /// `TARGET_*` flags.
    pub flags: u32,
    /// Explicit padding.
    pub _pad: u32,
    /// How to walk this interpreter's frames.
    pub layout: PyLayout,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn sizes_are_pinned() {
        assert_eq!(size_of::<PtrChain>(), 24);
        assert_eq!(
            size_of::<PyLayout>(),
            24 * 2 + 4 * 8 + 8 + 4 * 6 + 24 + 4 * 2
        );
        assert_eq!(offset_of!(PyLayout, code_ptr_mask), 80);
        assert_eq!(offset_of!(PyLayout, identifier_string), 100);
        assert_eq!(offset_of!(PyLayout, runtime_to_first_tstate), 112);
        assert_eq!(offset_of!(PyLayout, tstate_next), 136);
        assert_eq!(size_of::<TargetConfig>(), 24 + size_of::<PyLayout>());
        assert_eq!(offset_of!(TargetConfig, layout), 24);
    }

    #[test]
    fn chain_keeps_given_steps() {
        let c = PtrChain::new(&[8, 16]);
        assert_eq!(c.len, 2);
        assert_eq!(&c.offsets[..2], &[8, 16]);
    }
}
