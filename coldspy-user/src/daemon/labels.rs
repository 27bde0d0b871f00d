//! Labels of a process under `record --all`: its cgroup, the container id
//! parsed from the cgroup path, and the function name, read while the
//! process is held at exec (so one gone in 50 ms still has them).
//!
//! Function name rules, first match wins: the `--label-env` variables, then
//! `K_SERVICE` (Knative), `AWS_LAMBDA_FUNCTION_NAME` (Lambda and its
//! runtime interface emulator), `FUNCTION_TARGET` (Google's Functions
//! Framework), `FUNCTION_NAME`; else the command line: the first `*.py`
//! argument's stem, a `--handler`/`-m` module, or the program's name (what
//! `coldspy merge` uses for profiles without labels).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Environment variables that name the function, after `--label-env`.
pub const FUNCTION_ENV: [&str; 4] = [
    "K_SERVICE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "FUNCTION_TARGET",
    "FUNCTION_NAME",
];

/// The labels of one process, as they go into `meta.labels`.
pub fn of_process(
    pid: u32,
    cgroup_id: u64,
    command: &[String],
    label_env: &[String],
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert("cgroup_id".to_string(), cgroup_id.to_string());
    if let Some(path) = cgroup_path(pid) {
        if let Some(container) = container_id(&path) {
            labels.insert("container".to_string(), container);
        }
        labels.insert("cgroup".to_string(), path);
    }
    let environ = environment(pid);
    let (function, source) = function_name(&environ, command, label_env);
    labels.insert("function".to_string(), function);
    labels.insert("function_source".to_string(), source);
    labels
}

/// The process's cgroup v2 path (the `0::` line of `/proc/PID/cgroup`).
pub fn cgroup_path(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::to_string)
}

/// The container id in a cgroup path: the last component holding a run of
/// 64 hex digits (docker `…/docker/<id>` or `docker-<id>.scope`,
/// containerd `cri-containerd-<id>.scope`, cri-o `crio-<id>.scope`, podman
/// `libpod-<id>.scope`, kubepods `…/pod<uid>/<id>`).
pub fn container_id(cgroup: &str) -> Option<String> {
    cgroup.rsplit('/').find_map(|component| {
        let bytes = component.as_bytes();
        let mut run = 0;
        for (at, b) in bytes.iter().enumerate() {
            if b.is_ascii_hexdigit() && !b.is_ascii_uppercase() {
                run += 1;
                let ends = bytes.get(at + 1).is_none_or(|n| !n.is_ascii_hexdigit());
                if run == 64 && ends {
                    return Some(component[at + 1 - 64..=at].to_string());
                }
            } else {
                run = 0;
            }
        }
        None
    })
}

/// The environment of a process (NUL-separated `/proc/PID/environ`).
fn environment(pid: u32) -> BTreeMap<String, String> {
    crate::sys::proc::nul_separated(pid, "environ")
        .iter()
        .filter_map(|entry| {
            let (name, value) = entry.split_once('=')?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// The function name and the rule that gave it (`env:NAME` or `command`).
pub fn function_name(
    environ: &BTreeMap<String, String>,
    command: &[String],
    label_env: &[String],
) -> (String, String) {
    let names = label_env
        .iter()
        .map(String::as_str)
        .chain(FUNCTION_ENV.iter().copied());
    for name in names {
        if let Some(value) = environ.get(name).filter(|v| !v.is_empty()) {
            return (value.clone(), format!("env:{name}"));
        }
    }
    (from_command(command), "command".to_string())
}

/// The function a command line runs: a `--handler` value's file stem (or
/// module), a `*.py` script's stem, `-m module`, else the program's name.
fn from_command(command: &[String]) -> String {
    let stem = |s: &str| {
        let base = s.rsplit('/').next().unwrap_or(s);
        base.strip_suffix(".py").unwrap_or(base).to_string()
    };
    let mut args = command.iter().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--handler" || arg == "-m" {
            if let Some(value) = args.next() {
                let target = value.split(':').next().unwrap_or(value);
                return stem(
                    target
                        .rsplit('.')
                        .next()
                        .filter(|_| arg == "-m")
                        .unwrap_or(target),
                );
            }
        }
    }
    coldspy_core::fleet::function_of(command, &BTreeMap::new())
}

/// Where the cgroup v2 hierarchy is mounted (from `/proc/mounts`: a
/// `cgroup2` line; hybrid hosts mount it beside the v1 controllers).
pub fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_, dir, kind) = (fields.next()?, fields.next()?, fields.next()?);
        (kind == "cgroup2").then(|| PathBuf::from(dir))
    })
}

/// The cgroup v2 id (its directory's inode number) of `path`: a directory
/// under the cgroup2 mount, or a cgroup path relative to its root.
pub fn cgroup_id(path: &Path) -> Result<u64, String> {
    use std::os::unix::fs::MetadataExt;
    let mount = cgroup2_mount().ok_or("no cgroup2 hierarchy is mounted (see /proc/mounts)")?;
    let dir = if path.starts_with(&mount) {
        path.to_path_buf()
    } else {
        mount.join(path.strip_prefix("/").unwrap_or(path))
    };
    let meta = std::fs::metadata(&dir)
        .map_err(|e| format!("cgroup {}: {e} (under {})", path.display(), mount.display()))?;
    if !meta.is_dir() || !dir.join("cgroup.procs").exists() {
        return Err(format!("{} is not a cgroup v2 directory", dir.display()));
    }
    Ok(meta.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn container_ids_of_the_usual_runtimes() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        for path in [
            format!("/system.slice/docker-{id}.scope"),
            format!("/docker/{id}"),
            format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-{id}.scope"),
            format!("/machine.slice/libpod-{id}.scope/container"),
            format!("/kubepods/besteffort/pod7f0c/{id}"),
            format!("/system.slice/crio-{id}.scope"),
        ] {
            assert_eq!(container_id(&path).as_deref(), Some(id), "{path}");
        }
        assert_eq!(
            container_id("/user.slice/user-0.slice/session-3.scope"),
            None
        );
        // 65 hex digits is not an id.
        assert_eq!(container_id(&format!("/x/{id}0")), None);
    }

    #[test]
    fn function_from_environment_first_then_command() {
        let env: BTreeMap<String, String> = [
            ("K_SERVICE".to_string(), "resize".to_string()),
            ("MY_FN".to_string(), "mine".to_string()),
        ]
        .into();
        let cmd = argv(&["python3", "/srv/app/handler.py"]);
        assert_eq!(function_name(&env, &cmd, &[]).0, "resize");
        assert_eq!(
            function_name(&env, &cmd, &["MY_FN".to_string()]),
            ("mine".to_string(), "env:MY_FN".to_string())
        );
        let none = BTreeMap::new();
        assert_eq!(function_name(&none, &cmd, &[]).0, "handler");
        let runner = argv(&["python3", "-m", "awslambdaric", "app.handler"]);
        assert_eq!(function_name(&none, &runner, &[]).0, "awslambdaric");
        let handler = argv(&["python3", "runner.py", "--handler", "fns/thumb.py:handler"]);
        assert_eq!(function_name(&none, &handler, &[]).0, "thumb");
    }

    #[test]
    fn the_cgroup2_mount_is_found_when_present() {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let has_v2 = mounts
            .lines()
            .any(|l| l.split_whitespace().nth(2) == Some("cgroup2"));
        assert_eq!(cgroup2_mount().is_some(), has_v2);
    }
}
