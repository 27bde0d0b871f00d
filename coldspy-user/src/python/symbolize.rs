//! Code object → function, file and line, read from the target's memory
//! and cached per code object (least recently used first out, at most
//! [`MAX_CACHED_CODE_OBJECTS`] per process). Generic over [`ReadMemory`]:
//! a process in use, fabricated byte images in the tests below.

use crate::model::profile::Frame;
use crate::python::linetable;
use crate::python::memory::{MemoryError, ProcessMemory, ReadMemory};
use crate::python::offsets::{InstrKind, VersionLayout};
use coldspy_common::sample::{code_key, RawFrame};
use lru::LruCache;
use std::num::NonZeroUsize;

/// Longest string read from a target (code points).
const MAX_STRING_CHARS: u64 = 4096;
/// Largest line table read from a target (bytes).
const MAX_TABLE_BYTES: u64 = 1 << 20;
/// Code objects whose names and line table are kept per process. A cold
/// start samples few (importing boto3, requests and markdown at 200 Hz:
/// 184 distinct functions); past the bound the least recently sampled one
/// is read again if it is sampled again. An entry is two names and a line
/// table (each table at most `MAX_TABLE_BYTES`, typically well under 1 KiB),
/// so a long recording of a process that keeps generating code stays at a
/// few MiB instead of growing without end.
pub const MAX_CACHED_CODE_OBJECTS: usize = 16_384;

#[derive(Debug, Clone)]
struct CodeInfo {
    function: String,
    qualname: String,
    file: String,
    firstlineno: u32,
    linetable: Vec<u8>,
}

/// Symbolizes frames of one process (or of any [`ReadMemory`]).
#[derive(Debug)]
pub struct Symbolizer<M: ReadMemory = ProcessMemory> {
    memory: M,
    layout: VersionLayout,
    /// (address, identity key) → what was read there.
    codes: LruCache<(u64, u64), CodeInfo>,
}

impl Symbolizer {
    /// A symbolizer for a process with the given layout.
    pub fn new(pid: u32, layout: VersionLayout) -> Self {
        Self::with_memory(ProcessMemory { pid }, layout)
    }
}

impl<M: ReadMemory> Symbolizer<M> {
    /// A symbolizer reading `memory` with the given layout.
    pub fn with_memory(memory: M, layout: VersionLayout) -> Self {
        Self {
            memory,
            layout,
            codes: LruCache::new(
                NonZeroUsize::new(MAX_CACHED_CODE_OBJECTS).expect("a non-zero bound"),
            ),
        }
    }

    /// The interpreter layout this symbolizer reads with.
    pub fn layout(&self) -> VersionLayout {
        self.layout
    }

    /// The frame of a raw kernel frame, or `None` if its code object cannot
    /// be read as it was at sample time (freed, or replaced by another code
    /// object at the same address: the identity key tells).
    pub fn frame(&mut self, raw: RawFrame) -> Option<Frame> {
        let cache_key = (raw.code_addr, raw.code_key);
        if !self.codes.contains(&cache_key) {
            // A mismatch may be a later object at this address: not cached,
            // so the sample that sees that object still reads it.
            let info = self.read_code(raw.code_addr, raw.code_key)?;
            self.codes.put(cache_key, info);
        }
        let info = self.codes.get(&cache_key)?;
        let byte_offset = match self.layout.instr {
            InstrKind::LastiBytes => i64::from(raw.instr as i32),
            InstrKind::LastiUnits => i64::from(raw.instr as i32) * 2,
            InstrKind::Pointer => (raw.instr as i64).wrapping_sub(
                raw.code_addr
                    .wrapping_add(self.layout.code.code_adaptive as u64) as i64,
            ),
        };
        let line = u32::try_from(byte_offset)
            .ok()
            .and_then(|offset| {
                linetable::line_for(
                    self.layout.linetable,
                    &info.linetable,
                    info.firstlineno,
                    offset,
                )
            })
            .unwrap_or(info.firstlineno);
        Some(Frame {
            function: info.function.clone(),
            qualname: info.qualname.clone(),
            file: info.file.clone(),
            line,
            module: None,
        })
    }

