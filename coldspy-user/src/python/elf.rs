//! The ELF files of an interpreter: symbols, load segments, entry point and
//! `DT_NEEDED`, read with `object`. Files are opened through
//! `/proc/PID/root` so that processes in a chroot or container work.

use object::{Object, ObjectSegment, ObjectSymbol};
use std::path::{Path, PathBuf};

/// Errors reading an ELF file.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an ELF object `object` can parse.
    #[error("{path} is not a readable ELF file: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: object::Error,
    },
}

/// What coldspy needs from one ELF file.
#[derive(Debug, Clone, Default)]
pub struct ElfInfo {
    /// The file, as opened.
    pub path: PathBuf,
    /// Symbols of interest (name → virtual address), from `.symtab` or `.dynsym`.
    pub symbols: std::collections::HashMap<String, u64>,
    /// `(vaddr, file offset, memsz)` of each `PT_LOAD` segment.
    pub loads: Vec<(u64, u64, u64)>,
    /// The entry point (virtual address).
    pub entry: u64,
    /// `DT_NEEDED` libraries.
    pub needed: Vec<String>,
    /// `DT_RUNPATH` directories (`$ORIGIN` not expanded).
    pub runpath: Vec<String>,
    /// `DT_RPATH` directories (`$ORIGIN` not expanded).
    pub rpath: Vec<String>,
    /// Whether it has a `.symtab` (not stripped).
    pub has_symtab: bool,
    /// USDT probes (`provider:name`) from `.note.stapsdt`.
    pub usdt_probes: Vec<String>,
}

/// Symbols coldspy looks up in an interpreter binary.
pub const INTERESTING_SYMBOLS: &[&str] = &[
    "_PyRuntime",
    "Py_Version",
    "PyCode_Type",
    "_Py_DebugOffsets",
    "PyObject_CallMethodObjArgs",
    "_PyObject_CallMethodIdObjArgs",
    "PyImport_ImportModuleLevelObject",
    "PyEval_EvalCode",
    "Py_BytesMain",
];

/// Identity of a file on disk: the same (device, inode, size, mtime) is the same file.
type FileIdentity = (u64, u64, u64, i64, i64);

/// ELF files already read in this process: a target is inspected at exec
/// and again at its entry stop, while it waits.
static CACHE: std::sync::Mutex<Vec<(FileIdentity, ElfInfo)>> = std::sync::Mutex::new(Vec::new());

impl ElfInfo {
    /// Reads an ELF file (memory-mapped; cached per file identity).
    pub fn read(path: &Path) -> Result<Self, ElfError> {
        use std::os::unix::fs::MetadataExt;
        let io = |source| ElfError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let identity = (
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec(),
        );
        if let Some((_, info)) = CACHE
            .lock()
            .ok()
            .and_then(|c| c.iter().find(|(id, _)| *id == identity).cloned())
        {
            return Ok(ElfInfo {
                path: path.to_path_buf(),
                ..info
            });
        }
        // SAFETY: the mapping is read-only and dropped before returning; a
        // binary changed underneath us would at worst give a parse error.
        let data = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        let info = Self::parse(path, &data)?;
        if let Ok(mut cache) = CACHE.lock() {
            cache.push((identity, info.clone()));
        }
        Ok(info)
    }

    fn parse(path: &Path, data: &[u8]) -> Result<Self, ElfError> {
        let file = object::File::parse(data).map_err(|source| ElfError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        let mut info = ElfInfo {
            path: path.to_path_buf(),
            entry: file.entry(),
            has_symtab: file.symbols().next().is_some(),
            ..ElfInfo::default()
        };
        for symbol in file.symbols().chain(file.dynamic_symbols()) {
            if symbol.address() == 0 {
                continue;
            }
            if let Ok(name) = symbol.name() {
                if INTERESTING_SYMBOLS.contains(&name) {
                    info.symbols
                        .entry(name.to_string())
                        .or_insert(symbol.address());
                }
            }
        }
        for segment in file.segments() {
            let (offset, _) = segment.file_range();
            info.loads.push((segment.address(), offset, segment.size()));
        }
        (info.needed, info.runpath, info.rpath) = dynamic_strings(&file);
        info.usdt_probes = usdt_probes(&file);
        Ok(info)
    }

    /// Address of a symbol (before relocation).
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).copied()
    }

    /// File offset of a virtual address (for uprobes).
    pub fn file_offset(&self, vaddr: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|&&(start, _, size)| vaddr >= start && vaddr < start + size)
            .map(|&(start, offset, _)| vaddr - start + offset)
    }

    /// The load bias, given where the segment at file offset 0 is mapped.
    pub fn load_bias(&self, mapping_start_of_offset_zero: u64) -> u64 {
        let first = self
            .loads
            .iter()
            .map(|&(vaddr, _, _)| vaddr & !0xfff)
            .min()
            .unwrap_or(0);
        mapping_start_of_offset_zero.wrapping_sub(first)
    }

    /// Whether it links against a libpython (`DT_NEEDED libpython3.*`).
    pub fn needs_libpython(&self) -> bool {
        self.needed.iter().any(|n| n.starts_with("libpython3"))
    }
}

