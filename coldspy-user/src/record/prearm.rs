//! Attaching probes before a started command runs, so that the stops that
//! hold it are short: registering a uprobe waits for an RCU grace period
//! (milliseconds), which the target would otherwise spend stopped.
//!
//! The interpreter binary is predicted the way the dynamic loader would
//! find it. A wrong prediction costs only speed: the entry stop reads the
//! real mappings and attaches whatever is missing.

use crate::python::elf::ElfInfo;
use crate::python::interpreter::{import_probe_point, ImportProbePoints};
use crate::python::version::PythonVersion;
use std::path::{Path, PathBuf};

/// What was prepared for an executable.
#[derive(Debug, Clone)]
pub(super) enum Prearmed {
    /// A static interpreter: stop at exec to learn its load address.
    Static,
    /// Links libpython: stop at the (already probed) entry point.
    Shared,
}

/// The file the loader would pick for `needed`, from `exe`'s paths.
pub(super) fn resolve_library(exe: &Path, elf: &ElfInfo, needed: &str) -> Option<PathBuf> {
    let origin = exe
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let expand = |dir: &String| {
        dir.replace("$ORIGIN", &origin)
            .replace("${ORIGIN}", &origin)
    };
    let mut dirs: Vec<String> = Vec::new();
    if elf.runpath.is_empty() {
        dirs.extend(elf.rpath.iter().map(expand));
    }
    if let Ok(paths) = std::env::var("LD_LIBRARY_PATH") {
        dirs.extend(
            paths
                .split(':')
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        );
    }
    dirs.extend(elf.runpath.iter().map(expand));
    dirs.extend(ld_so_conf_dirs());
    dirs.extend(
        [
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/lib64",
            "/usr/lib64",
            "/lib",
            "/usr/lib",
        ]
        .iter()
        .map(|d| d.to_string()),
    );
    dirs.into_iter()
        .map(|d| Path::new(&d).join(needed))
        .find(|p| p.is_file())
}

fn ld_so_conf_dirs() -> Vec<String> {
    let mut dirs = Vec::new();
    let mut files = vec![PathBuf::from("/etc/ld.so.conf")];
    if let Ok(entries) = std::fs::read_dir("/etc/ld.so.conf.d") {
        let mut confs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        confs.sort();
        files.extend(confs);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.starts_with('/') {
                dirs.push(line.to_string());
            }
        }
    }
    dirs
}

/// Plans the probes for `program` (a resolved executable): the binary that
/// holds the interpreter, whether it is static, and where to put the
/// import probes and the entry probe. `None` for a non-Python program.
pub(super) struct Plan {
    /// Static or shared.
    pub kind: Prearmed,
    /// The binary with `_PyRuntime` and the import probe offset in it.
    pub import_probe: Option<(PathBuf, ImportProbePoints)>,
    /// For a shared build: the executable and the file offset of its entry.
    pub entry_probe: Option<(PathBuf, u64)>,
}

/// Plans the pre-attached probes for an executable.
pub(super) fn plan(program: &Path) -> Option<Plan> {
    let exe = std::fs::canonicalize(program).ok()?;
    let elf = ElfInfo::read(&exe).ok()?;
    let version_of = |path: &Path| PythonVersion::from_file_name(path.file_name()?.to_str()?);
    if elf.symbol("_PyRuntime").is_some() {
        let version = version_of(&exe)?;
        let import_probe = import_probe_point(&elf, version).map(|(_, off)| (exe.clone(), off));
        return Some(Plan {
            kind: Prearmed::Static,
            import_probe,
            entry_probe: None,
        });
    }
    let needed = elf.needed.iter().find(|n| n.starts_with("libpython3"))?;
    let library = resolve_library(&exe, &elf, needed)?;
    let lib_elf = ElfInfo::read(&library).ok()?;
    let version = version_of(&library)?;
    let import_probe = import_probe_point(&lib_elf, version).map(|(_, off)| (library.clone(), off));
    let entry_probe = elf.file_offset(elf.entry).map(|off| (exe.clone(), off));
    Some(Plan {
        kind: Prearmed::Shared,
        import_probe,
        entry_probe,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_pyenv_libpython_through_runpath() {
        // The interpreter set-up installed (panics with the set-up hint if not).
        let exe = std::path::PathBuf::from(coldspy_tests::python_of("pyenv-3.12"));
        let plan = plan(&exe).expect("pyenv python is a shared build");
        assert!(matches!(plan.kind, Prearmed::Shared));
        let (lib, _) = plan.import_probe.unwrap();
        assert_eq!(lib, coldspy_tests::libpython_of("pyenv-3.12"));
        assert!(plan.entry_probe.is_some());
        assert!(super::plan(Path::new("/bin/sh")).is_none());
    }
}