    /// Reads a code object if it still has the identity `key`.
    fn read_code(&self, addr: u64, key: u64) -> Option<CodeInfo> {
        let kernel = &self.layout.kernel;
        let filename = self
            .memory
            .read_u64(addr.wrapping_add(kernel.code_filename as u64))
            .ok()?;
        let name = self
            .memory
            .read_u64(addr.wrapping_add(kernel.code_name as u64))
            .ok()?;
        if code_key(filename, name) != key {
            return None;
        }
        self.read_code_fields(addr).ok()
    }

    fn read_code_fields(&self, addr: u64) -> Result<CodeInfo, MemoryError> {
        let code = &self.layout.code;
        let function =
            self.read_unicode(self.memory.read_u64(addr.wrapping_add(code.name as u64))?)?;
        let qualname = if code.qualname != u32::MAX {
            self.read_unicode(
                self.memory
                    .read_u64(addr.wrapping_add(code.qualname as u64))?,
            )?
        } else {
            function.clone()
        };
        let file = self.read_unicode(
            self.memory
                .read_u64(addr.wrapping_add(code.filename as u64))?,
        )?;
        // A file name is never empty and holds no control character: such a
        // string is a code object freed and reused under us. Counted as
        // unsymbolized (`<unknown>`), never shown as a file.
        if file.is_empty() || file.chars().any(char::is_control) {
            return Err(MemoryError::Inconsistent { addr });
        }
        let firstlineno = self
            .memory
            .read_i32(addr.wrapping_add(code.firstlineno as u64))?
            .max(0) as u32;
        let table = self
            .memory
            .read_u64(addr.wrapping_add(code.linetable as u64))?;
        let linetable = self.read_bytes_object(table)?;
        Ok(CodeInfo {
            function,
            qualname,
            file,
            firstlineno,
            linetable,
        })
    }

    /// The code object of the function `name` defined at the top level of
    /// the module whose code object is `module_code` (CPython 3.11+, where
    /// `co_consts` is the first field after the object header), checked to
    /// be a tuple of constants holding a code object of that name.
    pub fn nested_function_code(
        &self,
        module_code: u64,
        name: &str,
        code_type: u64,
    ) -> Option<u64> {
        use coldspy_common::offsets::{CODE_CONSTS_3_11, TUPLE_ITEMS, TUPLE_SIZE};
        const TYPE_NAME: u64 = 24;
        let object_type = self.layout.kernel.object_type as u64;
        let consts = self
            .memory
            .read_u64(module_code.wrapping_add(CODE_CONSTS_3_11))
            .ok()?;
        let tuple_type = self
            .memory
            .read_u64(consts.wrapping_add(object_type))
            .ok()?;
        let type_name = self
            .memory
            .read_u64(tuple_type.wrapping_add(TYPE_NAME))
            .ok()?;
        if self.memory.read_vec(type_name, 6).ok()? != b"tuple\0" {
            return None;
        }
        let count = self
            .memory
            .read_u64(consts.wrapping_add(TUPLE_SIZE))
            .ok()?
            .min(1 << 16) as usize;
        let items: Vec<u64> = self
            .memory
            .read_vec(consts.wrapping_add(TUPLE_ITEMS), count * 8)
            .ok()?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        self.function_code_among(&items, name, code_type)
    }

    /// The code object named `name` among `items` (objects of the process:
    /// a module's constants), if one is.
    pub fn function_code_among(&self, items: &[u64], name: &str, code_type: u64) -> Option<u64> {
        let object_type = self.layout.kernel.object_type as u64;
        items
            .iter()
            .copied()
            .filter(|&item| {
                self.memory.read_u64(item.wrapping_add(object_type)).ok() == Some(code_type)
            })
            .find(|&item| {
                self.memory
                    .read_u64(item.wrapping_add(self.layout.code.name as u64))
                    .ok()
                    .and_then(|s| self.read_unicode(s).ok())
                    .is_some_and(|n| n == name)
            })
    }

