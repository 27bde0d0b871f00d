//! Interpreter struct layouts: one table per CPython minor version up to
//! 3.12, and for 3.13 and later the target's own `_Py_DebugOffsets`
//! ([`debug_offsets`]), or, when those cannot be used and the binary
//! ships DWARF, the same fields read from its DWARF ([`dwarf`]).
//!
//! [`VersionLayout`] is the single source of truth: its `kernel` part is
//! copied into the eBPF map, the rest is used by the symbolizer. Adding a
//! table version is adding a file here and a line in [`table_for`]; a new
//! `_Py_DebugOffsets` shape is a list in [`debug_offsets`].

use crate::python::version::PythonVersion;
use coldspy_common::offsets::PyLayout;

pub mod debug_offsets;
pub mod dwarf;
mod v3_10;
mod v3_11;
mod v3_12;
mod v3_9;

/// How a frame's instruction field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrKind {
    /// `f_lasti` as a byte offset (3.9).
    LastiBytes,
    /// `f_lasti` in code units of 2 bytes (3.10).
    LastiUnits,
    /// A pointer to the current instruction inside `co_code_adaptive` (3.11+).
    Pointer,
}

/// The line-number table format of code objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineTableFormat {
    /// `co_lnotab` (3.9).
    Lnotab,
    /// `co_linetable`, PEP 626 (3.10).
    Pep626,
    /// `co_linetable` location table, PEP 657 (3.11+).
    Locations,
}

/// Offsets inside `PyCodeObject` the symbolizer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLayout {
    /// `co_filename`.
    pub filename: u32,
    /// `co_name`.
    pub name: u32,
    /// `co_qualname`, or `u32::MAX` before 3.11.
    pub qualname: u32,
    /// `co_firstlineno` (int).
    pub firstlineno: u32,
    /// `co_linetable` / `co_lnotab` (bytes object).
    pub linetable: u32,
    /// `co_code_adaptive` (3.11+), the start of the bytecode inside the object.
    pub code_adaptive: u32,
}

/// Offsets of unicode and bytes objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StringLayout {
    /// `sizeof(PyASCIIObject)`: where compact ASCII data starts.
    pub ascii_size: u32,
    /// `sizeof(PyCompactUnicodeObject)`: where compact non-ASCII data starts.
    pub compact_size: u32,
    /// Offset of the `state` bit field.
    pub state: u32,
    /// Offset of `length` (in code points) and of a bytes object's `ob_size`.
    pub length: u32,
    /// `PyBytesObject.ob_sval`.
    pub bytes_data: u32,
}

/// Everything coldspy needs to know about one CPython version's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionLayout {
    /// What the kernel walks.
    pub kernel: PyLayout,
    /// Code objects.
    pub code: CodeLayout,
    /// Strings.
    pub strings: StringLayout,
    /// Instruction field.
    pub instr: InstrKind,
    /// Line tables.
    pub linetable: LineTableFormat,
}

/// Versions with a built-in table.
pub const TABLE_VERSIONS: &[&str] = &["3.9", "3.10", "3.11", "3.12"];

/// The first version whose layout comes from `_Py_DebugOffsets`.
pub const FIRST_DEBUG_OFFSETS_MINOR: u8 = 13;

/// The supported versions, for messages.
pub fn supported_versions() -> String {
    format!(
        "{} (built-in tables), 3.{FIRST_DEBUG_OFFSETS_MINOR} and later (from the interpreter's _Py_DebugOffsets)",
        TABLE_VERSIONS.join(", ")
    )
}

/// The built-in table of a version, if there is one.
pub fn table_for(version: PythonVersion) -> Option<VersionLayout> {
    match (version.major, version.minor) {
        (3, 9) => Some(v3_9::LAYOUT),
        (3, 10) => Some(v3_10::LAYOUT),
        (3, 11) => Some(v3_11::LAYOUT),
        (3, 12) => Some(v3_12::LAYOUT),
        _ => None,
    }
}
