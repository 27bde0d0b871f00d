//! Struct member offsets from a binary's DWARF (gimli).
//!
//! At run time this is the fallback layout source of a 3.13+ interpreter
//! whose `_Py_DebugOffsets` cannot be used (a bad cookie, a shape that does
//! not fit) but whose binary ships DWARF: [`debug_offsets_from_dwarf`]
//! fills the same `section.field` names from the compiler's own layout
//! (`layout_source` `dwarf:<file>`). In tests it cross-checks the built-in
//! tables and the `_Py_DebugOffsets` reader; pyenv's libpython builds carry
//! DWARF (set-up's `env.json` says where), and a check whose build is
//! absent fails with the set-up hint.

use gimli::{constants, AttributeValue, EndianSlice, RunTimeEndian};
use object::{Object, ObjectSection};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// One debugging-information entry of a unit read from a slice.
type Entry<'abbrev, 'unit, 'data> =
    gimli::DebuggingInformationEntry<'abbrev, 'unit, EndianSlice<'data, RunTimeEndian>>;

/// A type DIE: `.debug_info` offset of its unit, offset inside the unit.
type Key = (usize, usize);

#[derive(Debug)]
struct Member {
    name: Option<String>,
    offset: u64,
    ty: Option<Key>,
}

#[derive(Debug)]
enum Kind {
    /// typedef, const, volatile: look through.
    Alias(Key),
    /// A struct or union only declared here; defined elsewhere by name.
    Declared(String),
    /// A defined struct or union.
    Struct { size: u64, members: Vec<Member> },
}

/// The struct, union and typedef DIEs of one binary.
#[derive(Debug, Default)]
pub struct DwarfStructs {
    kinds: HashMap<Key, Kind>,
    /// Defined structs and typedefs by name (first definition wins).
    names: HashMap<String, Key>,
}

