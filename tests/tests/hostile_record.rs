//! `coldspy record` and `bench` under faults a hostile or unlucky user
//! causes: device nodes and directories as outputs, a full disk, SIGHUP, a
//! target that ignores SIGINT, durations that would panic, a bench start
//! whose children outlive its timeout. Needs root (real probes).
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_tests::{coldspy, coldspy_bin, require_root, scratch};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// pyenv's 3.12, where set-up's `env.json` says it is.
static PYTHON: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| coldspy_tests::python_of("pyenv-3.12"));

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn record_to_a_device_node_writes_into_it_and_never_replaces_it() {
    require_root();
    let out = coldspy(&[
        "record",
        "-q",
        "-o",
        "/dev/null",
        "--",
        PYTHON.as_str(),
        "-c",
        "pass",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = coldspy(&[
        "record",
        "-q",
        "-o",
        "/dev/full",
        "--",
        PYTHON.as_str(),
        "-c",
        "pass",
    ]);
    // /dev/full refuses the bytes: the error names it, the profile goes elsewhere.
    let err = stderr(&out);
    assert!(
        err.contains("/dev/full") && err.contains("written to"),
        "{err}"
    );
    for dev in ["/dev/null", "/dev/full"] {
        let kind = std::fs::metadata(dev).unwrap().file_type();
        assert!(
            kind.is_char_device(),
            "{dev} was replaced by a regular file"
        );
    }
    let fallback = err
        .rsplit("written to ")
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let profile = std::fs::read(fallback).unwrap();
    assert!(coldspy::model::profile::Profile::from_json(&profile).is_ok());
    std::fs::remove_file(fallback).unwrap();
}

#[test]
fn record_to_standard_output_writes_the_profile_there() {
    require_root();
    let out = coldspy(&[
        "record",
        "-o",
        "-",
        "--",
        PYTHON.as_str(),
        "-c",
        "import json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let profile = coldspy::model::profile::Profile::from_json(&out.stdout)
        .expect("standard output is exactly the profile");
    assert!(profile.modules.iter().any(|m| m.name == "json"));
    assert!(!Path::new("-").exists());
}

#[test]
fn every_output_path_is_checked_before_the_target_starts() {
    require_root();
    let dir = scratch("outputs-first");
    let witness = dir.join("ran");
    let script = format!("open({:?}, 'w')", witness.to_str().unwrap());
    let d = dir.to_str().unwrap().to_string();
    let good = dir.join("a.json");
    let cases: Vec<Vec<String>> = vec![
        vec!["-o".into(), d.clone()],
        vec!["-o".into(), format!("{d}/new/")],
        vec![
            "-o".into(),
            good.to_str().unwrap().into(),
            "--save-trace".into(),
            "/nonexistent/t.json".into(),
        ],
        vec![
            "-o".into(),
            good.to_str().unwrap().into(),
            "--save-trace".into(),
            d.clone(),
        ],
    ];
    for case in cases {
        let mut args: Vec<String> = vec!["record".into()];
        args.extend(case.clone());
        args.extend(["--".into(), PYTHON.to_string(), "-c".into(), script.clone()]);
        let out = Command::new(coldspy_bin()).args(&args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{case:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{case:?}: {err}");
        assert!(
            !witness.exists(),
            "{case:?}: the target ran before the check"
        );
        assert!(
            files_in(&dir).is_empty(),
            "{case:?}: left {:?}",
            files_in(&dir)
        );
    }
}

#[test]
fn a_full_disk_names_the_path_leaves_no_partial_file_and_the_profile_goes_to_tmp() {
    require_root();
    let dir = scratch("disk-full");
    let mount = dir.join("tiny");
    std::fs::create_dir_all(&mount).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8k", "tmpfs"])
        .arg(&mount)
        .status()
        .unwrap();
    assert!(status.success());
    let target = mount.join("p.json");
    let out = coldspy(&[
        "record",
        "-q",
        "-o",
        target.to_str().unwrap(),
        "--",
        PYTHON.as_str(),
        "-c",
        "import json, email.parser, http.client",
    ]);
    let left = files_in(&mount);
    let _ = Command::new("umount").arg(&mount).status();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(target.to_str().unwrap()) && err.contains("No space left"),
        "{err}"
    );
    assert!(left.is_empty(), "left on the full disk: {left:?}");
    let fallback = err
        .rsplit("written to ")
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(
        fallback.starts_with(std::env::temp_dir().to_str().unwrap()),
        "{fallback}"
    );
    let bytes = std::fs::read(fallback).unwrap();
    let profile = coldspy::model::profile::Profile::from_json(&bytes).unwrap();
    assert!(profile.modules.iter().any(|m| m.name == "http.client"));
    std::fs::remove_file(fallback).unwrap();
}

/// Starts `coldspy record` on a long-running Python target, waits until it
/// runs, sends `signal` to coldspy; returns coldspy's output and how long it
/// took after the signal.
fn signal_recording(dir: &Path, signal: i32, script: &str) -> (std::process::Output, Duration) {
    let ready = dir.join("ready");
    let script = format!("open({:?}, 'w').close()\n{script}", ready.to_str().unwrap());
    let child = Command::new(coldspy_bin())
        .args(["record", "-q", "-o"])
        .arg(dir.join("p.json"))
        .args(["--", PYTHON.as_str(), "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the target never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let out = child.wait_with_output().unwrap();
    (out, sent.elapsed())
}

#[test]
fn sighup_is_treated_like_sigterm_and_the_profile_is_written_whole() {
    require_root();
    let dir = scratch("sighup");
    let (out, took) = signal_recording(
        &dir,
        libc::SIGHUP,
        "import time\nwhile True: sum(range(1000))",
    );
    // The target got SIGHUP passed on and died of it: 128 + 1.
    assert_eq!(out.status.code(), Some(129), "{}", stderr(&out));
    assert!(took < Duration::from_secs(5), "{took:?}");
    let bytes = std::fs::read(dir.join("p.json")).expect("profile written");
    let profile = coldspy::model::profile::Profile::from_json(&bytes).unwrap();
    assert!(profile.stats.samples > 0);
    assert_eq!(
        files_in(&dir),
        vec!["p.json", "ready"],
        "no temporary file left"
    );
}

#[test]
fn a_target_ignoring_sigint_is_killed_after_the_grace_period_and_said_so() {
    require_root();
    let dir = scratch("ignores-sigint");
    let (out, took) = signal_recording(
        &dir,
        libc::SIGINT,
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)",
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(137), "{err}");
    assert!(err.contains("SIGKILL") && err.contains("SIGINT"), "{err}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert!(dir.join("p.json").exists(), "the profile was written");
}

#[test]
fn durations_that_would_panic_are_argument_errors() {
    for bad in ["-1", "nan", "inf", "1e300", "0"] {
        let out = coldspy(&["record", &format!("--duration={bad}"), "--", "true"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.starts_with("error: invalid value") && !err.contains("panicked"),
            "{err}"
        );
        let out = coldspy(&["bench", "--handler", "a.py:f", &format!("--timeout={bad}")]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn bench_shows_the_runners_own_message() {
    let dir = scratch("bench-message");
    let app = dir.join("app.py");
    std::fs::write(&app, "def handler(event, context):\n    return 1\n").unwrap();
    let out = coldspy(&[
        "bench",
        "--handler",
        app.to_str().unwrap(),
        "--runs",
        "2",
        "--python",
        PYTHON.as_str(),
    ]);
    let err = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("--handler must be"), "{err}");
    assert!(!err.contains("wait status"), "{err}");
}

#[test]
fn bench_timeout_kills_the_grandchildren_of_a_start() {
    let dir = scratch("bench-timeout");
    let app = dir.join("app.py");
    let pid_file = dir.join("grandchild.pid");
    std::fs::write(
        &app,
        format!(
            "import subprocess, time\np = subprocess.Popen(['sleep', '1000'])\nopen({:?}, 'a').write('%d\\n' % p.pid)\ntime.sleep(1000)\ndef handler(event, context):\n    return 1\n",
            pid_file.to_str().unwrap()
        ),
    )
    .unwrap();
    let handler = format!("{}:handler", app.display());
    let out = coldspy(&[
        "bench",
        "--handler",
        &handler,
        "--runs",
        "2",
        "--timeout",
        "1",
        "--python",
        PYTHON.as_str(),
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(200));
    let pids = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(pids.lines().count(), 2, "{pids}");
    for pid in pids.lines() {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "));
        assert!(!alive, "grandchild {pid} outlived --timeout");
    }
}

#[test]
fn old_cpython_versions_are_unsupported_not_not_python() {
    require_root();
    for (name, version) in [("pyenv-2.7", "2.7"), ("pyenv-3.6", "3.6")] {
        let python = coldspy_tests::python_of(name);
        let python = python.as_str();
        let out = coldspy(&["record", "-q", "--", python, "-c", "pass"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("CPython {version}")) && err.contains("not supported"),
            "{err}"
        );
        assert!(err.contains("supported: 3.9"), "{err}");
        // Attached by pid: the same sentence.
        let mut target = Command::new(python)
            .args(["-c", "import time; time.sleep(30)"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let pid = target.id().to_string();
        let out = coldspy(&["record", "-q", "--pid", &pid, "--duration", "1"]);
        let _ = target.kill();
        let _ = target.wait();
        let err = stderr(&out);
        assert!(
            err.contains(&format!("CPython {version}")) && err.contains("not supported"),
            "{err}"
        );
    }
}

#[test]
fn a_renamed_old_cpython_is_unsupported_by_its_content() {
    require_root();
    let dir = scratch("renamed-old-cpython");
    for (name, version) in [
        ("pyenv-2.7", "2.7"),
        ("pyenv-3.6", "3.6"),
        ("pyenv-3.8", "3.8"),
    ] {
        let binary = coldspy_tests::python_of(name);
        // No version in its name: only its content (the libpython it
        // links against) tells.
        let renamed = dir.join(format!("interp-{}", version.replace('.', "")));
        std::fs::copy(binary, &renamed).unwrap();
        let out = coldspy(&[
            "record",
            "-q",
            "--",
            renamed.to_str().unwrap(),
            "-c",
            "pass",
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("CPython {version}")) && err.contains("not supported"),
            "{version}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pid_of_a_thread_a_kernel_thread_or_init_gets_a_true_sentence() {
    require_root();
    let out = coldspy(&["record", "-q", "--pid", "2", "--duration", "1"]);
    let err = stderr(&out);
    assert!(
        err.contains("process 2 (kthreadd) exists but it is a kernel thread"),
        "{err}"
    );
    let out = coldspy(&["record", "-q", "--pid", "1", "--duration", "1"]);
    let err = stderr(&out);
    assert!(!err.contains("no process"), "{err}");
    // A thread id: recorded as its process, with a note.
    let mut target = Command::new(PYTHON.as_str())
        .args([
            "-c",
            "import threading, time, os\nt = threading.Thread(target=lambda: time.sleep(30)); t.start()\nprint(t.native_id, flush=True)\nwhile True: sum(range(1000))",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(target.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let dir = scratch("pid-thread");
    let profile = dir.join("p.json");
    let out = coldspy(&[
        "record",
        "-q",
        "-o",
        profile.to_str().unwrap(),
        "--pid",
        line.trim(),
        "--duration",
        "1",
    ]);
    let _ = target.kill();
    let _ = target.wait();
    let err = stderr(&out);
    assert!(
        err.contains(&format!("is a thread of process {}", target.id())),
        "{err}"
    );
    let profile =
        coldspy::model::profile::Profile::from_json(&std::fs::read(profile).unwrap()).unwrap();
    assert_eq!(profile.meta.pid, target.id());
    assert!(profile.stats.samples > 0, "the process was recorded");
}

#[test]
fn duration_on_a_started_command_writes_the_profile_when_the_time_is_up() {
    require_root();
    let dir = scratch("hostile-duration-command");
    let out = dir.join("p.json");
    let python = coldspy_tests::venv_python("pyenv-3.12");
    let started = Instant::now();
    let mut coldspy = Command::new(coldspy_bin())
        .args(["record", "-q", "--duration", "1", "-o"])
        .arg(&out)
        .args([
            "--",
            &python,
            "-c",
            "import time, sys; time.sleep(10); sys.exit(3)",
        ])
        .spawn()
        .unwrap();
    while !out.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "no profile 8 s into a 1 s recording: it waited for the 10 s command"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let written_after = started.elapsed();
    assert!(coldspy.try_wait().unwrap().is_none(), "the command goes on");
    let status = coldspy.wait().unwrap();
    eprintln!(
        "profile written after {written_after:?}; coldspy exited after {:?}",
        started.elapsed()
    );
    assert_eq!(
        status.code(),
        Some(3),
        "the command's exit status is coldspy's"
    );
    let profile = coldspy_tests::read_json(&out);
    assert!(profile["meta"]["duration_us"].as_u64().unwrap() < 2_000_000);
}

#[test]
fn record_to_a_dangling_symlink_writes_through_it_and_keeps_the_link() {
    require_root();
    let dir = scratch("dangling-symlink");
    let link = dir.join("profile.json");
    let target = dir.join("elsewhere.json");
    std::os::unix::fs::symlink("elsewhere.json", &link).unwrap();
    let trace_link = dir.join("trace.json");
    std::os::unix::fs::symlink(dir.join("t/../trace-real.json"), &trace_link).unwrap();
    std::fs::create_dir(dir.join("t")).unwrap();
    let out = coldspy(&[
        "record",
        "-q",
        "-o",
        link.to_str().unwrap(),
        "--save-trace",
        trace_link.to_str().unwrap(),
        "--",
        PYTHON.as_str(),
        "-c",
        "import json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (name, link) in [("profile", &link), ("trace", &trace_link)] {
        let meta = std::fs::symlink_metadata(link).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "the {name} link was replaced by a regular file"
        );
    }
    let profile = std::fs::read(&target).expect("the link's target was written");
    assert!(coldspy::model::profile::Profile::from_json(&profile).is_ok());
    assert!(dir.join("trace-real.json").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}
