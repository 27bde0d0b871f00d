//! CPython 3.12: like 3.11, but the GIL moved into the interpreter
//! (`interp->ceval.gil->last_holder`) and C-stack shim frames appear
//! (`owner == FRAME_OWNED_BY_CSTACK`). Offsets from a 3.12.1 build (x86_64).

use super::{CodeLayout, InstrKind, LineTableFormat, StringLayout, VersionLayout};
use coldspy_common::offsets::{PtrChain, PyLayout, IMPORT_NAME_UNICODE};

/// `FRAME_OWNED_BY_CSTACK` in 3.12.
const FRAME_OWNED_BY_CSTACK: u32 = 3;

/// The 3.12 layout.
pub(super) const LAYOUT: VersionLayout = VersionLayout {
    kernel: PyLayout {
        // _PyRuntime.interpreters.main -> ceval.gil -> last_holder
        runtime_to_gil_tstate: PtrChain::new(&[48, 384, 8]),
        // tstate->cframe->current_frame
        tstate_to_frame: PtrChain::new(&[56, 0]),
        tstate_native_thread_id: 144,
        tstate_thread_id: 136,
        frame_previous: 8,
        frame_code: 0,
        frame_instr: 56,
        frame_owner: 70,
        skip_owner_mask: 1 << FRAME_OWNED_BY_CSTACK,
        _pad: 0,
        code_ptr_mask: u64::MAX,
        object_type: 8,
        unicode_ascii_data: 40,
        import_name_kind: IMPORT_NAME_UNICODE,
        identifier_string: 0,
        code_filename: 112,
        code_name: 128,
        // interpreters.main->threads.head
        runtime_to_first_tstate: PtrChain::new(&[48, 72]),
        tstate_next: 8,
        _pad2: 0,
    },
    code: CodeLayout {
        filename: 112,
        name: 120,
        qualname: 128,
        firstlineno: 68,
        linetable: 136,
        code_adaptive: 192,
    },
    strings: StringLayout {
        ascii_size: 40,
        compact_size: 56,
        state: 32,
        length: 16,
        bytes_data: 32,
    },
    instr: InstrKind::Pointer,
    linetable: LineTableFormat::Locations,
};
