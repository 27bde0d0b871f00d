//! Helpers for coldspy's end-to-end tests: where the `coldspy` binary and
//! the test interpreters are, and running `coldspy record` on a script.
//!
//! The tests drive the real binary against the real kernel (they run as
//! root) and real CPython builds installed by `cargo xtask setup`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A purpose-built script under `tests/scripts/`.
pub fn script(name: &str) -> PathBuf {
    repo_root().join("tests/scripts").join(name)
}

/// The `coldspy` binary: `$COLDSPY_BIN`, or the one beside this test's
/// target directory (built on demand with the same profile).
pub fn coldspy_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("COLDSPY_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let bin = profile_dir.join("coldspy");
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "-p", "coldspy-user", "--bin", "coldspy"]);
        if release {
            cargo.arg("--release");
        }
        let status = cargo
            .current_dir(repo_root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the coldspy binary failed");
    });
    bin
}

/// Whether the tests run as root (the kernel tests need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Panics with the set-up hint unless running as root.
pub fn require_root() {
    assert!(
        is_root(),
        "the end-to-end tests load eBPF programs: run them as root (cargo xtask test)"
    );
}

/// A CPython the tests run against.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// Short name used in test messages (`pyenv-3.12`).
    pub name: String,
    /// The command that starts it (may be several words, e.g. a chroot).
    pub command: Vec<String>,
    /// A virtualenv python with the test libraries, when set up.
    pub venv_python: Option<String>,
    /// `(major, minor)`.
    pub version: (u32, u32),
}

/// The interpreters of the foundation issue: pyenv 3.11 and 3.12 (shared
/// libpython) and Debian's stripped, static `/usr/bin/python3.11`.
pub fn core_interpreters() -> Vec<Interpreter> {
    let env = setup_env();
    let venv_for = |name: &str| -> Option<String> {
        env.as_ref()?
            .get("interpreters")?
            .as_array()?
            .iter()
            .find(|i| i.get("name").and_then(Value::as_str) == Some(name))?
            .get("venv_python")?
            .as_str()
            .map(str::to_string)
    };
    let list = [
        (
            "pyenv-3.11",
            "/root/.pyenv/versions/3.11.7/bin/python3.11",
            (3, 11),
        ),
        (
            "pyenv-3.12",
            "/root/.pyenv/versions/3.12.1/bin/python3.12",
            (3, 12),
        ),
        ("debian-3.11", "/usr/bin/python3.11", (3, 11)),
    ];
    list.iter()
        .map(|(name, path, version)| {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: run `cargo xtask setup` first"
            );
            Interpreter {
                name: name.to_string(),
                command: vec![path.to_string()],
                venv_python: venv_for(name),
                version: *version,
            }
        })
        .collect()
}

/// `/var/cache/coldspy/env.json` written by `cargo xtask setup`, if present.
pub fn setup_env() -> Option<Value> {
    let text = std::fs::read_to_string("/var/cache/coldspy/env.json").ok()?;
    serde_json::from_str(&text).ok()
}

/// A scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coldspy-e2e-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `coldspy <args>`.
pub fn coldspy(args: &[&str]) -> Output {
    Command::new(coldspy_bin())
        .args(args)
        .output()
        .expect("run coldspy")
}

/// The result of `coldspy record`.
#[derive(Debug)]
pub struct Recording {
    /// coldspy's process output (the target's stdout/stderr pass through).
    pub output: Output,
    /// The profile written.
    pub profile: Value,
}

/// Runs `coldspy record -o <dir>/profile.json [extra] -- <command>` and reads the profile.
pub fn record(dir: &Path, extra: &[&str], command: &[String]) -> Recording {
    let out = dir.join("profile.json");
    let mut cmd = Command::new(coldspy_bin());
    cmd.arg("record")
        .arg("-o")
        .arg(&out)
        .args(extra)
        .arg("--")
        .args(command);
    let output = cmd.output().expect("run coldspy record");
    assert!(
        out.exists(),
        "no profile written; stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let profile = read_json(&out);
    Recording { output, profile }
}

/// Reads a JSON file without serde_json's nesting limit (the CCT nests one
/// level per frame).
pub fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    de.disable_recursion_limit();
    serde::Deserialize::deserialize(&mut de)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every sampled stack of a profile (outermost first) with its count.
pub fn stacks(profile: &Value) -> Vec<(u64, Vec<Frame>)> {
    let frames: Vec<Frame> = profile["cct"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Frame {
            function: f["function"].as_str().unwrap().to_string(),
            file: f["file"].as_str().unwrap().to_string(),
            line: f["line"].as_u64().unwrap() as u32,
        })
        .collect();
    let mut out = Vec::new();
    fn walk(
        node: &Value,
        path: &mut Vec<Frame>,
        frames: &[Frame],
        out: &mut Vec<(u64, Vec<Frame>)>,
    ) {
        let pushed = node["frame"]
            .as_u64()
            .map(|i| path.push(frames[i as usize].clone()))
            .is_some();
        let own = node["self"].as_u64().unwrap();
        if own > 0 && !path.is_empty() {
            out.push((own, path.clone()));
        }
        for child in node["children"].as_array().unwrap() {
            walk(child, path, frames, out);
        }
        if pushed {
            path.pop();
        }
    }
    walk(&profile["cct"]["root"], &mut Vec::new(), &frames, &mut out);
    out
}

/// A frame as the tests compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Function (qualified name).
    pub function: String,
    /// File path.
    pub file: String,
    /// Line.
    pub line: u32,
}

impl Frame {
    /// `function:line` of a frame in `file_suffix`.
    pub fn is(&self, function: &str, file_suffix: &str, lines: &[u32]) -> bool {
        self.function == function && self.file.ends_with(file_suffix) && lines.contains(&self.line)
    }
}
