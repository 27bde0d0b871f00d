//! `coldspy bench` end to end, against oracles: a handler whose module sleeps
//! 200 ms at import and whose handler sleeps 50 ms (with an empty handler in
//! the same run for the interpreter's own start), hyperfine timing the same
//! command in the same test, the bundled eager/lazy example pair, HTTP mode,
//! every bad input, and the runner on every CPython of the matrix.
//!
//! Tolerances are stated where they are asserted; run counts are small so
//! that the suite stays fast on a shared 2-core machine.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

/// The interpreter of the oracle tests (pyenv, shared libpython).
const PY312: &str = "/root/.pyenv/versions/3.12.1/bin/python3.12";

/// The `coldspy` binary: `$COLDSPY_BIN`, or the one in this test's target
/// directory (built once on demand with the same profile).
fn coldspy_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("COLDSPY_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "-p", "coldspy-user", "--bin", "coldspy"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let status = cargo
            .current_dir(repo_root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the coldspy binary failed");
    });
    profile_dir.join("coldspy")
}

/// A command for a timed program. As root it runs at nice −10, so that the
/// other work of a shared machine (compilers at nice 0) delays its wake-ups
/// less: a sleep of 200 ms then ends within a millisecond or so, as the
/// oracle's ±5 ms bound needs.
fn timed(program: impl AsRef<std::ffi::OsStr>) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut nice = Command::new("nice");
        nice.args(["-n", "-10"]).arg(program);
        nice
    } else {
        Command::new(program)
    }
}

/// Held by the tests that time starts, so that they do not run at the same
/// time and load the two cores for each other.
fn timing_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("coldspy-bench-{test}-"))
        .tempdir()
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The virtualenv python with boto3 and markdown: `$COLDSPY_BENCH_PYTHON`,
/// else the pyenv-3.12 venv of `cargo xtask setup` (from its env.json).
fn venv_python() -> String {
    if let Ok(python) = std::env::var("COLDSPY_BENCH_PYTHON") {
        return python;
    }
    let from_env = std::fs::read_to_string("/var/cache/coldspy/env.json")
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|env| {
            env["interpreters"]
                .as_array()?
                .iter()
                .find(|i| i["name"] == "pyenv-3.12")?["venv_python"]
                .as_str()
                .map(str::to_owned)
        });
    let python = from_env.unwrap_or_else(|| "/var/cache/coldspy/venv-pyenv-3.12/bin/python".into());
    assert!(
        Path::new(&python).exists(),
        "{python} is missing: run `cargo xtask setup` (it creates the venv with boto3 and markdown), \
         or set COLDSPY_BENCH_PYTHON to a python that has them"
    );
    python
}

/// Runs `coldspy bench ARGS -o DIR/bench.json`: the process output and the JSON.
fn bench(dir: &Path, args: &[&str]) -> (std::process::Output, Option<Value>) {
    let json = dir.join("bench.json");
    let output = timed(coldspy_bin())
        .arg("bench")
        .args(args)
        .arg("-o")
        .arg(&json)
        .output()
        .expect("run coldspy bench");
    let value = std::fs::read(&json)
        .ok()
        .map(|bytes| serde_json::from_slice(&bytes).expect("bench JSON parses"));
    (output, value)
}