    /// The code object of the function held in local variable `local` of
    /// the interpreter frame `frame` running `code` (CPython 3.11-3.13:
    /// `localsplus` at 72 in the frame, `co_localsplusnames` 16 bytes
    /// before `co_filename`; 3.14+: at 80, tagged references), if it is a
    /// function whose code object is named `name`.
    pub fn function_code_in_local(
        &self,
        frame: u64,
        code: u64,
        local: &str,
        name: &str,
        code_type: u64,
        minor: u8,
    ) -> Option<u64> {
        const FUNC_CODE: u64 = 48;
        let localsplus = if minor >= 14 { 80 } else { 72 };
        let names = self
            .memory
            .read_u64(code.wrapping_add(self.layout.code.filename as u64 - 16))
            .ok()?;
        use coldspy_common::offsets::{TUPLE_ITEMS, TUPLE_SIZE};
        let count = self
            .memory
            .read_u64(names.wrapping_add(TUPLE_SIZE))
            .ok()?
            .min(4096) as usize;
        let items = self
            .memory
            .read_vec(names.wrapping_add(TUPLE_ITEMS), count * 8)
            .ok()?;
        let index = items
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .position(|s| self.read_unicode(s).is_ok_and(|n| n == local))?;
        let mask = self.layout.kernel.code_ptr_mask;
        let function = self
            .memory
            .read_u64(frame.wrapping_add(localsplus + 8 * index as u64))
            .ok()?
            & mask;
        let found = self
            .memory
            .read_u64(function.wrapping_add(FUNC_CODE))
            .ok()?;
        let object_type = self.layout.kernel.object_type as u64;
        (self.memory.read_u64(found.wrapping_add(object_type)).ok()? == code_type).then_some(())?;
        let found_name = self
            .memory
            .read_u64(found.wrapping_add(self.layout.code.name as u64))
            .ok()?;
        (self.read_unicode(found_name).ok()? == name).then_some(found)
    }

    /// Reads a `str` object.
    pub fn read_unicode(&self, addr: u64) -> Result<String, MemoryError> {
        let s = &self.layout.strings;
        let length = self
            .memory
            .read_u64(addr.wrapping_add(s.length as u64))?
            .min(MAX_STRING_CHARS);
        let state = self.memory.read_u32(addr.wrapping_add(s.state as u64))?;
        let kind = ((state >> 2) & 7) as u64;
        let compact = (state >> 5) & 1 == 1;
        let ascii = (state >> 6) & 1 == 1;
        let data = match (compact, ascii) {
            (true, true) => addr.wrapping_add(s.ascii_size as u64),
            (true, false) => addr.wrapping_add(s.compact_size as u64),
            (false, _) => self
                .memory
                .read_u64(addr.wrapping_add(s.compact_size as u64))?,
        };
        let kind = kind.clamp(1, 4);
        let raw = self.memory.read_vec(data, (length * kind) as usize)?;
        Ok(match kind {
            1 => raw.iter().map(|&b| b as char).collect(),
            2 => raw
                .chunks_exact(2)
                .map(|c| char::from_u32(u16::from_le_bytes([c[0], c[1]]) as u32).unwrap_or('?'))
                .collect(),
            _ => raw
                .chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])).unwrap_or('?')
                })
                .collect(),
        })
    }

    /// Reads a `bytes` object.
    pub fn read_bytes_object(&self, addr: u64) -> Result<Vec<u8>, MemoryError> {
        let s = &self.layout.strings;
        let size = self
            .memory
            .read_u64(addr.wrapping_add(s.length as u64))?
            .min(MAX_TABLE_BYTES);
        self.memory
            .read_vec(addr.wrapping_add(s.bytes_data as u64), size as usize)
    }
}

#[cfg(test)]
mod tests {
    //! The symbolizer on fabricated byte images laid out with the real 3.12
    //! table: a code object, its strings (compact ASCII, kind 2 and kind 4)
    //! and its line table (bytes object, taken from CPython 3.12.1's
    //! `handler.__code__.co_linetable`, whose `co_lines()` is the oracle).
    use super::*;
    use crate::python::offsets::table_for;
    use crate::python::version::PythonVersion;
    use std::collections::BTreeMap;

    /// A sparse address space: regions at addresses.
    #[derive(Default)]
    struct Image {
        regions: BTreeMap<u64, Vec<u8>>,
    }

    impl ReadMemory for Image {
        fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
            let outside = MemoryError::Outside {
                addr,
                len: buf.len(),
            };
            let (&start, bytes) = self.regions.range(..=addr).next_back().ok_or(outside)?;
            let from = (addr - start) as usize;
            let src = bytes
                .get(from..from + buf.len())
                .ok_or(MemoryError::Outside {
                    addr,
                    len: buf.len(),
                })?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    impl Image {
        /// A zeroed region of `len` bytes at `addr`.
        fn region(&mut self, addr: u64, len: usize) -> &mut Vec<u8> {
            self.regions.entry(addr).or_insert_with(|| vec![0; len])
        }
        fn put(&mut self, addr: u64, offset: u32, bytes: &[u8]) {
            let (&start, region) = self.regions.range_mut(..=addr).next_back().unwrap();
            let at = (addr - start) as usize + offset as usize;
            region[at..at + bytes.len()].copy_from_slice(bytes);
        }
    }

