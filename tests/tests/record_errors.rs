//! Bad input to `coldspy record`: one clear line on stderr, a non-zero exit,
//! no profile written. And the other ways a recording ends (a signal,
//! `--duration` on an attached process) still write a whole profile.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_tests::{coldspy, coldspy_bin, read_json, require_root, scratch, script};
use std::process::{Command, Stdio};
use std::time::Duration;

/// pyenv's 3.12, where set-up's `env.json` says it is.
static PY312: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| coldspy_tests::python_of("pyenv-3.12"));

/// Asserts a failed run with exactly one stderr line containing `needle`,
/// and that `out` was not created.
fn assert_one_line_error(output: &std::process::Output, needle: &str, out: &std::path::Path) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "expected failure, got {output:?}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected:\n{stderr}"
    );
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr:?}");
    assert!(!out.exists(), "no profile may be written on error");
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file may be left: {leftovers:?}"
    );
}

#[test]
fn no_such_pid() {
    require_root();
    let dir = scratch("nopid");
    let out = dir.join("p.json");
    let o = coldspy(&["record", "-o", out.to_str().unwrap(), "--pid", "999999999"]);
    assert_one_line_error(&o, "no process with pid 999999999", &out);
}

#[test]
fn pid_that_is_not_python() {
    require_root();
    let dir = scratch("notpython");
    let out = dir.join("p.json");
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let o = coldspy(&[
        "record",
        "-o",
        out.to_str().unwrap(),
        "--pid",
        &sleeper.id().to_string(),
    ]);
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    assert_one_line_error(&o, "is not a Python process", &out);
    // An input error, like a pid that does not exist (was 1 before issue 12).
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn unsupported_cpython_is_named_with_the_supported_ones() {
    require_root();
    let py38 = coldspy_tests::python_of("pyenv-3.8");
    let py38 = py38.as_str();
    let dir = scratch("unsupported");
    let out = dir.join("p.json");
    let o = coldspy(&[
        "record",
        "-o",
        out.to_str().unwrap(),
        "--",
        py38,
        "-c",
        "import time; time.sleep(2)",
    ]);
    assert_one_line_error(&o, "CPython 3.8", &out);
    // An input error, like a pid that does not exist (was 1 before issue 12).
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("not supported") && stderr.contains("3.12"),
        "{stderr}"
    );
}

