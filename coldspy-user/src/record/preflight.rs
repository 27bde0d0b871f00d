//! Checks before loading anything: privileges and kernel features, each
//! failing with a sentence that says what to do.

use crate::error::SetupError;
use std::path::Path;

/// Capability bits in `CapEff`.
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn effective_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// Root, or CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE (or CAP_SYS_ADMIN).
pub(crate) fn check_privileges() -> Result<(), SetupError> {
    let caps = effective_caps();
    let has = |cap: u32| caps & (1u64 << cap) != 0;
    let bpf_ok = has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON));
    if bpf_ok && has(CAP_SYS_PTRACE) {
        Ok(())
    } else {
        Err(SetupError::NoPrivileges)
    }
}

/// tracefs mounted (mounting it if we can).
pub(crate) fn check_tracefs() -> Result<(), SetupError> {
    let events = Path::new(crate::loader::TRACEFS).join("events");
    if events.exists() {
        return Ok(());
    }
    let _ = std::process::Command::new("mount")
        .args(["-t", "tracefs", "nodev", crate::loader::TRACEFS])
        .status();
    if events.exists() {
        Ok(())
    } else {
        Err(SetupError::MissingKernelFeature {
            feature: format!("tracefs at {}", crate::loader::TRACEFS),
            hint: "mount it with `mount -t tracefs nodev /sys/kernel/tracing` (kernel needs CONFIG_FTRACE)"
                .into(),
        })
    }
}

/// Files larger than this are not searched for a version string.
const MAX_SEARCHED_BINARY: u64 = 512 << 20;

/// The CPython version a binary announces by its content, whatever its
/// name: the `libpythonX.Y` it links against (`DT_NEEDED`), or, if it is a
/// CPython itself (it defines `Py_GetVersion`, as an executable linked
/// statically or a libpython does), its `PY_VERSION` string (`"2.7.18"`);
/// CPython 2 is told by the `PyString_FromString` it defines.
pub(super) fn cpython_version_in_content(path: &Path) -> Option<(u32, u32)> {
    use object::{Object, ObjectSymbol};
    let elf = crate::python::elf::ElfInfo::read(path).ok()?;
    if let Some(found) = elf
        .needed
        .iter()
        .find_map(|lib| cpython_version_in_name(lib))
    {
        return Some(found);
    }
    if std::fs::metadata(path).ok()?.len() > MAX_SEARCHED_BINARY {
        return None;
    }
    let data = std::fs::read(path).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let defines = |name: &str| {
        file.dynamic_symbols()
            .chain(file.symbols())
            .any(|s| !s.is_undefined() && s.name() == Ok(name))
    };
    if !defines("Py_GetVersion") {
        return None;
    }
    if defines("PyString_FromString") {
        return Some(version_string_in(&data, 2).unwrap_or((2, 7)));
    }
    crate::python::version::PythonVersion::from_version_string(&data, None)
        .map(|v| (u32::from(v.major), u32::from(v.minor)))
}

