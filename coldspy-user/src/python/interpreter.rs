//! Finds the CPython interpreter inside a process: the binary holding
//! `_PyRuntime` (libpython or the executable), its load address, version
//! and layout, and turns them into the kernel's [`TargetConfig`].

use crate::python::elf::{path_in_process, ElfError, ElfInfo};
use crate::python::maps::{self, Mapping};
use crate::python::memory::{ProcessMemory, ReadMemory};
use crate::python::offsets::debug_offsets::{self, DebugOffsets, DebugOffsetsError};
use crate::python::offsets::{self, dwarf, VersionLayout};
use crate::python::version::PythonVersion;
use coldspy_common::offsets::{TargetConfig, NO_OFFSET, TARGET_PYTHON_READY};
use std::path::{Path, PathBuf};

/// Why no interpreter was found.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    /// The process does not exist (or is gone).
    #[error("no process with pid {0}")]
    NoProcess(u32),
    /// Neither the executable nor a mapped library is a CPython interpreter.
    #[error("process {pid} ({exe}) is not a Python process: no _PyRuntime in its executable or libraries")]
    NotPython {
        /// The process.
        pid: u32,
        /// Its executable.
        exe: String,
    },
    /// The executable links libpython, which the loader has not mapped yet.
    #[error("process {0} has not loaded libpython yet")]
    NotYetLoaded(u32),
    /// A CPython version without layout support.
    #[error("CPython {found} ({binary}) is not supported; supported: {supported}")]
    Unsupported {
        /// The version.
        found: PythonVersion,
        /// The interpreter binary.
        binary: String,
        /// What is supported.
        supported: String,
    },
    /// The version could not be determined.
    #[error("cannot tell the CPython version of {0}")]
    UnknownVersion(String),
    /// A 3.13+ interpreter whose `_Py_DebugOffsets` cannot be used.
    #[error("cannot read the struct layout of CPython {version} ({binary}): {source}")]
    DebugOffsets {
        /// The version.
        version: PythonVersion,
        /// The interpreter binary.
        binary: String,
        /// Why.
        source: DebugOffsetsError,
    },
    /// `_PyRuntime` could not be read.
    #[error("cannot read _PyRuntime of process {pid}: {source}")]
    Memory {
        /// The process.
        pid: u32,
        /// Why.
        source: crate::python::memory::MemoryError,
    },
    /// An ELF file could not be read.
    #[error(transparent)]
    Elf(#[from] ElfError),
}

impl FindError {
    /// The error a user sees when no interpreter is found in the process
    /// they named (`record --pid`, `info --pid`) or started: the input
    /// errors become [`SetupError`]s (exit status 2), the rest stay as they
    /// are (exit status 1). The one mapping for every command.
    ///
    /// [`SetupError`]: crate::error::SetupError
    pub fn into_user_error(self) -> anyhow::Error {
        use crate::error::SetupError;
        match self {
            FindError::NoProcess(pid) => SetupError::NoSuchProcess(pid).into(),
            FindError::NotPython { pid, exe } => SetupError::NotPython { pid, exe }.into(),
            FindError::Unsupported {
                found,
                binary,
                supported,
            } => SetupError::UnsupportedPython {
                found: found.to_string(),
                binary,
                supported,
            }
            .into(),
            FindError::NotYetLoaded(pid) => {
                anyhow::anyhow!("process {pid} has not loaded libpython yet; try again in a moment")
            }
            other => anyhow::Error::new(other),
        }
    }
}

/// A CPython interpreter found in a process.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The process.
    pub pid: u32,
    /// Its version.
    pub version: PythonVersion,
    /// The binary holding `_PyRuntime`, as the process sees it.
    pub binary: PathBuf,
    /// The process's executable, as the process sees it.
    pub executable: PathBuf,
    /// The binary's ELF facts.
    pub elf: ElfInfo,
    /// Load bias of `binary`.
    pub bias: u64,
    /// Address of `_PyRuntime`.
    pub runtime_addr: u64,
    /// Address of `PyCode_Type` (0 if not exported).
    pub code_type_addr: u64,
    /// The struct layout.
    pub layout: VersionLayout,
    /// Where the layout came from (`table:3.12`, `debug-offsets:3.14.10`).
    pub layout_source: String,
    /// `static` (the executable holds the interpreter) or `shared` (libpython).
    pub build: &'static str,
}

