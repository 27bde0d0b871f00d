//! CPython 3.13 and later publish their own struct layout in
//! `_Py_DebugOffsets`, the first member of `_PyRuntime` (cookie `xdebugpy`,
//! then `PY_VERSION_HEX`). Reading it from the target gives the layout of
//! any patch release without a table; only the shape of `_Py_DebugOffsets`
//! itself is known per minor version ([`shape_for`]). A minor version newer
//! than the newest known shape is read with that shape and accepted only if
//! every offset passes the sanity checks.

use super::{CodeLayout, InstrKind, LineTableFormat, StringLayout, VersionLayout};
use crate::python::version::PythonVersion;
use coldspy_common::offsets::{PtrChain, PyLayout, IMPORT_NAME_UNICODE};

/// The cookie `_Py_DebugOffsets` starts with.
pub const COOKIE: &[u8; 8] = b"xdebugpy";

/// Bytes read from the start of `_PyRuntime`: more than any known shape.
pub const READ_BYTES: usize = 2048;

/// Why `_Py_DebugOffsets` could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DebugOffsetsError {
    /// `_PyRuntime` does not start with the cookie.
    #[error(
        "_PyRuntime does not start with the _Py_DebugOffsets cookie \"xdebugpy\" (found {0:?})"
    )]
    BadCookie(String),
    /// The version field is not a CPython 3.13+ version.
    #[error("_Py_DebugOffsets carries version {0:#x}, not a CPython 3.13 or later")]
    BadVersion(u64),
    /// Free-threaded (`t`) builds have no GIL and other frame rules.
    #[error(
        "free-threaded CPython {0} is not supported (its _Py_DebugOffsets says free_threaded = 1)"
    )]
    FreeThreaded(PythonVersion),
    /// The offsets read do not make sense for this shape.
    #[error("_Py_DebugOffsets of CPython {version} does not match the {shape} layout coldspy knows ({why})")]
    Implausible {
        /// The target's version.
        version: PythonVersion,
        /// The shape tried.
        shape: &'static str,
        /// The failed check.
        why: String,
    },
    /// Fewer bytes than the shape needs.
    #[error("_Py_DebugOffsets is truncated: {0} bytes")]
    Truncated(usize),
}

/// One shape of `_Py_DebugOffsets`: its sections in order, each a list of
/// `uint64_t` fields. Only the sections up to `unicode_object` are listed;
/// coldspy reads nothing after them.
type Shape = &'static [Section];