impl DwarfStructs {
    /// Reads the DWARF of an ELF file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file = object::File::parse(&*data).map_err(|e| e.to_string())?;
        let endian = if file.is_little_endian() {
            RunTimeEndian::Little
        } else {
            RunTimeEndian::Big
        };
        let load = |id: gimli::SectionId| -> Result<Cow<'_, [u8]>, gimli::Error> {
            Ok(file
                .section_by_name(id.name())
                .and_then(|s| s.uncompressed_data().ok())
                .unwrap_or(Cow::Borrowed(&[])))
        };
        let sections = gimli::DwarfSections::load(load).map_err(|e| e.to_string())?;
        let dwarf = sections.borrow(|s| EndianSlice::new(s, endian));
        let mut out = Self::default();
        let mut units = dwarf.units();
        while let Some(header) = units.next().map_err(|e| e.to_string())? {
            let unit_offset = header
                .offset()
                .as_debug_info_offset()
                .map(|o| o.0)
                .unwrap_or(0);
            let unit = dwarf.unit(header).map_err(|e| e.to_string())?;
            out.read_unit(&dwarf, &unit, unit_offset)
                .map_err(|e| e.to_string())?;
        }
        Ok(out)
    }

    fn read_unit(
        &mut self,
        dwarf: &gimli::Dwarf<EndianSlice<'_, RunTimeEndian>>,
        unit: &gimli::Unit<EndianSlice<'_, RunTimeEndian>>,
        unit_offset: usize,
    ) -> gimli::Result<()> {
        let mut cursor = unit.entries();
        let mut depth = 0isize;
        let mut open_structs: Vec<(isize, Key)> = Vec::new();
        while let Some((delta, entry)) = cursor.next_dfs()? {
            depth += delta;
            while open_structs.last().is_some_and(|&(d, _)| d >= depth) {
                open_structs.pop();
            }
            let key = (unit_offset, entry.offset().0);
            let name = match entry.attr_value(constants::DW_AT_name)? {
                Some(value) => dwarf
                    .attr_string(unit, value)
                    .ok()
                    .map(|s| s.to_string_lossy().into_owned()),
                None => None,
            };
            let type_ref = match entry.attr_value(constants::DW_AT_type)? {
                Some(AttributeValue::UnitRef(o)) => Some((unit_offset, o.0)),
                _ => None,
            };
            match entry.tag() {
                constants::DW_TAG_structure_type | constants::DW_TAG_union_type
                    if self.read_struct(entry, key, name.clone())? =>
                {
                    open_structs.push((depth, key));
                }
                constants::DW_TAG_member => {
                    let Some(&(parent_depth, parent)) = open_structs.last() else {
                        continue;
                    };
                    if parent_depth == depth - 1 {
                        self.read_member(entry, parent, name, type_ref)?;
                    }
                }
                constants::DW_TAG_typedef
                | constants::DW_TAG_const_type
                | constants::DW_TAG_volatile_type => {
                    if let Some(target) = type_ref {
                        self.kinds.insert(key, Kind::Alias(target));
                        if let Some(name) = name {
                            if entry.tag() == constants::DW_TAG_typedef {
                                self.names.entry(name).or_insert(key);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A struct or union: its size, or its name if only declared here.
    /// Whether it is a definition (whose members follow).
    fn read_struct(
        &mut self,
        entry: &Entry<'_, '_, '_>,
        key: Key,
        name: Option<String>,
    ) -> gimli::Result<bool> {
        let declared = matches!(
            entry.attr_value(constants::DW_AT_declaration)?,
            Some(AttributeValue::Flag(true))
        );
        if declared {
            if let Some(name) = name {
                self.kinds.insert(key, Kind::Declared(name));
            }
            return Ok(false);
        }
        let size = entry
            .attr_value(constants::DW_AT_byte_size)?
            .and_then(|v| v.udata_value())
            .unwrap_or(0);
        self.kinds.insert(
            key,
            Kind::Struct {
                size,
                members: Vec::new(),
            },
        );
        if let Some(name) = name {
            self.names.entry(name).or_insert(key);
        }
        Ok(true)
    }

    /// A member of the struct `parent`.
    fn read_member(
        &mut self,
        entry: &Entry<'_, '_, '_>,
        parent: Key,
        name: Option<String>,
        ty: Option<Key>,
    ) -> gimli::Result<()> {
        let offset = entry
            .attr_value(constants::DW_AT_data_member_location)?
            .and_then(|v| v.udata_value())
            .unwrap_or(0);
        if let Some(Kind::Struct { members, .. }) = self.kinds.get_mut(&parent) {
            members.push(Member { name, offset, ty });
        }
        Ok(())
    }

    /// The defined struct a key names, through aliases and declarations.
    fn resolve(&self, mut key: Key) -> Option<(u64, &[Member])> {
        for _ in 0..16 {
            match self.kinds.get(&key)? {
                Kind::Alias(target) => key = *target,
                Kind::Declared(name) => {
                    let defined = *self.names.get(name)?;
                    if defined == key {
                        return None;
                    }
                    key = defined;
                }
                Kind::Struct { size, members } => return Some((*size, members)),
            }
        }
        None
    }

    fn member(&self, key: Key, field: &str) -> Option<(u64, Option<Key>)> {
        let (_, members) = self.resolve(key)?;
        if let Some(m) = members.iter().find(|m| m.name.as_deref() == Some(field)) {
            return Some((m.offset, m.ty));
        }
        members.iter().filter(|m| m.name.is_none()).find_map(|m| {
            let (inner, ty) = self.member(m.ty?, field)?;
            Some((m.offset + inner, ty))
        })
    }

    /// Offset of a dotted member path inside a type (`"gilstate.tstate_current"`),
    /// or the type's size for an empty path.
    pub fn offset(&self, type_name: &str, path: &str) -> Option<u64> {
        let mut key = *self.names.get(type_name)?;
        if path.is_empty() {
            return self.resolve(key).map(|(size, _)| size);
        }
        let mut total = 0;
        for field in path.split('.') {
            let (offset, ty) = self.member(key, field)?;
            total += offset;
            if let Some(ty) = ty {
                key = ty;
            }
        }
        Some(total)
    }
}

/// `_Py_DebugOffsets` names (`section.field`) and where the DWARF of a
/// 3.13+ build has them (type, dotted member path; an empty path is the
/// type's size). The same paths `debug_offsets_of_3_13_match_dwarf` checks.
const DEBUG_OFFSETS_IN_DWARF: &[(&str, &str, &str)] = &[
    ("runtime_state.size", "_PyRuntimeState", ""),
    (
        "runtime_state.interpreters_head",
        "_PyRuntimeState",
        "interpreters.head",
    ),
    ("interpreter_state.size", "PyInterpreterState", ""),
    (
        "interpreter_state.threads_head",
        "PyInterpreterState",
        "threads.head",
    ),
    (
        "interpreter_state.gil_runtime_state_holder",
        "PyInterpreterState",
        "_gil.last_holder",
    ),
    ("thread_state.size", "PyThreadState", ""),
    ("thread_state.next", "PyThreadState", "next"),
    (
        "thread_state.current_frame",
        "PyThreadState",
        "current_frame",
    ),
    ("thread_state.thread_id", "PyThreadState", "thread_id"),
    (
        "thread_state.native_thread_id",
        "PyThreadState",
        "native_thread_id",
    ),
    ("interpreter_frame.size", "_PyInterpreterFrame", ""),
    (
        "interpreter_frame.previous",
        "_PyInterpreterFrame",
        "previous",
    ),
    (
        "interpreter_frame.executable",
        "_PyInterpreterFrame",
        "f_executable",
    ),
    (
        "interpreter_frame.instr_ptr",
        "_PyInterpreterFrame",
        "instr_ptr",
    ),
    ("interpreter_frame.owner", "_PyInterpreterFrame", "owner"),
    ("code_object.size", "PyCodeObject", ""),
    ("code_object.filename", "PyCodeObject", "co_filename"),
    ("code_object.name", "PyCodeObject", "co_name"),
    ("code_object.qualname", "PyCodeObject", "co_qualname"),
    ("code_object.linetable", "PyCodeObject", "co_linetable"),
    ("code_object.firstlineno", "PyCodeObject", "co_firstlineno"),
    (
        "code_object.co_code_adaptive",
        "PyCodeObject",
        "co_code_adaptive",
    ),
    ("pyobject.size", "PyObject", ""),
    ("pyobject.ob_type", "PyObject", "ob_type"),
    ("bytes_object.size", "PyBytesObject", ""),
    ("bytes_object.ob_size", "PyVarObject", "ob_size"),
    ("bytes_object.ob_sval", "PyBytesObject", "ob_sval"),
    ("unicode_object.size", "PyUnicodeObject", ""),
    ("unicode_object.state", "PyASCIIObject", "state"),
    ("unicode_object.length", "PyASCIIObject", "length"),
    ("unicode_object.asciiobject_size", "PyASCIIObject", ""),
    (
        "unicode_object.compactunicodeobject_size",
        "PyCompactUnicodeObject",
        "",
    ),
];

/// Why the DWARF route gave no layout.
#[derive(Debug, thiserror::Error)]
pub enum DwarfLayoutError {
    /// The file could not be read or parsed, or has no usable DWARF.
    #[error("reading DWARF: {0}")]
    Read(String),
    /// A struct member coldspy needs is not in the DWARF.
    #[error("no {0} in the DWARF (stripped, or another layout)")]
    Missing(
        /// `sizeof Type` or `Type.member.path`.
        String,
    ),
    /// The offsets found do not pass the `_Py_DebugOffsets` checks.
    #[error(transparent)]
    Implausible(#[from] super::debug_offsets::DebugOffsetsError),
}

/// The `_Py_DebugOffsets` of a 3.13+ build, read from its DWARF instead of
/// its `_PyRuntime`. Slow (the whole `.debug_info` is parsed): only a fallback.
pub fn debug_offsets_from_dwarf(
    binary: &Path,
    version: crate::python::version::PythonVersion,
) -> Result<super::debug_offsets::DebugOffsets, DwarfLayoutError> {
    let dwarf = DwarfStructs::load(binary).map_err(DwarfLayoutError::Read)?;
    debug_offsets_of(&dwarf, version)
}

/// [`debug_offsets_from_dwarf`] on already-read DWARF.
fn debug_offsets_of(
    dwarf: &DwarfStructs,
    version: crate::python::version::PythonVersion,
) -> Result<super::debug_offsets::DebugOffsets, DwarfLayoutError> {
    let mut fields = HashMap::new();
    for &(key, ty, path) in DEBUG_OFFSETS_IN_DWARF {
        let value = dwarf.offset(ty, path);
        match value {
            Some(value) => {
                fields.insert(key.to_string(), value);
            }
            // 3.13 has no such member; `layout()` derives it.
            None if key == "unicode_object.compactunicodeobject_size" => {}
            None if path.is_empty() => {
                return Err(DwarfLayoutError::Missing(format!("sizeof {ty}")))
            }
            None => return Err(DwarfLayoutError::Missing(format!("{ty}.{path}"))),
        }
    }
    Ok(super::debug_offsets::DebugOffsets::from_fields(
        version, "dwarf", fields,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::offsets::debug_offsets::{self, DebugOffsets};
    use crate::python::offsets::{table_for, VersionLayout};
    use crate::python::version::PythonVersion;
    use coldspy_common::offsets::PtrChain;

    /// The DWARF of a set-up pyenv interpreter's libpython (`pyenv-3.12`;
    /// where it is comes from set-up's `env.json`). Panics with the set-up
    /// hint when it is missing: a cross-check never passes without its oracle.
    fn libpython(name: &str) -> DwarfStructs {
        DwarfStructs::load(&coldspy_tests::libpython_of(name)).unwrap()
    }

    fn chain(c: &PtrChain) -> Vec<u64> {
        c.offsets[..c.len as usize]
            .iter()
            .map(|&o| o as u64)
            .collect()
    }

    /// Asserts every `(value, type, path)` against the DWARF.
    fn check(version: &str, dwarf: &DwarfStructs, expected: &[(u64, &str, &str)]) {
        for &(value, ty, path) in expected {
            assert_eq!(
                Some(value),
                dwarf.offset(ty, path),
                "{version}: {ty}.{path} (table says {value})"
            );
        }
    }

    /// What every version shares: strings, bytes and code object fields.
    fn common(layout: &VersionLayout, name_field: &str) -> Vec<(u64, &'static str, &'static str)> {
        let k = &layout.kernel;
        let c = &layout.code;
        let s = &layout.strings;
        vec![
            (k.object_type as u64, "PyObject", "ob_type"),
            (k.code_filename as u64, "PyCodeObject", "co_filename"),
            (c.filename as u64, "PyCodeObject", "co_filename"),
            (c.name as u64, "PyCodeObject", "co_name"),
            (c.firstlineno as u64, "PyCodeObject", "co_firstlineno"),
            (s.ascii_size as u64, "PyASCIIObject", ""),
            (k.unicode_ascii_data as u64, "PyASCIIObject", ""),
            (s.compact_size as u64, "PyCompactUnicodeObject", ""),
            (s.state as u64, "PyASCIIObject", "state"),
            (s.length as u64, "PyASCIIObject", "length"),
            (s.bytes_data as u64, "PyBytesObject", "ob_sval"),
            (
                k.code_name as u64,
                "PyCodeObject",
                if name_field == "co_name" {
                    "co_name"
                } else {
                    "co_qualname"
                },
            ),
        ]
    }

    #[test]
    fn tables_of_3_9_and_3_10_match_dwarf() {
        for (name, minor, linetable) in [
            ("pyenv-3.9", 9, "co_lnotab"),
            ("pyenv-3.10", 10, "co_linetable"),
        ] {
            let dwarf = libpython(name);
            let layout = table_for(PythonVersion::new(3, minor, 0)).unwrap();
            let k = &layout.kernel;
            let mut expected = common(&layout, "co_name");
            let gil = chain(&k.runtime_to_gil_tstate);
            let first = chain(&k.runtime_to_first_tstate);
            expected.extend([
                (gil[0], "_PyRuntimeState", "gilstate.tstate_current"),
                (chain(&k.tstate_to_frame)[0], "PyThreadState", "frame"),
                (k.tstate_thread_id as u64, "PyThreadState", "thread_id"),
                (k.tstate_next as u64, "PyThreadState", "next"),
                (first[0], "_PyRuntimeState", "interpreters.main"),
                (first[1], "PyInterpreterState", "tstate_head"),
                (k.frame_previous as u64, "PyFrameObject", "f_back"),
                (k.frame_code as u64, "PyFrameObject", "f_code"),
                (k.frame_instr as u64, "PyFrameObject", "f_lasti"),
                (k.identifier_string as u64, "_Py_Identifier", "string"),
                (layout.code.linetable as u64, "PyCodeObject", linetable),
            ]);
            check(name, &dwarf, &expected);
        }
    }

    /// The 3.11/3.12 checks: `tstate->cframe->current_frame` and the
    /// `_PyInterpreterFrame` fields, plus the version's GIL-holder chain.
    fn interpreter_frames(
        layout: &VersionLayout,
        gil: &[(&'static str, &'static str)],
    ) -> Vec<(u64, &'static str, &'static str)> {
        let k = &layout.kernel;
        let mut expected = common(layout, "co_qualname");
        let frame = chain(&k.tstate_to_frame);
        let first = chain(&k.runtime_to_first_tstate);
        for (offset, (ty, path)) in chain(&k.runtime_to_gil_tstate).into_iter().zip(gil) {
            expected.push((offset, ty, path));
        }
        expected.extend([
            (frame[0], "PyThreadState", "cframe"),
            (frame[1], "_PyCFrame", "current_frame"),
            (
                k.tstate_native_thread_id as u64,
                "PyThreadState",
                "native_thread_id",
            ),
            (k.tstate_thread_id as u64, "PyThreadState", "thread_id"),
            (k.tstate_next as u64, "PyThreadState", "next"),
            (first[0], "_PyRuntimeState", "interpreters.main"),
            (first[1], "PyInterpreterState", "threads.head"),
            (k.frame_previous as u64, "_PyInterpreterFrame", "previous"),
            (k.frame_code as u64, "_PyInterpreterFrame", "f_code"),
            (k.frame_instr as u64, "_PyInterpreterFrame", "prev_instr"),
            (k.frame_owner as u64, "_PyInterpreterFrame", "owner"),
            (layout.code.linetable as u64, "PyCodeObject", "co_linetable"),
            (
                layout.code.code_adaptive as u64,
                "PyCodeObject",
                "co_code_adaptive",
            ),
        ]);
        expected
    }

    #[test]
    fn tables_of_3_11_and_3_12_match_dwarf() {
        let layout = table_for(PythonVersion::new(3, 11, 0)).unwrap();
        let gil = [("_PyRuntimeState", "gilstate.tstate_current")];
        let expected = interpreter_frames(&layout, &gil);
        check("pyenv-3.11", &libpython("pyenv-3.11"), &expected);
        let layout = table_for(PythonVersion::new(3, 12, 0)).unwrap();
        let gil = [
            ("_PyRuntimeState", "interpreters.main"),
            ("PyInterpreterState", "ceval.gil"),
            ("_gil_runtime_state", "last_holder"),
        ];
        let expected = interpreter_frames(&layout, &gil);
        check("pyenv-3.12", &libpython("pyenv-3.12"), &expected);
    }

    /// The run-time DWARF route gives the very layout the interpreter's own
    /// `_Py_DebugOffsets` gives (the oracle), on the 3.13+ pyenv build
    /// set-up provides (sid's 3.13+ builds are stripped: no DWARF).
    #[test]
    fn dwarf_route_equals_debug_offsets() {
        let path = coldspy_tests::libpython_of("pyenv-3.13");
        let data = std::fs::read(&path).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let bytes = file.section_by_name(".PyRuntime").unwrap().data().unwrap();
        let debug =
            DebugOffsets::parse(&bytes[..debug_offsets::READ_BYTES.min(bytes.len())]).unwrap();
        let from_dwarf = debug_offsets_from_dwarf(&path, debug.version).unwrap();
        assert_eq!(from_dwarf.layout(), debug.layout());
    }

    #[test]
    fn dwarf_route_names_the_missing_member() {
        let err =
            debug_offsets_of(&DwarfStructs::default(), PythonVersion::new(3, 13, 0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no sizeof _PyRuntimeState in the DWARF (stripped, or another layout)"
        );
    }

    #[test]
    fn debug_offsets_of_3_13_match_dwarf() {
        let dwarf = libpython("pyenv-3.13");
        // `_Py_DebugOffsets` is initialized data: read it from the file.
        let data = std::fs::read(coldspy_tests::libpython_of("pyenv-3.13")).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let section = file.section_by_name(".PyRuntime").unwrap();
        let bytes = section.data().unwrap();
        let debug =
            DebugOffsets::parse(&bytes[..debug_offsets::READ_BYTES.min(bytes.len())]).unwrap();
        assert_eq!(debug.version, PythonVersion::new(3, 13, 0));
        let layout = debug.layout();
        let k = &layout.kernel;
        let mut expected = common(&layout, "co_qualname");
        let gil = chain(&k.runtime_to_gil_tstate);
        let first = chain(&k.runtime_to_first_tstate);
        expected.extend([
            (gil[0], "_PyRuntimeState", "interpreters.head"),
            (gil[1], "PyInterpreterState", "_gil.last_holder"),
            (
                chain(&k.tstate_to_frame)[0],
                "PyThreadState",
                "current_frame",
            ),
            (
                k.tstate_native_thread_id as u64,
                "PyThreadState",
                "native_thread_id",
            ),
            (k.tstate_thread_id as u64, "PyThreadState", "thread_id"),
            (k.tstate_next as u64, "PyThreadState", "next"),
            (first[1], "PyInterpreterState", "threads.head"),
            (k.frame_previous as u64, "_PyInterpreterFrame", "previous"),
            (k.frame_code as u64, "_PyInterpreterFrame", "f_executable"),
            (k.frame_instr as u64, "_PyInterpreterFrame", "instr_ptr"),
            (k.frame_owner as u64, "_PyInterpreterFrame", "owner"),
            (layout.code.linetable as u64, "PyCodeObject", "co_linetable"),
            (
                layout.code.code_adaptive as u64,
                "PyCodeObject",
                "co_code_adaptive",
            ),
        ]);
        check("pyenv-3.13", &dwarf, &expected);
    }
}