/// Runs a bench that must succeed: its stdout and JSON report.
fn bench_ok(dir: &Path, args: &[&str]) -> (String, Value) {
    let (output, report) = bench(dir, args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    (
        text(&output.stdout),
        report.expect("the JSON report is written"),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn median(report: &Value, variant: usize, phase: &str) -> f64 {
    report["variants"][variant]["summary"][phase]["median"]
        .as_f64()
        .unwrap_or_else(|| panic!("no median of {phase} for variant {variant}"))
}

/// The one line a failed bench prints on stderr.
fn single_error_line(output: &std::process::Output) -> String {
    assert!(
        !output.status.success(),
        "bench should fail; stdout:\n{}",
        text(&output.stdout)
    );
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got:\n{stderr}");
    assert!(lines[0].starts_with("coldspy: "), "{stderr}");
    lines[0].to_owned()
}

const SLOW_HANDLER: &str = "import time\ntime.sleep(0.2)\n\n\
def handler(event, context):\n    time.sleep(0.05)\n    return {'slept': True}\n";
const EMPTY_HANDLER: &str = "def handler(event, context):\n    return {}\n";

/// Init = 200 ms + interpreter start and exec = 50 ms, each within ±5 ms
/// (the bound); end-to-end agrees with hyperfine on the same command.
#[test]
fn oracle_sleeps_and_hyperfine() {
    let _timing = timing_lock();
    let dir = scratch("oracle");
    let slow = write(dir.path(), "slow.py", SLOW_HANDLER);
    let empty = write(dir.path(), "empty.py", EMPTY_HANDLER);
    let event = write(dir.path(), "event.json", "{\"n\": 1}");
    let runs = "20";
    // The empty handler, interleaved in the same run, measures the
    // interpreter's (and the runner's) own start.
    let (stdout, report) = bench_ok(
        dir.path(),
        &[
            "--python",
            PY312,
            "--event",
            &event,
            "--runs",
            runs,
            "--warmup",
            "1",
            "--name",
            "empty",
            "--handler",
            &format!("{empty}:handler"),
            "--compare",
            "--name",
            "slow",
            "--handler",
            &format!("{slow}:handler"),
        ],
    );
    println!("{stdout}");

    // Expected init = 200 ms + the interpreter's start, measured by the
    // empty handler's init in the same round (the two start next to each
    // other, interleaved): the median of those paired differences is robust
    // to the load drifts of a shared machine, which move both starts alike.
    let runs_of = |variant: usize, field: &str| -> Vec<f64> {
        report["variants"][variant]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run[field].as_f64().unwrap())
            .collect()
    };
    let (empty_init, slow_init) = (runs_of(0, "init_ms"), runs_of(1, "init_ms"));
    let paired: Vec<f64> = slow_init
        .iter()
        .zip(&empty_init)
        .map(|(s, e)| s - e)
        .collect();
    let over_interpreter = coldspy::bench::stats::median(&paired);
    let init = median(&report, 1, "init_ms");
    let interpreter_start = median(&report, 0, "init_ms");
    let exec = median(&report, 1, "exec_ms");
    println!(
        "init median {init:.1} ms; interpreter start (empty handler) median {interpreter_start:.1} ms; \
         init − interpreter start, paired by round: {over_interpreter:.1} ms (expected 200 ± 5)"
    );
    println!("first exec median {exec:.2} ms (handler sleeps 50 ms; expected 50 ± 5)");
    assert!(
        (over_interpreter - 200.0).abs() <= 5.0,
        "init exceeds the interpreter's start by {over_interpreter:.1} ms, expected 200 ± 5 ms"
    );
    // The same within each start: init − the runner's ready mark.
    let ready = runs_of(1, "interpreter_start_ms");
    let in_run: Vec<f64> = slow_init.iter().zip(&ready).map(|(i, r)| i - r).collect();
    let in_run = coldspy::bench::stats::median(&in_run);
    println!("init after the runner is ready (median over starts): {in_run:.1} ms");
    assert!(
        (in_run - 200.0).abs() <= 5.0,
        "init after the runner is ready: {in_run:.1} ms"
    );
    assert!(
        (exec - 50.0).abs() <= 5.0,
        "first exec {exec:.2} ms, expected 50 ± 5 ms"
    );
    assert_eq!(report["variants"][1]["summary"]["failed"], 0);

    // hyperfine on the same command (the runner without its marks pipe),
    // in batches alternating with coldspy's, so that both see the same load.
    let runner = write(
        dir.path(),
        "coldspy_runner.py",
        coldspy::bench::runner::RUNNER_SOURCE,
    );
    let command =
        format!("{PY312} {runner} --handler {slow}:handler --event {event} --invocations 1");
    let (mut coldspy_ms, mut hyperfine_ms) = (Vec::new(), Vec::new());
    for batch in 0..3 {
        let batch_dir = dir.path().join(format!("batch{batch}"));
        std::fs::create_dir(&batch_dir).unwrap();
        let (_, report) = bench_ok(
            &batch_dir,
            &[
                "--python",
                PY312,
                "--event",
                &event,
                "--runs",
                "5",
                "--handler",
                &format!("{slow}:handler"),
            ],
        );
        coldspy_ms.extend(
            report["variants"][0]["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["end_to_end_ms"].as_f64().unwrap()),
        );
        let hyperfine_json = batch_dir.join("hyperfine.json");
        let hyperfine = timed("hyperfine")
            .args(["-N", "--style", "none", "--runs", "5", "--export-json"])
            .arg(&hyperfine_json)
            .arg(&command)
            .output()
            .expect("hyperfine is installed (Debian package `hyperfine`)");
        assert!(hyperfine.status.success(), "{}", text(&hyperfine.stderr));
        let hyperfine_report: Value =
            serde_json::from_slice(&std::fs::read(&hyperfine_json).unwrap()).unwrap();
        hyperfine_ms.extend(
            hyperfine_report["results"][0]["times"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_f64().unwrap() * 1e3),
        );
    }
    let coldspy_median_ms = coldspy::bench::stats::median(&coldspy_ms);
    let hyperfine_median_ms = coldspy::bench::stats::median(&hyperfine_ms);
    println!(
        "end-to-end median over 15 runs in alternating batches: coldspy {coldspy_median_ms:.1} ms, \
         hyperfine {hyperfine_median_ms:.1} ms ({:+.1} ms)",
        coldspy_median_ms - hyperfine_median_ms
    );
    // Both time fork+exec → exit of the same command; what differs is
    // coldspy's marks pipe (a few µs per mark) and the load each run met on
    // a shared machine. Alternating batches, the medians of 15 runs of this
    // ~275 ms start differed by 1–4 ms here under a load average of 3 on 2
    // cores (sequential batches: up to 11 ms). 5 % (≈ 14 ms) or 10 ms,
    // whichever is larger, still catches a wrong interval: leaving out the
    // interpreter's start (≈ 17 ms) or its teardown.
    let tolerance = (hyperfine_median_ms * 0.05).max(10.0);
    assert!(
        (coldspy_median_ms - hyperfine_median_ms).abs() <= tolerance,
        "coldspy {coldspy_median_ms:.1} ms vs hyperfine {hyperfine_median_ms:.1} ms (tolerance {tolerance:.1} ms)"
    );
}

/// The bundled pair: making the rarely used boto3 import lazy shortens init,
/// significantly, with the change's CI below zero.
#[test]
fn example_pair_shows_the_init_gain() {
    let _timing = timing_lock();
    let python = venv_python();
    let dir = scratch("pair");
    let examples = repo_root().join("examples/bench");
    let handler = |variant: &str| format!("{}/{variant}/handler.py:handler", examples.display());
    let event = examples.join("event.json").display().to_string();
    let svg = dir.path().join("pair.svg");
    let (eager, lazy) = (handler("eager"), handler("lazy"));
    let (stdout, report) = bench_ok(
        dir.path(),
        &[
            "--python",
            &python,
            "--event",
            &event,
            "--runs",
            "20",
            "--warmup",
            "1",
            "--name",
            "eager",
            "--handler",
            &eager,
            "--compare",
            "--name",
            "lazy",
            "--handler",
            &lazy,
            "--plot",
            svg.to_str().unwrap(),
        ],
    );
    println!("{stdout}");
    let init = report["comparisons"][0]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "init")
        .expect("init is compared")
        .clone();
    let change = &init["change"];
    println!(
        "init change {:.1} ms ({:.1} %), 95 % CI [{:.1}, {:.1}] ms, p = {:.2e}",
        change["difference"].as_f64().unwrap(),
        change["relative"].as_f64().unwrap() * 100.0,
        change["difference_ci95"]["low"].as_f64().unwrap(),
        change["difference_ci95"]["high"].as_f64().unwrap(),
        init["mann_whitney"]["p_value"].as_f64().unwrap(),
    );
    assert_eq!(init["verdict"], "lower");
    assert!(init["mann_whitney"]["p_value"].as_f64().unwrap() < 0.001);
    assert!(change["difference_ci95"]["high"].as_f64().unwrap() < 0.0);
    assert!(
        change["relative_ci95"]["high"].as_f64().unwrap() < -0.2,
        "lazy saves > 20 % of init"
    );
    assert!(stdout.contains("Comparison: lazy vs eager"), "{stdout}");
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("eager") && svg.contains("lazy"));
}

/// Two identical variants: the comparison says so instead of inventing a winner.
#[test]
fn identical_variants_show_no_significant_difference() {
    let _timing = timing_lock();
    let dir = scratch("same");
    let empty = write(dir.path(), "empty.py", EMPTY_HANDLER);
    let handler = format!("{empty}:handler");
    let (stdout, report) = bench_ok(
        dir.path(),
        &[
            "--python",
            PY312,
            "--runs",
            "12",
            "--name",
            "a",
            "--handler",
            &handler,
            "--compare",
            "--name",
            "b",
            "--handler",
            &handler,
        ],
    );
    let init = &report["comparisons"][0]["phases"][0];
    assert_eq!(init["phase"], "init");
    // Identical starts differ only by noise; at α = 0.05 a false positive
    // has a 5 % chance, so only the wording is asserted when p says so.
    if init["mann_whitney"]["p_value"].as_f64().unwrap() >= 0.05 {
        assert_eq!(init["verdict"], "no_significant_difference");
        assert!(stdout.contains("no significant difference"));
    }
}

/// HTTP mode: end-to-end runs until the first answer, after init and exec.
#[test]
fn serve_mode_times_until_the_first_answer() {
    let _timing = timing_lock();
    let dir = scratch("serve");
    let slow = write(dir.path(), "slow.py", SLOW_HANDLER);
    let (_, report) = bench_ok(
        dir.path(),
        &[
            "--python",
            PY312,
            "--serve",
            "--runs",
            "3",
            "--handler",
            &format!("{slow}:handler"),
        ],
    );
    assert_eq!(report["config"]["mode"], "http");
    let (init, exec, e2e) = (
        median(&report, 0, "init_ms"),
        median(&report, 0, "exec_ms"),
        median(&report, 0, "end_to_end_ms"),
    );
    assert!(
        init >= 200.0 && (exec - 50.0).abs() <= 5.0,
        "init {init:.1}, exec {exec:.1}"
    );
    assert!(e2e >= init + exec, "end-to-end {e2e:.1} ms < init + exec");
}

/// Bad input, each a single clear line on stderr and a failed exit: a
/// handler file or function that does not exist, an event that is not JSON,
/// an interpreter that does not exist.
#[test]
fn bad_inputs_are_one_clear_line() {
    let dir = scratch("bad-input");
    let app = write(dir.path(), "app.py", EMPTY_HANDLER);
    let bad_event = write(dir.path(), "event.json", "{not json");
    let missing = dir.path().join("nope.py").display().to_string();
    let cases: [(&str, String, &[&str], String); 4] = [
        (
            PY312,
            format!("{missing}:handler"),
            &[],
            format!("handler file {missing} does not exist"),
        ),
        (
            PY312,
            format!("{app}:nope"),
            &[],
            "has no function 'nope'".into(),
        ),
        (
            PY312,
            format!("{app}:handler"),
            &["--event", &bad_event],
            format!("event file {bad_event} is not valid JSON"),
        ),
        (
            "/nonexistent/python3",
            format!("{app}:handler"),
            &[],
            "cannot start the Python interpreter /nonexistent/python3".into(),
        ),
    ];
    for (python, handler, extra, expected) in cases {
        let mut args = vec!["--python", python, "--runs", "3", "--handler", &handler];
        args.extend_from_slice(extra);
        let (output, _) = bench(dir.path(), &args);
        let line = single_error_line(&output);
        assert!(
            line.contains(&expected),
            "expected {expected:?} in {line:?}"
        );
    }
}

/// A handler that always raises: every run fails, each is counted and shown,
/// and the bench ends with one line naming the exception.
#[test]
fn handler_raising_fails_every_run_with_the_exception() {
    let dir = scratch("raises");
    let app = write(
        dir.path(),
        "app.py",
        "def handler(event, context):\n    raise ValueError('boom')\n",
    );
    let (output, report) = bench(
        dir.path(),
        &[
            "--python",
            PY312,
            "--runs",
            "3",
            "--handler",
            &format!("{app}:handler"),
        ],
    );
    let line = single_error_line(&output);
    assert!(
        line.contains("all 3 runs of") && line.contains("handler raised ValueError: boom"),
        "{line}"
    );
    assert!(
        text(&output.stdout).contains("3 of 3 runs failed"),
        "{}",
        text(&output.stdout)
    );
    let report = report.expect("the JSON is written even when every run failed");
    assert_eq!(report["variants"][0]["summary"]["failed"], 3);
    assert_eq!(
        report["variants"][0]["runs"][0]["failure"]["kind"],
        "handler_error"
    );
}

/// A handler that fails every other start: failures are counted and shown,
/// and the summary covers only the successful runs.
#[test]
fn failed_runs_are_counted_never_averaged_in() {
    let dir = scratch("flaky");
    let counter = dir.path().join("count");
    let app = write(
        dir.path(),
        "app.py",
        &format!(
            "import os\nCOUNT = {counter:?}\n\n\
             def handler(event, context):\n    with open(COUNT, 'a') as f:\n        f.write('x')\n    \
             if os.path.getsize(COUNT) % 2 == 0:\n        raise RuntimeError('every other start')\n    return 1\n",
            counter = counter.display().to_string()
        ),
    );
    let (stdout, report) = bench_ok(
        dir.path(),
        &[
            "--python",
            PY312,
            "--runs",
            "6",
            "--handler",
            &format!("{app}:handler"),
        ],
    );
    assert!(stdout.contains("3 of 6 runs failed"), "{stdout}");
    assert!(
        stdout.contains("3 × handler raised RuntimeError: every other start"),
        "{stdout}"
    );
    let summary = &report["variants"][0]["summary"];
    assert_eq!(summary["successful"], 3);
    assert_eq!(summary["failed"], 3);
    assert_eq!(summary["init_ms"]["count"], 3);
}

/// A start that hangs is killed at --timeout, counted as failed, and leaves
/// no process behind.
#[test]
fn hanging_start_times_out_without_strays() {
    let _timing = timing_lock();
    let dir = scratch("hang");
    let marker = format!("hang_marker_{}", std::process::id());
    let app = write(
        dir.path(),
        &format!("{marker}.py"),
        "import time\ntime.sleep(60)\n\ndef handler(event, context):\n    return 1\n",
    );
    let started = Instant::now();
    let (output, report) = bench(
        dir.path(),
        &[
            "--python",
            PY312,
            "--runs",
            "2",
            "--timeout",
            "400ms",
            "--handler",
            &format!("{app}:handler"),
        ],
    );
    let elapsed = started.elapsed();
    let line = single_error_line(&output);
    assert!(
        line.contains("all 2 runs of") && line.contains("timed out after 400.0 ms"),
        "{line}"
    );
    assert!(
        elapsed.as_secs_f64() < 10.0,
        "two 400 ms timeouts took {elapsed:?}"
    );
    assert_eq!(
        report.unwrap()["variants"][0]["runs"][1]["failure"]["reason"],
        "timeout"
    );
    let strays: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
        .filter(|cmdline| text(cmdline).contains(&marker))
        .collect();
    assert!(strays.is_empty(), "processes left behind: {strays:?}");
}

/// The runner works on every CPython of the matrix (3.9–3.15): marks in
/// order, on the clock of the kernel (CLOCK_MONOTONIC), and the handler sees the event.
#[test]
fn runner_works_on_every_cpython() {
    let sid = std::env::var("COLDSPY_SID_ROOT").unwrap_or_else(|_| "/var/cache/coldspy/sid".into());
    let mut interpreters: Vec<(Vec<String>, Option<PathBuf>)> = [
        "/root/.pyenv/versions/3.9.18/bin/python3.9",
        "/root/.pyenv/versions/3.10.13/bin/python3.10",
        "/root/.pyenv/versions/3.11.7/bin/python3.11",
        PY312,
        "/root/.pyenv/versions/3.13.0/bin/python3.13",
        "/usr/bin/python3.11",
    ]
    .iter()
    .map(|p| (vec![p.to_string()], None))
    .collect();
    for version in ["3.13", "3.14", "3.15"] {
        interpreters.push((
            vec!["chroot".into(), sid.clone(), format!("python{version}")],
            Some(PathBuf::from(&sid)),
        ));
    }
    for (command, root) in interpreters {
        let program = command.last().unwrap();
        let on_host = match &root {
            Some(root) => root.join("usr/bin").join(program),
            None => PathBuf::from(program),
        };
        assert!(
            on_host.exists(),
            "{} is missing: run `cargo xtask setup` first",
            on_host.display()
        );
        // In a chroot, the files must be inside it.
        let base = root.clone().unwrap_or_else(|| PathBuf::from("/"));
        let dir = tempfile::Builder::new()
            .prefix("coldspy-runner-matrix-")
            .tempdir_in(base.join("tmp"))
            .unwrap();
        let inside = |path: &Path| {
            Path::new("/")
                .join(path.strip_prefix(&base).unwrap())
                .display()
                .to_string()
        };
        let runner = PathBuf::from(write(
            dir.path(),
            "coldspy_runner.py",
            coldspy::bench::runner::RUNNER_SOURCE,
        ));
        let app = PathBuf::from(write(
            dir.path(),
            "app.py",
            "import sys\n\ndef handler(event):\n    sys.stdout.write(repr(event['n']))\n",
        ));
        let event = PathBuf::from(write(dir.path(), "event.json", "{\"n\": 42}"));
        let before = coldspy::bench::runner::monotonic_ns();
        let output = Command::new(&command[0])
            .args(&command[1..])
            .arg(inside(&runner))
            .args([
                "--handler",
                &format!("{}:handler", inside(&app)),
                "--event",
                &inside(&event),
                "--marks-fd",
                "2",
            ])
            .output()
            .unwrap();
        let after = coldspy::bench::runner::monotonic_ns();
        assert!(
            output.status.success(),
            "{command:?}: {}",
            text(&output.stderr)
        );
        assert_eq!(text(&output.stdout), "42", "{command:?}");
        let messages = coldspy::bench::runner::parse_marks(&text(&output.stderr)).unwrap();
        let marks = coldspy::bench::runner::phase_marks(&messages);
        let names: Vec<&str> = marks.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["runner_ready", "init_end", "invoke_start", "invoke_end"],
            "{command:?}"
        );
        assert!(
            marks.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns),
            "{command:?}"
        );
        assert!(
            marks.iter().all(|m| (before..=after).contains(&m.ts_ns)),
            "{command:?}: not CLOCK_MONOTONIC"
        );
    }
}