#[test]
fn command_not_found() {
    require_root();
    let dir = scratch("nocmd");
    let out = dir.join("p.json");
    let o = coldspy(&[
        "record",
        "-o",
        out.to_str().unwrap(),
        "--",
        "no-such-command-coldspy",
    ]);
    assert_one_line_error(&o, "command not found: no-such-command-coldspy", &out);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn output_path_not_writable() {
    require_root();
    let o = coldspy(&[
        "record",
        "-o",
        "/proc/coldspy/p.json",
        "--",
        PY312.as_str(),
        "-c",
        "pass",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot write the profile to /proc/coldspy/p.json"),
        "{stderr}"
    );
}

#[test]
fn without_privileges_says_so() {
    require_root();
    let dir = scratch("noroot");
    let out = dir.join("p.json");
    // SAFETY: chmod of our own scratch dir so the unprivileged user could write there.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(coldspy_bin())
        .args([
            "record",
            "-o",
            out.to_str().unwrap(),
            "--",
            PY312.as_str(),
            "-c",
            "pass",
        ])
        .output()
        .expect("setpriv (util-linux)");
    assert_one_line_error(&o, "needs root", &out);
    assert_eq!(o.status.code(), Some(77));
}

#[test]
fn sigterm_forwards_to_the_command_and_writes_the_profile_whole() {
    require_root();
    let dir = scratch("sigterm");
    let out = dir.join("p.json");
    let child = Command::new(coldspy_bin())
        .args([
            "record",
            "-q",
            "-o",
            out.to_str().unwrap(),
            "--",
            PY312.as_str(),
        ])
        .arg(script("busy_stack.py"))
        .arg("--forever")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Signal once the interpreter runs (set-up takes longer on a loaded
    // machine), and after it has been sampled a while.
    wait_until_python_runs(child.id());
    std::thread::sleep(Duration::from_millis(400));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(128 + libc::SIGTERM),
        "the command's status: {o:?}"
    );
    let profile = read_json(&out);
    assert!(
        profile["stats"]["samples"].as_u64().unwrap() > 20,
        "samples before the signal"
    );
}

#[test]
fn attach_by_pid_for_a_duration_leaves_the_target_running() {
    require_root();
    let dir = scratch("attach");
    let out = dir.join("p.json");
    let mut target = Command::new(PY312.as_str())
        .arg(script("busy_stack.py"))
        .arg("--forever")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (wall, cpu) = (std::time::Instant::now(), cpu_seconds(target.id()));
    let o = coldspy(&[
        "record",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "--pid",
        &target.id().to_string(),
        "--duration",
        "1",
    ]);
    // The share of a CPU the spinning target got meanwhile (less than all of
    // it on a loaded machine).
    let on_cpu = (cpu_seconds(target.id()) - cpu) / wall.elapsed().as_secs_f64();
    let still_running = target.try_wait().unwrap().is_none();
    target.kill().unwrap();
    target.wait().unwrap();
    assert!(o.status.success(), "{o:?}");
    assert!(still_running, "attaching must not stop the target");
    let profile = read_json(&out);
    let samples = profile["stats"]["samples"].as_u64().unwrap();
    // 200 Hz of the target's time on a CPU over the recording.
    let seconds = profile["meta"]["duration_us"].as_f64().unwrap() / 1e6;
    let expected = 200.0 * seconds * on_cpu.min(1.0);
    assert!(
        (samples as f64 - expected).abs() <= 0.25 * expected + 10.0,
        "{samples} samples, expected about {expected:.0} (200 Hz × {seconds:.2} s × {on_cpu:.2} of a CPU)"
    );
    assert_eq!(profile["meta"]["pid"].as_u64().unwrap(), target.id() as u64);
    let hot = coldspy_tests::stacks(&profile)
        .into_iter()
        .filter(|(_, s)| s.last().is_some_and(|f| f.function == "tokenize"))
        .map(|(n, _)| n)
        .sum::<u64>();
    assert!(
        hot as f64 >= 0.95 * samples as f64,
        "{hot} of {samples} in tokenize"
    );
}

#[test]
fn a_corrupt_profile_is_refused_in_one_line() {
    let dir = scratch("corrupt");
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        b"{\"schema\": \"coldspy-profile\", \"schema_version\": 1, \"meta\": {",
    )
    .unwrap();
    let o = coldspy(&["report", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a coldspy profile"), "{stderr}");
}

#[test]
fn a_command_that_never_runs_python_is_an_error() {
    require_root();
    let dir = scratch("neverpython");
    let out = dir.join("p.json");
    let o = coldspy(&[
        "record",
        "-o",
        out.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "exit 0",
    ]);
    assert_one_line_error(&o, "never ran a Python interpreter", &out);
}

#[test]
fn wrappers_are_followed_to_the_interpreter() {
    require_root();
    let dir = scratch("wrapper");
    let out = dir.join("p.json");
    let o = coldspy(&[
        "record",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "--",
        "env",
        "A=1",
        "sh",
        "-c",
        &format!(
            "exec {} {}",
            PY312.as_str(),
            script("busy_stack.py").display()
        ),
    ]);
    assert!(o.status.success(), "{o:?}");
    let profile = read_json(&out);
    assert_eq!(profile["meta"]["python_version"], "3.12.1");
    let hot: u64 = coldspy_tests::stacks(&profile)
        .into_iter()
        .filter(|(_, s)| s.last().is_some_and(|f| f.function == "tokenize"))
        .map(|(n, _)| n)
        .sum();
    assert!(
        hot >= 150,
        "followed through env and sh -c: {hot} samples in tokenize"
    );
    assert!(
        profile["imports"].as_array().unwrap().len() > 5,
        "imports timed after the wrappers"
    );
}

/// Waits (up to 60 s) until a child of `coldspy_pid` runs a Python
/// interpreter that is not held stopped.
fn wait_until_python_runs(coldspy_pid: u32) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        for pid in coldspy_tests::children_of(coldspy_pid) {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            if exe.to_string_lossy().contains("python") && coldspy_tests::is_running(pid) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("coldspy {coldspy_pid} never started the interpreter");
}

/// User + system CPU time of `pid`, in seconds (`/proc/PID/stat`, 100 Hz ticks).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    // Fields 14 and 15 of stat(5); this slice starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}