/// The `provider:name` of each stapsdt note (SystemTap USDT probes).
fn usdt_probes(file: &object::File<'_>) -> Vec<String> {
    use object::ObjectSection;
    let Some(data) = file
        .section_by_name(".note.stapsdt")
        .and_then(|s| s.data().ok())
    else {
        return Vec::new();
    };
    let mut probes = Vec::new();
    let mut at = 0usize;
    let word = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let align4 = |n: usize| (n + 3) & !3;
    while let (Some(name_len), Some(desc_len)) = (word(at), word(at + 4)) {
        let name_start = at + 12;
        let desc_start = name_start + align4(name_len);
        // desc: pc, base, semaphore (3 × u64), then provider\0name\0args\0.
        if let Some(desc) = data.get(desc_start + 24..desc_start + desc_len) {
            let mut parts = desc.split(|&b| b == 0);
            if let (Some(provider), Some(name)) = (parts.next(), parts.next()) {
                probes.push(format!(
                    "{}:{}",
                    String::from_utf8_lossy(provider),
                    String::from_utf8_lossy(name)
                ));
            }
        }
        at = desc_start + align4(desc_len);
    }
    probes
}

/// `DT_NEEDED`, `DT_RUNPATH` and `DT_RPATH` of an ELF file.
fn dynamic_strings(file: &object::File<'_>) -> (Vec<String>, Vec<String>, Vec<String>) {
    use object::read::elf::{Dyn, ElfFile64, FileHeader, SectionHeader};
    let object::File::Elf64(elf) = file else {
        return Default::default();
    };
    let elf: &ElfFile64<'_> = elf;
    let endian = elf.endian();
    let data = elf.data();
    let header = elf.elf_header();
    let Ok(sections) = header.sections(endian, data) else {
        return Default::default();
    };
    let (mut needed, mut runpath, mut rpath) = (Vec::new(), Vec::new(), Vec::new());
    for section in sections.iter() {
        let Ok(Some((entries, link))) = section.dynamic(endian, data) else {
            continue;
        };
        let Ok(strings) = sections.strings(endian, data, link) else {
            continue;
        };
        for entry in entries {
            let Ok(value) = entry.string(endian, strings) else {
                continue;
            };
            let value = String::from_utf8_lossy(value).into_owned();
            match entry.tag32(endian) {
                Some(object::elf::DT_NEEDED) => needed.push(value),
                Some(object::elf::DT_RUNPATH) => {
                    runpath.extend(value.split(':').map(str::to_string))
                }
                Some(object::elf::DT_RPATH) => rpath.extend(value.split(':').map(str::to_string)),
                _ => {}
            }
        }
    }
    (needed, runpath, rpath)
}

/// The path to open a file a process has mapped.
///
/// `/proc/PID/maps` and `/proc/PID/exe` show a path from *our* root when
/// the file is reachable from it (a chroot: `ROOT/usr/bin/python3.14`), and
/// from the target's mount root when it is not (a container's own mount
/// namespace: `/usr/bin/python3`). The second kind opens through
/// `/proc/PID/root`; the first as it is.
pub fn path_in_process(pid: u32, path: &Path) -> PathBuf {
    let mut inside = PathBuf::from(format!("/proc/{pid}/root"));
    inside.push(path.strip_prefix("/").unwrap_or(path));
    if !inside.exists() && path.exists() {
        return path.to_path_buf();
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_seen_from_our_root_open_as_they_are() {
        let me = std::process::id();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        // Our own root is `/`: both readings name the same file.
        assert!(path_in_process(me, &exe).exists());
        let chrooted = Path::new("/proc/self/cwd");
        assert_eq!(
            path_in_process(me, chrooted),
            PathBuf::from(format!("/proc/{me}/root/proc/self/cwd"))
        );
        let host_only = std::env::temp_dir().join(format!("coldspy-elf-{me}"));
        std::fs::write(&host_only, b"x").unwrap();
        assert!(path_in_process(me, &host_only).exists());
        std::fs::remove_file(&host_only).unwrap();
    }
}