/// The most frequent `MAJOR.N.N` string (a `PY_VERSION` literal:
/// NUL-terminated, perhaps merged into the tail of a path such as
/// `/versions/2.7.18`) in a binary's bytes.
fn version_string_in(data: &[u8], major: u8) -> Option<(u32, u32)> {
    let mut counts: std::collections::HashMap<(u32, u32), usize> = Default::default();
    for at in 1..data.len().saturating_sub(6) {
        if data[at] != b'0' + major || data[at + 1] != b'.' {
            continue;
        }
        // Not `GLIBC_2.2.5` (symbol versions) nor inside a longer number.
        if data[at - 1].is_ascii_alphanumeric() || matches!(data[at - 1], b'.' | b'_') {
            continue;
        }
        let rest = &data[at + 2..data.len().min(at + 10)];
        let Some(end) = rest.iter().position(|&b| b == 0) else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(&rest[..end]) else {
            continue;
        };
        let digits = |p: &str| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
        if let Some((minor, patch)) = text.split_once('.') {
            if digits(minor) && digits(patch) {
                if let Ok(minor) = minor.parse() {
                    *counts.entry((u32::from(major), minor)).or_default() += 1;
                }
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|&(v, n)| (n, v))
        .map(|(v, _)| v)
}

/// The CPython version a binary's name or its libpython announces
/// (`python2.7`, `python3.6m`, `libpython3.6m.so.1.0`), as (major, minor).
pub(super) fn cpython_version_in_name(name: &str) -> Option<(u32, u32)> {
    let rest = name
        .strip_prefix("libpython")
        .or_else(|| name.strip_prefix("python"))?;
    let (major, rest) = rest.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Refuses a CPython older than 3.9 by its name (the executable, or a
/// mapped libpython of a process) or, renamed, by its content (the
/// libpython it links against, or the version string of one linked
/// statically) with "unsupported CPython 2.7" rather than "not a Python
/// process": such versions have no layout coldspy reads.
pub(super) fn check_not_old_cpython<'a>(
    names: impl IntoIterator<Item = &'a Path>,
) -> Result<(), SetupError> {
    check_old_cpython(names, true)
}

/// [`check_not_old_cpython`], looking into the files' content only with `by_content`.
fn check_old_cpython<'a>(
    names: impl IntoIterator<Item = &'a Path>,
    by_content: bool,
) -> Result<(), SetupError> {
    for path in names {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let found = cpython_version_in_name(name).or_else(|| {
            by_content
                .then(|| cpython_version_in_content(path))
                .flatten()
        });
        if let Some((major, minor)) = found {
            if (major, minor) < (3, 9) {
                return Err(SetupError::UnsupportedPython {
                    found: format!("{major}.{minor}"),
                    binary: path.display().to_string(),
                    supported: crate::python::interpreter::supported_versions(),
                });
            }
        }
    }
    Ok(())
}

/// What `--pid` names, checked before anything is loaded: a thread id is
/// replaced by its process (with a note), a kernel thread or a process
/// whose memory map cannot be read is one clear sentence, and an old CPython
/// is "unsupported", not "not a Python process". Returns the pid to record.
pub(super) fn check_pid(pid: u32) -> Result<u32, SetupError> {
    let proc = Path::new("/proc").join(pid.to_string());
    let Ok(status) = std::fs::read_to_string(proc.join("status")) else {
        return Err(SetupError::NoSuchProcess(pid));
    };
    let field = |name: &str| crate::sys::proc::status_field(&status, name).map(str::to_string);
    let comm = field("Name:").unwrap_or_default();
    let tgid: u32 = field("Tgid:").and_then(|v| v.parse().ok()).unwrap_or(pid);
    if tgid != pid {
        eprintln!(
            "coldspy: {pid} is a thread of process {tgid} ({comm}); recording process {tgid}"
        );
        return check_pid(tgid);
    }
    // PF_KTHREAD in the flags, the 9th field of /proc/PID/stat.
    const PF_KTHREAD: u64 = 0x0020_0000;
    let stat = std::fs::read_to_string(proc.join("stat")).unwrap_or_default();
    let flags: u64 = crate::sys::proc::stat_field(&stat, 6)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    let unreadable = |what: &str, e: std::io::Error| SetupError::ProcessUnreadable {
        pid,
        comm: comm.clone(),
        why: format!("its {what} cannot be read: {e}"),
    };
    if flags & PF_KTHREAD != 0 {
        return Err(SetupError::ProcessUnreadable {
            pid,
            comm,
            why: "it is a kernel thread, with no Python to profile".into(),
        });
    }
    let maps =
        std::fs::read_to_string(proc.join("maps")).map_err(|e| unreadable("memory map", e))?;
    let exe = std::fs::read_link(proc.join("exe"))
        .map_err(|e| unreadable("executable (/proc/PID/exe)", e))?;
    let libraries: Vec<std::path::PathBuf> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(std::path::PathBuf::from)
        .collect();
    // The executable by name or content; its libraries by name (a
    // process maps hundreds: reading each would be slow).
    check_not_old_cpython([exe.as_path()])?;
    check_old_cpython(libraries.iter().map(|p| p.as_path()), false)?;
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renamed_old_cpython_is_known_by_its_content() {
        let dir = std::env::temp_dir().join(format!("coldspy-preflight-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Set-up's interpreters (`env.json`): executables linked against
        // their libpython, and the libpythons themselves (as a static
        // CPython, they define Py_GetVersion).
        let cases = [
            (coldspy_tests::python_of("pyenv-2.7").into(), (2, 7)),
            (coldspy_tests::python_of("pyenv-3.6").into(), (3, 6)),
            (coldspy_tests::libpython_of("pyenv-3.8"), (3, 8)),
            (coldspy_tests::libpython_of("pyenv-2.7"), (2, 7)),
            (coldspy_tests::libpython_of("pyenv-3.12"), (3, 12)),
        ];
        for (binary, version) in cases {
            let binary: std::path::PathBuf = binary;
            let shown = binary.display();
            let renamed = dir.join("interp");
            std::fs::copy(&binary, &renamed).unwrap();
            assert_eq!(cpython_version_in_name("interp"), None);
            assert_eq!(
                cpython_version_in_content(&renamed),
                Some(version),
                "{shown}"
            );
            let refused = check_not_old_cpython([renamed.as_path()]).is_err();
            assert_eq!(refused, version < (3, 9), "{shown}");
        }
        // Not a CPython (coldspy itself names Py_GetVersion without
        // defining it): no version, nothing refused.
        assert_eq!(cpython_version_in_content(Path::new("/bin/sh")), None);
        let me = std::env::current_exe().unwrap();
        assert_eq!(cpython_version_in_content(&me), None);
        assert!(check_not_old_cpython([Path::new("/bin/sh")]).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn old_cpython_versions_are_named_from_binaries() {
        assert_eq!(cpython_version_in_name("python2.7"), Some((2, 7)));
        assert_eq!(cpython_version_in_name("python3.6m"), Some((3, 6)));
        assert_eq!(
            cpython_version_in_name("libpython3.12.so.1.0"),
            Some((3, 12))
        );
        assert_eq!(cpython_version_in_name("python3"), None);
        let err = check_not_old_cpython([Path::new("/usr/bin/python2.7")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("CPython 2.7 (/usr/bin/python2.7) is not supported; supported: 3.9"),
            "{err}"
        );
        assert!(check_not_old_cpython([Path::new("/usr/bin/python3.12")]).is_ok());
    }

    #[test]
    fn a_thread_id_is_recorded_as_its_process_and_a_kernel_thread_is_named() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() } as u32).unwrap();
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        assert_eq!(check_pid(tid).unwrap(), std::process::id());
        done_tx.send(()).unwrap();
        thread.join().unwrap();
        // kthreadd is pid 2 on Linux (outside a pid namespace).
        if let Err(err) = check_pid(2) {
            assert!(err.to_string().contains("kernel thread"), "{err}");
        }
        assert!(matches!(
            check_pid(u32::MAX - 1),
            Err(SetupError::NoSuchProcess(_))
        ));
    }
}
