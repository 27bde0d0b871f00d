//! Code object → function, file and line, read from the target's memory
//! and cached per code object (least recently used first out, at most
//! [`MAX_CACHED_CODE_OBJECTS`] per process).

use crate::model::profile::Frame;
use crate::python::linetable;
use crate::python::memory::{MemoryError, ProcessMemory};
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

/// Symbolizes frames of one process.
#[derive(Debug)]
pub struct Symbolizer {
    memory: ProcessMemory,
    layout: VersionLayout,
    /// (address, identity key) → what was read there.
    codes: LruCache<(u64, u64), CodeInfo>,
}

impl Symbolizer {
    /// A symbolizer for a process with the given layout.
    pub fn new(pid: u32, layout: VersionLayout) -> Self {
        Self {
            memory: ProcessMemory { pid },
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
            InstrKind::Pointer => {
                raw.instr as i64 - (raw.code_addr + self.layout.code.code_adaptive as u64) as i64
            }
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
            .read_u64(addr + kernel.code_filename as u64)
            .ok()?;
        let name = self.memory.read_u64(addr + kernel.code_name as u64).ok()?;
        if code_key(filename, name) != key {
            return None;
        }
        self.read_code_fields(addr).ok()
    }

    fn read_code_fields(&self, addr: u64) -> Result<CodeInfo, MemoryError> {
        let code = &self.layout.code;
        let function = self.read_unicode(self.memory.read_u64(addr + code.name as u64)?)?;
        let qualname = if code.qualname != u32::MAX {
            self.read_unicode(self.memory.read_u64(addr + code.qualname as u64)?)?
        } else {
            function.clone()
        };
        let file = self.read_unicode(self.memory.read_u64(addr + code.filename as u64)?)?;
        let firstlineno = self.memory.read_i32(addr + code.firstlineno as u64)?.max(0) as u32;
        let table = self.memory.read_u64(addr + code.linetable as u64)?;
        let linetable = self.read_bytes_object(table)?;
        Ok(CodeInfo {
            function,
            qualname,
            file,
            firstlineno,
            linetable,
        })
    }

    /// Reads a `str` object.
    pub fn read_unicode(&self, addr: u64) -> Result<String, MemoryError> {
        let s = &self.layout.strings;
        let length = self
            .memory
            .read_u64(addr + s.length as u64)?
            .min(MAX_STRING_CHARS);
        let state = self.memory.read_u32(addr + s.state as u64)?;
        let kind = ((state >> 2) & 7) as u64;
        let compact = (state >> 5) & 1 == 1;
        let ascii = (state >> 6) & 1 == 1;
        let data = match (compact, ascii) {
            (true, true) => addr + s.ascii_size as u64,
            (true, false) => addr + s.compact_size as u64,
            (false, _) => self.memory.read_u64(addr + s.compact_size as u64)?,
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
            .read_u64(addr + s.length as u64)?
            .min(MAX_TABLE_BYTES);
        self.memory
            .read_vec(addr + s.bytes_data as u64, size as usize)
    }
}
