//! Helpers for coldspy's end-to-end tests: where the `coldspy` binary and
//! the test interpreters are, and running `coldspy record` on a script.
//!
//! The tests drive the real binary against the real kernel (they run as
//! root) and real CPython builds installed by `cargo xtask setup`.

// A dev-dependency of the test files, not of these helpers.
#[cfg(test)]
use aya as _;
#[cfg(test)]
use coldspy as _;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod importtime;
pub mod node;

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
    /// The root it runs in (`chroot ROOT python3.X`), if not the host's.
    pub root: Option<PathBuf>,
}

impl Interpreter {
    /// A script under `tests/scripts/` as this interpreter sees it: for one
    /// in a chroot, the scripts are copied into `ROOT/tmp` first.
    pub fn script(&self, name: &str) -> String {
        let Some(root) = &self.root else {
            return script(name).display().to_string();
        };
        let inside = format!("/tmp/coldspy-e2e-scripts-{}", std::process::id());
        let target = root.join(inside.trim_start_matches('/'));
        static COPY: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
        let mut copied = COPY.lock().unwrap();
        if !copied.contains(&target) {
            copy_dir(&repo_root().join("tests/scripts"), &target);
            copied.push(target);
        }
        format!("{inside}/{name}")
    }

    /// The command that runs `script` (a name under `tests/scripts/`) with `args` before it.
    pub fn command_for(&self, interpreter_args: &[&str], script_name: &str) -> Vec<String> {
        let mut command = self.command.clone();
        command.extend(interpreter_args.iter().map(|a| a.to_string()));
        command.push(self.script(script_name));
        command
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else if entry
            .path()
            .extension()
            .is_some_and(|e| e == "py" || e == "txt")
        {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// Where the Debian sid chroot with CPython 3.13–3.15 is: `$COLDSPY_SID_ROOT`
/// (an explicit override, e.g. a development chroot), else `sid_root` of
/// `env.json`, else `sid` in [`cache_dir`] (what `cargo xtask setup` creates).
pub fn sid_root() -> PathBuf {
    if let Some(root) = std::env::var_os("COLDSPY_SID_ROOT") {
        return PathBuf::from(root);
    }
    setup_env()
        .as_ref()
        .and_then(|env| env.get("sid_root")?.as_str().map(PathBuf::from))
        .unwrap_or_else(|| cache_dir().join("sid"))
}

/// An interpreter of the sid chroot, started as `chroot ROOT python3.X`;
/// panics with the set-up hint when it is missing.
pub fn sid_interpreter(name: &str, binary: &str, version: (u32, u32)) -> Interpreter {
    let root = sid_root();
    let on_host = root.join("usr/bin").join(binary);
    assert!(
        on_host.exists(),
        "{} is missing: run `cargo xtask setup` first (it creates the sid chroot)",
        on_host.display()
    );
    Interpreter {
        name: name.to_string(),
        command: vec![
            "chroot".to_string(),
            root.display().to_string(),
            binary.to_string(),
        ],
        venv_python: None,
        version,
        root: Some(root),
    }
}

/// Every interpreter of the version matrix: pyenv 3.9–3.13 (shared
/// libpython), Debian's static `python3.11`, and sid's static 3.13, 3.14
/// and 3.15 in a chroot. Panics with the set-up hint when one is missing:
/// a missing interpreter fails the matrix, it is never skipped.
pub fn all_interpreters() -> Vec<Interpreter> {
    let mut all = Vec::new();
    for (name, version) in [("pyenv-3.9", (3, 9)), ("pyenv-3.10", (3, 10))] {
        all.push(host_interpreter(name, version));
    }
    all.extend(core_interpreters());
    all.push(host_interpreter("pyenv-3.13", (3, 13)));
    for (name, binary, version) in [
        ("sid-3.13", "python3.13", (3, 13)),
        ("sid-3.14", "python3.14", (3, 14)),
        ("sid-3.15", "python3.15", (3, 15)),
    ] {
        all.push(sid_interpreter(name, binary, version));
    }
    all
}

/// sid's debug build of 3.14 (`python3.14d`, from `python3.14-dbg`).
pub fn debug_interpreter() -> Interpreter {
    sid_interpreter("sid-3.14d", "python3.14d", (3, 14))
}

/// A set-up interpreter of the host by its `env.json` name.
fn host_interpreter(name: &str, version: (u32, u32)) -> Interpreter {
    Interpreter {
        name: name.to_string(),
        command: vec![python_of(name)],
        venv_python: None,
        version,
        root: None,
    }
}

/// The interpreters of the foundation issue: pyenv 3.11 and 3.12 (shared
/// libpython) and Debian's stripped, static `/usr/bin/python3.11`.
pub fn core_interpreters() -> Vec<Interpreter> {
    [
        ("pyenv-3.11", (3, 11)),
        ("pyenv-3.12", (3, 12)),
        ("debian-3.11", (3, 11)),
    ]
    .iter()
    .map(|(name, version)| Interpreter {
        venv_python: env_interpreter(name)["venv_python"]
            .as_str()
            .map(str::to_string),
        ..host_interpreter(name, *version)
    })
    .collect()
}

/// The `env.json` entry of the interpreter set-up named `name`; panics with
/// the set-up hint when there is none.
fn env_interpreter(name: &str) -> Value {
    let Some(env) = setup_env() else {
        panic!(
            "no {}: run `cargo xtask setup`",
            cache_dir().join("env.json").display()
        )
    };
    env["interpreters"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no interpreter {name} in env.json: run `cargo xtask setup`"))
}

/// The interpreter binary of a set-up interpreter (`pyenv-3.12`,
/// `debian-3.11`, and the refused `pyenv-3.8`, `pyenv-3.6`, `pyenv-2.7`):
/// `python` of its `env.json` entry, the one place the tests learn where
/// pyenv is (set-up writes it; `COLDSPY_PYENV_ROOT` moves pyenv there).
/// Panics with the set-up hint when it is missing.
pub fn python_of(name: &str) -> String {
    let python = env_interpreter(name)["python"]
        .as_str()
        .unwrap_or_else(|| panic!("env.json: {name} has no python"))
        .to_string();
    assert!(
        Path::new(&python).exists(),
        "{python} ({name}) is missing: run `cargo xtask setup`"
    );
    python
}

/// The shared libpython of a set-up pyenv interpreter
/// (`VERSION/lib/libpython3.X.so.1.0` beside its `bin/`); panics with the
/// set-up hint when it is missing.
pub fn libpython_of(name: &str) -> PathBuf {
    let python = PathBuf::from(python_of(name));
    let binary = python.file_name().unwrap().to_string_lossy().into_owned();
    let lib = python
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("lib")
        .join(format!("lib{binary}.so.1.0"));
    assert!(
        lib.exists(),
        "{} ({name}) is missing: run `cargo xtask setup`",
        lib.display()
    );
    lib
}

/// The venv python (with boto3, markdown, Pillow…) set-up made for an interpreter.
pub fn venv_python(name: &str) -> String {
    env_interpreter(name)["venv_python"]
        .as_str()
        .unwrap_or_else(|| panic!("no venv for {name}: run `cargo xtask setup`"))
        .to_string()
}

/// coldspy's machine cache, where set-up writes `env.json`: `$COLDSPY_CACHE`,
/// else `/var/cache/coldspy` (as for `cargo xtask` and the product).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("COLDSPY_CACHE")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/var/cache/coldspy"), PathBuf::from)
}

/// `env.json` in [`cache_dir`], written by `cargo xtask setup`, if present.
pub fn setup_env() -> Option<Value> {
    let text = std::fs::read_to_string(cache_dir().join("env.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The state letter of process `pid` (`R`, `S`, `T`, `Z`, …), `None` once
/// it is gone.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name, which may itself hold spaces and `)`.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Whether `pid` runs or may run (not stopped, not exited).
pub fn is_running(pid: u32) -> bool {
    matches!(process_state(pid), Some('R' | 'S'))
}

/// The direct children of `pid` (`/proc/PID/task/*/children`).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// A scratch directory for one test. The first call of a test binary
/// removes those of test processes that have ended (kept until then, for a
/// look after a failure), so runs do not pile up in the temp directory.
pub fn scratch(test: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(remove_scratch_of_ended_runs);
    let dir = std::env::temp_dir().join(format!("coldspy-e2e-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes the scratch directories (`coldspy-e2e-PID-…`) whose test
/// process is gone.
fn remove_scratch_of_ended_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("coldspy-e2e-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Opens `page` in headless Chromium (profile kept under `dir`) with
/// `extra` flags such as `--dump-dom` or `--screenshot=…`.
pub fn chromium(page: &Path, dir: &Path, extra: &[&str]) -> Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is missing: run `cargo xtask setup`")
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

/// Share of Python samples whose whole stack (outermost first) satisfies
/// `expected`, and the number of Python samples counted: all but the
/// interpreter's own start-up, the stacks rooted in an import the
/// interpreter runs before any script (`_find_and_load` outermost; the
/// script's imports sit under its `<module>`). Those are right stacks, just
/// not the script's, and their number follows the machine's load (pyenv
/// 3.11 spends 8-14 of ≈ 210 samples there), not the sampler.
pub fn share_on_path(profile: &Value, expected: impl Fn(&[Frame]) -> bool) -> (f64, u64) {
    let mut all = stacks(profile);
    all.retain(|(_, stack)| {
        stack
            .first()
            .is_none_or(|root| root.function != "_find_and_load")
    });
    let total: u64 = all.iter().map(|(n, _)| n).sum();
    let on: u64 = all
        .iter()
        .filter(|(_, s)| expected(s))
        .map(|(n, _)| n)
        .sum();
    (on as f64 / total.max(1) as f64, total)
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

/// Records `prefix… tests/scripts/NAME` into a fresh scratch directory
/// named after the test and `label`; panics unless the recording succeeds.
pub fn record_script(label: &str, test: &str, prefix: &[String], name: &str) -> Recording {
    let dir = scratch(&format!("{test}-{label}"));
    let mut command = prefix.to_vec();
    command.push(script(name).display().to_string());
    let rec = record(&dir, &[], &command);
    assert!(rec.output.status.success(), "{label}: {:?}", rec.output);
    rec
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

/// The frames of a profile's `cct.frames` or a trace's `frames`.
pub fn frames_of(list: &Value) -> Vec<Frame> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| Frame {
            function: f["function"].as_str().unwrap().to_string(),
            qualname: f["qualname"].as_str().unwrap_or_default().to_string(),
            file: f["file"].as_str().unwrap().to_string(),
            line: f["line"].as_u64().unwrap() as u32,
        })
        .collect()
}

/// `<module> → main → parse → tokenize` of `busy_stack.py` (outermost first).
pub fn on_busy_path(s: &[Frame]) -> bool {
    let f = "busy_stack.py";
    s.len() == 4
        && s[0].is("<module>", f, &[25])
        && s[1].is("main", f, &[21])
        && s[2].is("parse", f, &[16])
        && s[3].is("tokenize", f, &[10, 11])
}

/// The 50-deep recursion of `recursion.py` spinning in `spin`.
pub fn on_recursion_path(s: &[Frame]) -> bool {
    let f = "recursion.py";
    s.len() == 53
        && s[0].is("<module>", f, &[20])
        && s[1].is("main", f, &[17])
        && s[2..51].iter().all(|fr| fr.is("recurse", f, &[13]))
        && s[51].is("recurse", f, &[12])
        && s[52].is("spin", f, &[6, 7])
}

/// Every sampled stack of a profile (outermost first) with its count.
pub fn stacks(profile: &Value) -> Vec<(u64, Vec<Frame>)> {
    let frames = frames_of(&profile["cct"]["frames"]);
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
    /// The code object's name (`co_name`).
    pub function: String,
    /// The qualified name (`co_qualname`, 3.11+; `co_name` before).
    pub qualname: String,
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

/// One row of the fleet ranking: (function, package, starts imported, total
/// µs, median µs, starts used).
pub type RankingRow = (String, String, u64, u64, f64, u64);

/// `coldspy merge`'s ranking (the `groups` of a merged file) in the order of
/// the README's fleet SQL: function, then rank within it.
pub fn merged_ranking(groups: &Value) -> Vec<RankingRow> {
    let mut groups: Vec<&Value> = groups.as_array().unwrap().iter().collect();
    groups.sort_by_key(|g| g["key"].as_str().unwrap().to_string());
    let mut rows = Vec::new();
    for g in groups {
        for p in g["packages"].as_array().unwrap() {
            rows.push((
                g["key"].as_str().unwrap().to_string(),
                p["package"].as_str().unwrap().to_string(),
                p["starts_imported"].as_u64().unwrap(),
                p["total_us"].as_u64().unwrap(),
                p["median_us"].as_f64().unwrap(),
                p["used_starts"].as_u64().unwrap(),
            ));
        }
    }
    rows
}

/// A turn to record alone within this test binary: import times, and the
/// verdicts and comparisons built on them, are inflated by a second cold
/// start on the same two cores (a 0.25 ms module measured 8.6 ms while
/// another recording ran). Hold the guard for the recording.
pub fn recording_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}
