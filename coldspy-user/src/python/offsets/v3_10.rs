//! CPython 3.10: `PyFrameObject` reached through `tstate->frame`, linked by
//! `f_back`; `f_lasti` counts 2-byte code units, lines come from
//! `co_linetable` (PEP 626). The GIL holder is `_PyRuntime.gilstate.tstate_current`.
//! There is no `native_thread_id`: threads are told apart by `thread_id`
//! (`pthread_self()`). Offsets read from the DWARF of a 3.10.13 build (x86_64).

use super::{CodeLayout, InstrKind, LineTableFormat, StringLayout, VersionLayout};
use coldspy_common::offsets::{PtrChain, PyLayout, IMPORT_NAME_IDENTIFIER, NO_OFFSET};

/// The 3.10 layout.
pub(super) const LAYOUT: VersionLayout = VersionLayout {
    kernel: PyLayout {
        // _PyRuntime.gilstate.tstate_current
        runtime_to_gil_tstate: PtrChain::new(&[568]),
        // tstate->frame
        tstate_to_frame: PtrChain::new(&[24]),
        tstate_native_thread_id: NO_OFFSET,
        tstate_thread_id: 176,
        frame_previous: 24,
        frame_code: 32,
        frame_instr: 96,
        frame_owner: NO_OFFSET,
        skip_owner_mask: 0,
        _pad: 0,
        code_ptr_mask: u64::MAX,
        object_type: 8,
        unicode_ascii_data: 48,
        // _PyObject_CallMethodIdObjArgs(importlib, &PyId__find_and_load, …);
        // _Py_Identifier is { string, index }.
        import_name_kind: IMPORT_NAME_IDENTIFIER,
        identifier_string: 0,
        code_filename: 104,
        code_name: 112,
        // interpreters.main->tstate_head
        runtime_to_first_tstate: PtrChain::new(&[40, 8]),
        tstate_next: 8,
        _pad2: 0,
    },
    code: CodeLayout {
        filename: 104,
        name: 112,
        qualname: u32::MAX,
        firstlineno: 40,
        linetable: 120,
        code_adaptive: 0,
    },
    strings: StringLayout {
        ascii_size: 48,
        compact_size: 72,
        state: 32,
        length: 16,
        bytes_data: 32,
    },
    instr: InstrKind::LastiUnits,
    linetable: LineTableFormat::Pep626,
};