    fn layout() -> VersionLayout {
        table_for(PythonVersion::new(3, 12, 0)).unwrap()
    }

    /// `PyASCIIObject.state`: kind in bits 2-4, compact bit 5, ascii bit 6.
    fn state(kind: u32, ascii: bool) -> u32 {
        (kind << 2) | (1 << 5) | (u32::from(ascii) << 6)
    }

    /// A compact `str` at `addr`: ASCII (kind 1) or kind 2/4 code units.
    fn put_str(image: &mut Image, addr: u64, text: &str) {
        let s = layout().strings;
        let chars: Vec<u32> = text.chars().map(u32::from).collect();
        let max = chars.iter().copied().max().unwrap_or(0);
        let (kind, ascii) = match max {
            0..=0x7f => (1, true),
            0x80..=0xff => (1, false),
            0x100..=0xffff => (2, false),
            _ => (4, false),
        };
        let data_at = if ascii { s.ascii_size } else { s.compact_size };
        image.region(addr, data_at as usize + chars.len() * kind as usize + 4);
        image.put(addr, s.length, &(chars.len() as u64).to_le_bytes());
        image.put(addr, s.state, &state(kind, ascii).to_le_bytes());
        let data: Vec<u8> = chars
            .iter()
            .flat_map(|&c| c.to_le_bytes()[..kind as usize].to_vec())
            .collect();
        image.put(addr, data_at, &data);
    }

    fn put_bytes(image: &mut Image, addr: u64, bytes: &[u8]) {
        let s = layout().strings;
        image.region(addr, s.bytes_data as usize + bytes.len() + 1);
        image.put(addr, s.length, &(bytes.len() as u64).to_le_bytes());
        image.put(addr, s.bytes_data, bytes);
    }

    const CODE: u64 = 0x10_000;
    const NAME: u64 = 0x20_000;
    const QUALNAME: u64 = 0x21_000;
    const FILE: u64 = 0x22_000;
    const TABLE: u64 = 0x23_000;
    /// `handler`'s line table, CPython 3.12.1; `co_lines()`: bytes 0-2 line 1,
    /// 2-6 line 2, 6-16 line 3, 16-46 line 4, 46-48 line 3, 48-52 line 5.
    const LINETABLE_HEX: &str =
        "8000d80c0d8045d80d12f2000105188801d8080d941390519316890f8905f003010518e00b10804c";

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// An image with one code object named `handler` / `App.handler` in `file`.
    fn code_image(file: &str) -> Image {
        let l = layout();
        let mut image = Image::default();
        image.region(CODE, l.code.code_adaptive as usize + 64);
        for (offset, ptr) in [
            (l.code.name, NAME),
            (l.code.qualname, QUALNAME),
            (l.code.filename, FILE),
            (l.code.linetable, TABLE),
        ] {
            image.put(CODE, offset, &ptr.to_le_bytes());
        }
        image.put(CODE, l.code.firstlineno, &1i32.to_le_bytes());
        put_str(&mut image, NAME, "handler");
        put_str(&mut image, QUALNAME, "App.handler");
        put_str(&mut image, FILE, file);
        put_bytes(&mut image, TABLE, &hex(LINETABLE_HEX));
        image
    }

    fn raw(byte_offset: u64) -> RawFrame {
        let l = layout();
        assert_eq!(
            l.kernel.code_name, l.code.qualname,
            "3.12 keys on co_qualname"
        );
        RawFrame {
            code_addr: CODE,
            instr: CODE + l.code.code_adaptive as u64 + byte_offset,
            code_key: code_key(FILE, QUALNAME),
        }
    }

    #[test]
    fn a_code_object_gives_function_qualname_file_and_line() {
        let mut symbolizer = Symbolizer::with_memory(code_image("/srv/app.py"), layout());
        for (offset, line) in [(0, 1), (4, 2), (20, 4), (46, 3), (50, 5)] {
            let frame = symbolizer.frame(raw(offset)).unwrap();
            assert_eq!(frame.function, "handler");
            assert_eq!(frame.qualname, "App.handler");
            assert_eq!(frame.file, "/srv/app.py");
            assert_eq!(frame.line, line, "byte offset {offset}");
        }
    }

