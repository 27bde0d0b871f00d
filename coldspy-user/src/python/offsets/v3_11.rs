//! CPython 3.11: `_PyInterpreterFrame` reached through `tstate->cframe`;
//! the GIL holder is `_PyRuntime.gilstate.tstate_current`.
//! Offsets read from the DWARF of a 3.11.7 build (x86_64).

use super::{CodeLayout, InstrKind, LineTableFormat, StringLayout, VersionLayout};
use coldspy_common::offsets::{PtrChain, PyLayout, IMPORT_NAME_UNICODE};

/// The 3.11 layout.
pub(super) const LAYOUT: VersionLayout = VersionLayout {
    kernel: PyLayout {
        // _PyRuntime.gilstate.tstate_current
        runtime_to_gil_tstate: PtrChain::new(&[576]),
        // tstate->cframe->current_frame
        tstate_to_frame: PtrChain::new(&[56, 8]),
        tstate_native_thread_id: 160,
        tstate_thread_id: 152,
        frame_previous: 48,
        frame_code: 32,
        frame_instr: 56,
        frame_owner: 69,
        // No C-stack shim frames in 3.11.
        skip_owner_mask: 0,
        _pad: 0,
        code_ptr_mask: u64::MAX,
        object_type: 8,
        unicode_ascii_data: 48,
        import_name_kind: IMPORT_NAME_UNICODE,
        identifier_string: 0,
        code_filename: 112,
        code_name: 128,
        // interpreters.main->threads.head
        runtime_to_first_tstate: PtrChain::new(&[48, 16]),
        tstate_next: 8,
        _pad2: 0,
    },
    code: CodeLayout {
        filename: 112,
        name: 120,
        qualname: 128,
        firstlineno: 72,
        linetable: 136,
        code_adaptive: 184,
    },
    strings: StringLayout {
        ascii_size: 48,
        compact_size: 72,
        state: 32,
        length: 16,
        bytes_data: 32,
    },
    instr: InstrKind::Pointer,
    linetable: LineTableFormat::Locations,
};