/// Versions this build of coldspy supports, for messages.
pub fn supported_versions() -> String {
    offsets::supported_versions()
}

impl Interpreter {
    /// Finds the interpreter of a running (or stopped) process.
    pub fn find(pid: u32) -> Result<Self, FindError> {
        let mappings = maps::read(pid).map_err(|_| FindError::NoProcess(pid))?;
        let executable = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map_err(|_| FindError::NoProcess(pid))?;
        let mut candidates: Vec<&Path> = Vec::new();
        for m in &mappings {
            let is_libpython = m
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libpython3"));
            if is_libpython && !candidates.contains(&m.path.as_path()) {
                candidates.push(&m.path);
            }
        }
        candidates.push(&executable);
        for binary in candidates {
            let elf = ElfInfo::read(&path_in_process(pid, binary))?;
            if elf.symbol("_PyRuntime").is_none() {
                continue;
            }
            let Some(bias) = load_bias(&mappings, binary, &elf) else {
                continue;
            };
            let build = if binary == executable {
                "static"
            } else {
                "shared"
            };
            return Self::from_binary(pid, binary, &executable, elf, bias, build);
        }
        let exe_elf = ElfInfo::read(&path_in_process(pid, &executable))?;
        if exe_elf.needs_libpython() {
            return Err(FindError::NotYetLoaded(pid));
        }
        Err(FindError::NotPython {
            pid,
            exe: executable.display().to_string(),
        })
    }

    fn from_binary(
        pid: u32,
        binary: &Path,
        executable: &Path,
        elf: ElfInfo,
        bias: u64,
        build: &'static str,
    ) -> Result<Self, FindError> {
        let memory = ProcessMemory { pid };
        let runtime_addr = bias + elf.symbol("_PyRuntime").unwrap_or(0);
        let version = detect_version(&memory, binary, &elf, bias, pid)?;
        let (layout, layout_source) = if version.minor >= offsets::FIRST_DEBUG_OFFSETS_MINOR {
            let bytes = memory
                .read_vec(runtime_addr, debug_offsets::READ_BYTES)
                .map_err(|source| FindError::Memory { pid, source })?;
            match DebugOffsets::parse(&bytes) {
                Ok(debug) => (
                    debug.layout(),
                    format!("debug-offsets:{} (shape {})", debug.version, debug.shape),
                ),
                // The build's DWARF, when it ships some, has the same fields.
                Err(source) => {
                    match dwarf::debug_offsets_from_dwarf(&path_in_process(pid, binary), version) {
                        Ok(from_dwarf) => {
                            log::info!(
                            "_Py_DebugOffsets of {} unusable ({source}); layout read from its DWARF",
                            binary.display()
                        );
                            (from_dwarf.layout(), format!("dwarf:{}", binary.display()))
                        }
                        Err(dwarf_error) => {
                            log::debug!("DWARF fallback for {}: {dwarf_error}", binary.display());
                            return Err(FindError::DebugOffsets {
                                version,
                                binary: binary.display().to_string(),
                                source,
                            });
                        }
                    }
                }
            }
        } else {
            let layout = offsets::table_for(version).ok_or_else(|| FindError::Unsupported {
                found: version,
                binary: binary.display().to_string(),
                supported: supported_versions(),
            })?;
            (layout, format!("table:{}", version.minor_string()))
        };
        let code_type_addr = elf.symbol("PyCode_Type").map(|a| bias + a).unwrap_or(0);
        Ok(Self {
            pid,
            version,
            binary: binary.to_path_buf(),
            executable: executable.to_path_buf(),
            elf,
            bias,
            runtime_addr,
            code_type_addr,
            layout,
            layout_source,
            build,
        })
    }

    /// The exported function the import probes attach to, and the file
    /// offsets of the probes in [`Self::binary`].
    pub fn import_probe_point(&self) -> Option<(&'static str, ImportProbePoints)> {
        import_probe_point(&self.elf, self.version)
    }

    /// How import start and end are observed on this build: the uprobe
    /// pair on the exported function that calls importlib's
    /// `_find_and_load` (`uprobe:<symbol>`), with `+PyEval_EvalCode` when
    /// module bodies are probed too, or `none`.
    pub fn import_route(&self) -> String {
        match self.import_probe_point() {
            Some((symbol, points)) if points.module_body.is_some() => {
                format!("uprobe:{symbol}+PyEval_EvalCode")
            }
            Some((symbol, _)) => format!("uprobe:{symbol}"),
            None => "none".to_string(),
        }
    }