    #[test]
    fn a_file_name_with_control_characters_is_not_a_file() {
        // Seen in real recordings: a code object freed and reused while read
        // gave import sites like "\x02:1"; they must be `<unknown>`, not files.
        for garbage in ["\u{2}", "", "/srv/\u{1b}[31mapp.py"] {
            let mut symbolizer = Symbolizer::with_memory(code_image(garbage), layout());
            assert!(symbolizer.frame(raw(0)).is_none(), "{garbage:?}");
        }
        let mut symbolizer =
            Symbolizer::with_memory(code_image("<frozen importlib._bootstrap>"), layout());
        assert!(symbolizer.frame(raw(0)).is_some());
    }

    #[test]
    fn a_stale_identity_key_is_not_symbolized() {
        let mut symbolizer = Symbolizer::with_memory(code_image("/srv/app.py"), layout());
        let mut stale = raw(20);
        stale.code_key = code_key(FILE, NAME);
        assert!(symbolizer.frame(stale).is_none());
        assert!(symbolizer.frame(raw(20)).is_some());
    }

    #[test]
    fn strings_of_every_kind_decode() {
        let mut image = Image::default();
        let cases = [
            (0x1000, "main.py"),
            (0x2000, "café.py"),
            (0x3000, "日本語/€.py"),
            (0x4000, "𝔘nicode_🐍.py"),
        ];
        for (addr, text) in cases {
            put_str(&mut image, addr, text);
        }
        let symbolizer = Symbolizer::with_memory(image, layout());
        for (addr, text) in cases {
            assert_eq!(symbolizer.read_unicode(addr).unwrap(), text);
        }
    }

    #[test]
    fn a_non_ascii_file_name_reaches_the_frame() {
        let mut symbolizer = Symbolizer::with_memory(code_image("/srv/€uro/ñ.py"), layout());
        assert_eq!(symbolizer.frame(raw(50)).unwrap().file, "/srv/€uro/ñ.py");
    }

    #[test]
    fn a_bytes_object_reads_back() {
        let mut image = Image::default();
        put_bytes(&mut image, 0x5000, b"\x00\x01line table\xff");
        let symbolizer = Symbolizer::with_memory(image, layout());
        assert_eq!(
            symbolizer.read_bytes_object(0x5000).unwrap(),
            b"\x00\x01line table\xff"
        );
    }

    #[test]
    fn an_unreadable_name_is_an_error_not_a_panic() {
        let mut image = code_image("/srv/app.py");
        // The name pointer now leads outside the image.
        image.put(CODE, layout().code.name, &0xdead_0000u64.to_le_bytes());
        let mut symbolizer = Symbolizer::with_memory(image, layout());
        assert!(symbolizer.frame(raw(20)).is_none());
        assert_eq!(
            symbolizer
                .read_unicode(0xdead_0000)
                .unwrap_err()
                .to_string(),
            "no 8 bytes at 0xdead0010 in the memory image"
        );
    }

    /// A torn sample can carry any 8 bytes as its code address, and a code
    /// object being freed any bytes as its pointers: addresses near the top
    /// of the address space must fail the read, not overflow the sum.
    #[test]
    fn addresses_at_the_top_of_the_address_space_fail_the_read() {
        let mut symbolizer = Symbolizer::with_memory(code_image("/srv/app.py"), layout());
        for code_addr in [u64::MAX, u64::MAX - 8, u64::MAX - 0x40] {
            let torn = RawFrame {
                code_addr,
                instr: u64::MAX,
                code_key: 0,
            };
            assert!(symbolizer.frame(torn).is_none(), "{code_addr:#x}");
        }
        for field in [
            layout().code.name,
            layout().code.filename,
            layout().code.linetable,
        ] {
            let mut image = code_image("/srv/app.py");
            image.put(CODE, field, &(u64::MAX - 4).to_le_bytes());
            let mut symbolizer = Symbolizer::with_memory(image, layout());
            assert!(symbolizer.frame(raw(20)).is_none(), "field at {field}");
        }
        assert!(symbolizer.read_unicode(u64::MAX - 2).is_err());
        assert!(symbolizer.read_bytes_object(u64::MAX - 2).is_err());
    }
}