/// A section of `_Py_DebugOffsets`: its name and fields.
type Section = (&'static str, &'static [&'static str]);

const HEADER: Section = ("header", &["cookie", "version", "free_threaded"]);
const RUNTIME_STATE: Section = (
    "runtime_state",
    &["size", "finalizing", "interpreters_head"],
);
const PYOBJECT: Section = ("pyobject", &["size", "ob_type"]);
const TYPE_OBJECT: Section = ("type_object", &["size", "tp_name", "tp_repr", "tp_flags"]);
const TUPLE_OBJECT: Section = ("tuple_object", &["size", "ob_item", "ob_size"]);
const LIST_OBJECT: Section = ("list_object", &["size", "ob_item", "ob_size"]);
const SET_OBJECT: Section = ("set_object", &["size", "used", "table", "mask"]);
const DICT_OBJECT: Section = ("dict_object", &["size", "ma_keys", "ma_values"]);
const FLOAT_OBJECT: Section = ("float_object", &["size", "ob_fval"]);
const LONG_OBJECT: Section = ("long_object", &["size", "lv_tag", "ob_digit"]);
const BYTES_OBJECT: Section = ("bytes_object", &["size", "ob_size", "ob_sval"]);
const UNICODE_OBJECT: Section = (
    "unicode_object",
    &["size", "state", "length", "asciiobject_size"],
);

/// `interpreter_state` fields in 3.13; 3.14 adds `threads_main` after
/// `threads_head` and two generation counters at the end.
const INTERPRETER_STATE_3_14: Section = (
    "interpreter_state",
    &[
        "size",
        "id",
        "next",
        "threads_head",
        "threads_main",
        "gc",
        "imports_modules",
        "sysdict",
        "builtins",
        "ceval_gil",
        "gil_runtime_state",
        "gil_runtime_state_enabled",
        "gil_runtime_state_locked",
        "gil_runtime_state_holder",
        "code_object_generation",
        "tlbc_generation",
    ],
);

const THREAD_STATE_3_13: Section = (
    "thread_state",
    &[
        "size",
        "prev",
        "next",
        "interp",
        "current_frame",
        "thread_id",
        "native_thread_id",
        "datastack_chunk",
        "status",
    ],
);

const INTERPRETER_FRAME_3_14: Section = (
    "interpreter_frame",
    &[
        "size",
        "previous",
        "executable",
        "instr_ptr",
        "localsplus",
        "owner",
        "stackpointer",
        "tlbc_index",
    ],
);

const CODE_OBJECT_3_14: Section = (
    "code_object",
    &[
        "size",
        "filename",
        "name",
        "qualname",
        "linetable",
        "firstlineno",
        "argcount",
        "localsplusnames",
        "localspluskinds",
        "co_code_adaptive",
        "co_tlbc",
    ],
);

const SHAPE_3_13: Shape = &[
    HEADER,
    RUNTIME_STATE,
    (
        "interpreter_state",
        &[
            "size",
            "id",
            "next",
            "threads_head",
            "gc",
            "imports_modules",
            "sysdict",
            "builtins",
            "ceval_gil",
            "gil_runtime_state",
            "gil_runtime_state_enabled",
            "gil_runtime_state_locked",
            "gil_runtime_state_holder",
        ],
    ),
    THREAD_STATE_3_13,
    (
        "interpreter_frame",
        &[
            "size",
            "previous",
            "executable",
            "instr_ptr",
            "localsplus",
            "owner",
        ],
    ),
    // 3.13 has no co_tlbc: the 3.14 list without its last field.
    ("code_object", CODE_OBJECT_3_14.1.split_at(10).0),
    PYOBJECT,
    TYPE_OBJECT,
    TUPLE_OBJECT,
    LIST_OBJECT,
    DICT_OBJECT,
    FLOAT_OBJECT,
    LONG_OBJECT,
    BYTES_OBJECT,
    UNICODE_OBJECT,
];

const SHAPE_3_14: Shape = &[
    HEADER,
    RUNTIME_STATE,
    INTERPRETER_STATE_3_14,
    THREAD_STATE_3_13,
    INTERPRETER_FRAME_3_14,
    CODE_OBJECT_3_14,
    PYOBJECT,
    TYPE_OBJECT,
    TUPLE_OBJECT,
    LIST_OBJECT,
    SET_OBJECT,
    DICT_OBJECT,
    FLOAT_OBJECT,
    LONG_OBJECT,
    BYTES_OBJECT,
    UNICODE_OBJECT,
];

const SHAPE_3_15: Shape = &[
    HEADER,
    RUNTIME_STATE,
    INTERPRETER_STATE_3_14,
    (
        "thread_state",
        &[
            "size",
            "prev",
            "next",
            "interp",
            "current_frame",
            "base_frame",
            "last_profiled_frame",
            "last_profiled_frame_seq",
            "thread_id",
            "native_thread_id",
            "datastack_chunk",
            "status",
            "holds_gil",
            "gil_requested",
            "current_exception",
            "exc_state",
        ],
    ),
    ("err_stackitem", &["exc_value"]),
    INTERPRETER_FRAME_3_14,
    CODE_OBJECT_3_14,
    PYOBJECT,
    (
        "type_object",
        &[
            "size",
            "tp_name",
            "tp_repr",
            "tp_flags",
            "tp_basicsize",
            "tp_dictoffset",
        ],
    ),
    ("heap_type_object", &["size", "ht_cached_keys"]),
    TUPLE_OBJECT,
    LIST_OBJECT,
    SET_OBJECT,
    DICT_OBJECT,
    FLOAT_OBJECT,
    LONG_OBJECT,
    BYTES_OBJECT,
    (
        "unicode_object",
        &[
            "size",
            "state",
            "length",
            "asciiobject_size",
            "compactunicodeobject_size",
        ],
    ),
];

/// The shape of `_Py_DebugOffsets` for a minor version, with its name; a
/// minor newer than the newest known gets the newest shape.
pub fn shape_for(minor: u8) -> (&'static str, Shape) {
    match minor {
        13 => ("3.13", SHAPE_3_13),
        14 => ("3.14", SHAPE_3_14),
        _ => ("3.15", SHAPE_3_15),
    }
}

/// `_frameowner` values of frames that are not Python calls (C-stack shims,
/// interpreter entry frames); not published in `_Py_DebugOffsets`.
fn skipped_owners(minor: u8) -> u32 {
    match minor {
        // FRAME_OWNED_BY_CSTACK = 3
        13 => 1 << 3,
        // FRAME_OWNED_BY_INTERPRETER = 3, FRAME_OWNED_BY_CSTACK = 4
        14 => (1 << 3) | (1 << 4),
        // FRAME_OWNED_BY_INTERPRETER = 3 (no C-stack frames any more)
        _ => 1 << 3,
    }
}

/// `_Py_DebugOffsets` read with one shape: field values by `section.field`.
#[derive(Debug)]
pub struct DebugOffsets {
    /// The target's version, from the `version` field.
    pub version: PythonVersion,
    /// Name of the shape used.
    pub shape: &'static str,
    fields: std::collections::HashMap<String, u64>,
}

impl DebugOffsets {
    /// Parses the bytes at the start of `_PyRuntime`.
    pub fn parse(bytes: &[u8]) -> Result<Self, DebugOffsetsError> {
        let cookie = bytes.get(..8).ok_or(DebugOffsetsError::Truncated(0))?;
        if cookie != COOKIE {
            return Err(DebugOffsetsError::BadCookie(
                String::from_utf8_lossy(cookie).into_owned(),
            ));
        }
        let word = |index: usize| -> Option<u64> {
            let at = index * 8;
            Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        let hex = word(1).ok_or(DebugOffsetsError::Truncated(bytes.len()))?;
        let version = PythonVersion::from_hex(hex)
            .filter(|v| v.minor >= 13)
            .ok_or(DebugOffsetsError::BadVersion(hex))?;
        let (shape_name, shape) = shape_for(version.minor);
        let mut fields = std::collections::HashMap::new();
        let mut index = 0;
        for (section, names) in shape {
            for name in *names {
                let value = word(index).ok_or(DebugOffsetsError::Truncated(bytes.len()))?;
                fields.insert(format!("{section}.{name}"), value);
                index += 1;
            }
        }
        let offsets = Self {
            version,
            shape: shape_name,
            fields,
        };
        if offsets.get("header.free_threaded") != 0 {
            return Err(DebugOffsetsError::FreeThreaded(version));
        }
        offsets.check()?;
        Ok(offsets)
    }

    /// Offsets from another source (a binary's DWARF), checked like parsed
    /// ones: `fields` uses the `section.field` names of `_Py_DebugOffsets`.
    pub fn from_fields(
        version: PythonVersion,
        shape: &'static str,
        fields: std::collections::HashMap<String, u64>,
    ) -> Result<Self, DebugOffsetsError> {
        let offsets = Self {
            version,
            shape,
            fields,
        };
        offsets.check()?;
        Ok(offsets)
    }

    /// A field (`section.field`); 0 if the shape has no such field.
    pub fn get(&self, key: &str) -> u64 {
        self.fields.get(key).copied().unwrap_or(0)
    }

    /// An offset coldspy uses, as the kernel's `u32`.
    fn offset(&self, key: &str) -> u32 {
        self.get(key) as u32
    }

    /// Every offset coldspy uses must lie inside its struct, and the
    /// structs must have sizes CPython could have: a shape that does not
    /// fit the target fails here instead of walking garbage.
    fn check(&self) -> Result<(), DebugOffsetsError> {
        let implausible = |why: String| DebugOffsetsError::Implausible {
            version: self.version,
            shape: self.shape,
            why,
        };
        const USED: &[(&str, &[&str])] = &[
            ("runtime_state", &["interpreters_head"]),
            (
                "interpreter_state",
                &["threads_head", "gil_runtime_state_holder"],
            ),
            (
                "thread_state",
                &["next", "current_frame", "thread_id", "native_thread_id"],
            ),
            (
                "interpreter_frame",
                &["previous", "executable", "instr_ptr", "owner"],
            ),
            (
                "code_object",
                &[
                    "filename",
                    "name",
                    "qualname",
                    "linetable",
                    "firstlineno",
                    "co_code_adaptive",
                ],
            ),
            ("pyobject", &["ob_type"]),
            ("bytes_object", &["ob_size", "ob_sval"]),
            ("unicode_object", &["state", "length", "asciiobject_size"]),
        ];
        for (section, names) in USED {
            let size = self.get(&format!("{section}.size"));
            if size == 0 || size > 1 << 20 {
                return Err(implausible(format!("sizeof {section} = {size}")));
            }
            for name in *names {
                let offset = self.get(&format!("{section}.{name}"));
                // `asciiobject_size` is a size, the others offsets inside the struct.
                if offset > size || (offset == size && *name != "asciiobject_size") {
                    return Err(implausible(format!(
                        "{section}.{name} = {offset} is outside sizeof {section} = {size}"
                    )));
                }
            }
        }
        if self.get("pyobject.ob_type") != 8 {
            return Err(implausible(format!(
                "PyObject.ob_type at {} (a GIL build has it at 8)",
                self.get("pyobject.ob_type")
            )));
        }
        Ok(())
    }

    /// The layout these offsets describe.
    pub fn layout(&self) -> VersionLayout {
        let minor = self.version.minor;
        let ascii_size = self.offset("unicode_object.asciiobject_size");
        // PyCompactUnicodeObject adds utf8_length and utf8 to PyASCIIObject;
        // 3.15 publishes its size, earlier versions do not.
        let compact_size = match self.offset("unicode_object.compactunicodeobject_size") {
            0 => ascii_size + 16,
            size => size,
        };
        VersionLayout {
            kernel: PyLayout {
                // interpreters.head -> _gil.last_holder (the offset is
                // from the interpreter state: the main interpreter owns its GIL)
                runtime_to_gil_tstate: PtrChain::new(&[
                    self.offset("runtime_state.interpreters_head"),
                    self.offset("interpreter_state.gil_runtime_state_holder"),
                ]),
                tstate_to_frame: PtrChain::new(&[self.offset("thread_state.current_frame")]),
                tstate_native_thread_id: self.offset("thread_state.native_thread_id"),
                tstate_thread_id: self.offset("thread_state.thread_id"),
                frame_previous: self.offset("interpreter_frame.previous"),
                frame_code: self.offset("interpreter_frame.executable"),
                frame_instr: self.offset("interpreter_frame.instr_ptr"),
                frame_owner: self.offset("interpreter_frame.owner"),
                skip_owner_mask: skipped_owners(minor),
                _pad: 0,
                // 3.14+: f_executable is a _PyStackRef with tag bits (Py_TAG_BITS ≤ 3).
                code_ptr_mask: if minor >= 14 { !3 } else { u64::MAX },
                object_type: self.offset("pyobject.ob_type"),
                unicode_ascii_data: ascii_size,
                import_name_kind: IMPORT_NAME_UNICODE,
                identifier_string: 0,
                code_filename: self.offset("code_object.filename"),
                code_name: self.offset("code_object.qualname"),
                runtime_to_first_tstate: PtrChain::new(&[
                    self.offset("runtime_state.interpreters_head"),
                    self.offset("interpreter_state.threads_head"),
                ]),
                tstate_next: self.offset("thread_state.next"),
                _pad2: 0,
            },
            code: CodeLayout {
                filename: self.offset("code_object.filename"),
                name: self.offset("code_object.name"),
                qualname: self.offset("code_object.qualname"),
                firstlineno: self.offset("code_object.firstlineno"),
                linetable: self.offset("code_object.linetable"),
                code_adaptive: self.offset("code_object.co_code_adaptive"),
            },
            strings: StringLayout {
                ascii_size,
                compact_size,
                state: self.offset("unicode_object.state"),
                length: self.offset("unicode_object.length"),
                bytes_data: self.offset("bytes_object.ob_sval"),
            },
            instr: InstrKind::Pointer,
            linetable: LineTableFormat::Locations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `_Py_DebugOffsets` of the given shape with plausible values.
    fn fake(hex: u64, shape: Shape) -> Vec<u8> {
        let mut words = Vec::new();
        for (section, names) in shape {
            for name in *names {
                let value = match (*section, *name) {
                    ("header", "cookie") => u64::from_le_bytes(*COOKIE),
                    ("header", "version") => hex,
                    ("header", "free_threaded") => 0,
                    ("pyobject", "ob_type") => 8,
                    (_, "size") => 4096,
                    _ => 16 + words.len() as u64,
                };
                words.push(value);
            }
        }
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn reads_each_known_shape() {
        for (hex, shape) in [
            (0x030d12f0, SHAPE_3_13),
            (0x030e0af0, SHAPE_3_14),
            (0x030f02f0, SHAPE_3_15),
        ] {
            let offsets = DebugOffsets::parse(&fake(hex, shape)).unwrap();
            let layout = offsets.layout();
            assert_eq!(layout.kernel.object_type, 8);
            assert_eq!(
                layout.kernel.frame_code,
                offsets.offset("interpreter_frame.executable")
            );
            assert_eq!(layout.kernel.tstate_to_frame.len, 1);
        }
    }

    #[test]
    fn a_future_minor_uses_the_newest_shape() {
        let offsets = DebugOffsets::parse(&fake(0x031000f0, SHAPE_3_15)).unwrap();
        assert_eq!(offsets.version, PythonVersion::new(3, 16, 0));
        assert_eq!(offsets.shape, "3.15");
    }

    #[test]
    fn rejects_bad_cookie_version_and_shape() {
        let mut bytes = fake(0x030e0af0, SHAPE_3_14);
        bytes[0] = b'y';
        assert!(matches!(
            DebugOffsets::parse(&bytes),
            Err(DebugOffsetsError::BadCookie(_))
        ));
        assert!(matches!(
            DebugOffsets::parse(&fake(0x030c01f0, SHAPE_3_13)),
            Err(DebugOffsetsError::BadVersion(_))
        ));
        // A 3.14 struct read as if it were 3.13's: fields slide.
        let mut wrong = fake(0x030d00f0, SHAPE_3_14);
        wrong[16..24].copy_from_slice(&0u64.to_le_bytes());
        let err = DebugOffsets::parse(&wrong).unwrap_err();
        assert!(
            matches!(err, DebugOffsetsError::Implausible { .. }),
            "{err}"
        );
    }

    #[test]
    fn rejects_free_threaded_builds() {
        let mut bytes = fake(0x030e0af0, SHAPE_3_14);
        bytes[16..24].copy_from_slice(&1u64.to_le_bytes());
        assert!(matches!(
            DebugOffsets::parse(&bytes),
            Err(DebugOffsetsError::FreeThreaded(_))
        ));
    }
}