    /// The thread ids of the interpreter's thread states (`native_thread_id`,
    /// or `thread_id` = `pthread_self()` before 3.11), read from its thread
    /// list as the kernel walks it. At most `limit`.
    pub fn python_threads(&self, limit: usize) -> Result<Vec<u64>, FindError> {
        let memory = ProcessMemory { pid: self.pid };
        let kernel = &self.layout.kernel;
        let chain = &kernel.runtime_to_first_tstate;
        let read = |addr: u64| {
            memory.read_u64(addr).map_err(|source| FindError::Memory {
                pid: self.pid,
                source,
            })
        };
        let mut tstate = self.runtime_addr;
        for &offset in &chain.offsets[..chain.len as usize] {
            if tstate == 0 {
                break;
            }
            tstate = read(tstate.wrapping_add(offset as u64))?;
        }
        let id_field = if kernel.tstate_native_thread_id != NO_OFFSET {
            kernel.tstate_native_thread_id
        } else {
            kernel.tstate_thread_id
        };
        let mut ids = Vec::new();
        while tstate != 0 && ids.len() < limit {
            ids.push(read(tstate.wrapping_add(id_field as u64))?);
            tstate = read(tstate.wrapping_add(kernel.tstate_next as u64))?;
        }
        Ok(ids)
    }

    /// The kernel config for this interpreter, with `extra_flags`.
    pub fn target_config(&self, extra_flags: u32) -> TargetConfig {
        TargetConfig {
            runtime_addr: self.runtime_addr,
            code_type_addr: self.code_type_addr,
            flags: TARGET_PYTHON_READY | extra_flags,
            _pad: 0,
            layout: self.layout.kernel,
        }
    }
}

/// Where the import probes go in an interpreter binary (file offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProbePoints {
    /// The function through which importlib's `_find_and_load` is called.
    pub find_and_load: u64,
    /// `PyEval_EvalCode`, which runs every module body (imports that bypass
    /// the import statement are seen by it); `None` when not exported.
    pub module_body: Option<u64>,
}

/// The exported function through which a CPython `version` calls importlib's
/// `_find_and_load`, and the probes' file offsets in `elf`.
pub fn import_probe_point(
    elf: &ElfInfo,
    version: PythonVersion,
) -> Option<(&'static str, ImportProbePoints)> {
    let symbol = if (version.major, version.minor) >= (3, 11) {
        "PyObject_CallMethodObjArgs"
    } else {
        "_PyObject_CallMethodIdObjArgs"
    };
    let find_and_load = elf.file_offset(elf.symbol(symbol)?)?;
    let module_body = elf
        .symbol("PyEval_EvalCode")
        .and_then(|addr| elf.file_offset(addr));
    Some((
        symbol,
        ImportProbePoints {
            find_and_load,
            module_body,
        },
    ))
}

/// The interpreter's version: `Py_Version` (3.11+), else the `PY_VERSION`
/// literal in the binary, checked against the file name (`libpython3.10.so`,
/// `python3.9`) when that names a version.
fn detect_version(
    memory: &ProcessMemory,
    binary: &Path,
    elf: &ElfInfo,
    bias: u64,
    pid: u32,
) -> Result<PythonVersion, FindError> {
    if let Some(version) = elf
        .symbol("Py_Version")
        .and_then(|addr| memory.read_u64(bias.wrapping_add(addr)).ok())
        .and_then(PythonVersion::from_hex)
    {
        return Ok(version);
    }
    let from_name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(PythonVersion::from_file_name);
    let from_literal = std::fs::read(path_in_process(pid, binary))
        .ok()
        .and_then(|data| PythonVersion::from_version_string(&data, from_name.map(|v| v.minor)));
    from_literal
        .or(from_name)
        .ok_or_else(|| FindError::UnknownVersion(binary.display().to_string()))
}

/// The load bias of `binary`: where its offset-0 mapping starts, minus the
/// first segment's address.
fn load_bias(mappings: &[Mapping], binary: &Path, elf: &ElfInfo) -> Option<u64> {
    let start = mappings
        .iter()
        .find(|m| m.path == binary && m.offset == 0)?
        .start;
    Some(elf.load_bias(start))
}
