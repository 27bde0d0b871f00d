//! Functions as FaaS runtimes really load them: the real PyPI packages of
//! AWS Lambda's runtime interface client (`awslambdaric`, driven by a local
//! Runtime API stub), Google's `functions-framework` (gunicorn, real HTTP
//! requests on 127.0.0.1) and an OpenFaaS python3-http style Flask +
//! waitress `index.py`, each loading a copy of `examples/handler.py`
//! (harnesses in `tests/runtimes/`, venv from `tests/runtimes/prepare.sh`).
//! `coldspy record` wraps the runtime process (`COLDSPY_RUNTIME_WRAP`).
//!
//! Oracles: the stub's and the HTTP client's timestamps of each invocation
//! (`CLOCK_MONOTONIC`, as `meta.clock_start_ns`), the runtime's own first
//! `GET /next` (the end of Lambda's init), and, in the oracle variant, a
//! `sitecustomize` that timestamps the loader's `exec_module` of the handler
//! file, and the handler's own timing of each call (its first line to its
//! last; the harness's handler files log it through `_timed` in that
//! variant, and nothing takes a reference to the handler's code object, so
//! the watch sees the same traps as in a plain run).

// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_tests::node::{self, CgroupTree, Daemon};
use coldspy_tests::{
    children_of, coldspy_bin, is_running, process_state, read_json, repo_root, require_root,
    scratch,
};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// One runtime under test.
struct Runtime {
    /// Driver directory and file stem (`lambda/run_lambda.py`).
    name: &'static str,
    /// `meta.phase_rule` expected.
    rule: &'static str,
    /// The handler module's record name.
    module: &'static str,
    /// The handler file (relative to tests/runtimes).
    file: &'static str,
}

const LAMBDA: Runtime = Runtime {
    name: "lambda",
    rule: "runtime:awslambdaric",
    module: "app",
    file: "lambda/app.py",
};
const GCF: Runtime = Runtime {
    name: "gcf",
    rule: "runtime:functions-framework",
    module: "main",
    file: "gcf/main.py",
};
const OPENFAAS: Runtime = Runtime {
    name: "openfaas",
    rule: "runtime:openfaas",
    module: "function.handler",
    file: "openfaas/function/handler.py",
};

/// The runtimes' venv (made once by `prepare.sh`, idempotent).
fn prepare() -> PathBuf {
    let script = repo_root().join("tests/runtimes/prepare.sh");
    let out = Command::new("bash").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "tests/runtimes/prepare.sh failed (run `cargo xtask setup`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    script
}

/// Runs `runtime`'s driver for `events` invocations under `coldspy record`
/// (extra `record` flags in `record`); returns (profile, driver summary).
fn run(runtime: &Runtime, events: u32, oracle: bool, record: &str) -> Run {
    run_with(runtime, events, oracle, record, &[])
}

/// [`run`] with more arguments for the driver.
fn run_with(
    runtime: &Runtime,
    events: u32,
    oracle: bool,
    record: &str,
    driver_args: &[&str],
) -> Run {
    prepare();
    // One directory per run: two tests run the same runtime at once (the
    // plain check and the advice's 100 events), and `scratch` empties it.
    let dir = scratch(&format!(
        "{}-{}-{events}",
        runtime.name,
        if oracle { "oracle" } else { "plain" }
    ));
    let profile = dir.join("profile.json");
    let summary = dir.join("summary.json");
    let driver = repo_root().join(format!("tests/runtimes/{0}/run_{0}.py", runtime.name));
    // The trace keeps the watch's raw call marks, for a failure's message.
    let wrap = format!(
        "{} -v record {record} -o {} --save-trace {} --",
        coldspy_bin().display(),
        profile.display(),
        dir.join("trace.json").display()
    );
    let mut command = Command::new("python3");
    command
        .arg(&driver)
        .args(["--events", &events.to_string()])
        .arg("--summary")
        .arg(&summary)
        .arg("--out-dir")
        .arg(dir.join("out"))
        .args(driver_args)
        .env("COLDSPY_RUNTIME_WRAP", wrap);
    if oracle {
        // A document of some length (tests/runtimes/README.md as the
        // event's text): calls of a few ms, as real ones are, rather than
        // the bundled example's 1 ms (the watch's fixed cost per call,
        // ~40 µs here, would be 4 % of that alone).
        command
            .arg("--oracle")
            .arg("--event-file")
            .arg(repo_root().join("tests/runtimes/document_event.json"));
    }
    let out = command.output().unwrap();
    let summary_value = read_json(&summary);
    assert!(
        out.status.success() && summary_value["ok"] == true,
        "{} driver failed:\n{}\n{}",
        runtime.name,
        String::from_utf8_lossy(&out.stderr),
        ["runtime.stderr", "server.stderr"]
            .iter()
            .filter_map(|f| std::fs::read_to_string(dir.join("out").join(f)).ok())
            .collect::<String>()
    );
    let log = ["runtime.stderr", "server.stderr"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(dir.join("out").join(f)).ok())
        .collect::<String>();
    for line in log.lines().filter(|l| l.contains("coldspy")) {
        eprintln!("{}: {line}", runtime.name);
    }
    Run {
        profile: read_json(&profile),
        summary: summary_value,
        trace: dir.join("trace.json"),
    }
}

/// What [`run`] gives: the profile, the driver's summary, the trace's path.
struct Run {
    profile: Value,
    summary: Value,
    trace: PathBuf,
}

/// What the handler watch marked (the run's trace), against the init's
/// end: which calls the phases kept or dropped, for a failure's message.
fn marks_seen(profile: &Value, trace: &std::path::Path) -> String {
    let clock = profile["meta"]["clock_start_ns"].as_u64().unwrap_or(0);
    let init_end = clock + profile["stats"]["init_us"].as_u64().unwrap_or(0) * 1000;
    if !trace.exists() {
        return format!("init ends at {init_end}; no trace at {}", trace.display());
    }
    let marks: Vec<String> = read_json(trace)["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "{} {} tid {} {}",
                m["name"], m["ts_ns"], m["tid"], m["detail"]
            )
        })
        .collect();
    format!("init ends at {init_end}; the watch's marks: {marks:#?}")
}

/// (start, end) ns of each invocation coldspy saw, in start order.
fn invocations(profile: &Value) -> Vec<(u64, u64)> {
    let clock = profile["meta"]["clock_start_ns"].as_u64().unwrap();
    profile["invocations"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|i| {
                    let start = clock + i["start_us"].as_u64().unwrap() * 1000;
                    (start, start + i["duration_us"].as_u64().unwrap() * 1000)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// (start, end) ns of each invocation as the stub or the HTTP client saw it.
fn client_windows(summary: &Value) -> Vec<(u64, u64)> {
    let list = summary["invocations"]
        .as_array()
        .or_else(|| summary["requests"].as_array())
        .expect("the summary lists the invocations");
    list.iter()
        .map(|i| {
            let at = |a: &str, b: &str| i[a].as_u64().or_else(|| i[b].as_u64()).unwrap();
            (
                at("handout_mono_ns", "start_mono_ns"),
                at("response_mono_ns", "end_mono_ns"),
            )
        })
        .collect()
}

/// Each invocation coldspy saw lies inside its call's window as the stub
/// or the HTTP client timed it (calls one after the other), one for one.
fn assert_inside_windows(profile: &Value, summary: &Value) {
    let ours = invocations(profile);
    let windows = client_windows(summary);
    assert_eq!(ours.len(), windows.len(), "{ours:?} vs {windows:?}");
    for (&(start, end), &(from, to)) in ours.iter().zip(&windows) {
        assert!(
            from <= start && end <= to,
            "[{start}, {end}] outside the client's [{from}, {to}]"
        );
    }
}

/// The handler module's import record.
fn handler_record<'a>(profile: &'a Value, runtime: &Runtime) -> &'a Value {
    profile["imports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["module"] == runtime.module && r["loader"].is_string())
        .unwrap_or_else(|| {
            // What was seen of it instead: a body without its loader (the
            // asking frames unread), or no edge at all.
            let seen: Vec<&Value> = profile["imports"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["module"] == runtime.module)
                .collect();
            panic!(
                "{}: no handler module {} loaded by the runtime; its records: {seen:?}; stats: {}; read failures: {}",
                runtime.name, runtime.module, profile["stats"], profile["stats"]["read_failures"]
            )
        })
}

/// A plain run: the handler module is the root of the function's imports,
/// loaded by the runtime; its statements are the handler file's lines 10,
/// 11, 12; the phases follow the runtime's rule; every invocation is seen,
/// once, inside the window in which the runtime's client saw it.
fn check_plain(runtime: &Runtime) {
    require_root();
    const EVENTS: u32 = 5;
    let Run {
        profile,
        summary,
        trace,
    } = run(runtime, EVENTS, false, "");
    let name = runtime.name;
    assert_eq!(profile["meta"]["phase_rule"], runtime.rule, "{name}");
    let handler = handler_record(&profile, runtime);
    assert_eq!(
        handler["depth"], 0,
        "{name}: the handler module is an import root"
    );
    let index = profile["imports"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| std::ptr::eq(r, handler))
        .unwrap();
    let file = repo_root().join("tests/runtimes").join(runtime.file);
    for (module, line) in [("boto3", 10), ("markdown", 11), ("tqdm", 12)] {
        let record = profile["imports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["module"] == module)
            .unwrap_or_else(|| panic!("{name}: no import of {module}"));
        assert_eq!(
            record["parent_index"], index,
            "{name}: {module} is imported by the handler module"
        );
        assert_eq!(
            record["site"]["file"],
            file.display().to_string(),
            "{name}: {module}"
        );
        assert_eq!(record["site"]["line"], line, "{name}: {module}");
    }
    let stats = &profile["stats"];
    assert_eq!(
        stats["init_us"], handler["end_us"],
        "{name}: init ends when the handler is imported"
    );
    assert_eq!(stats["exec_count"], EVENTS, "{name}: exec_count");
    let ours = invocations(&profile);
    let windows = client_windows(&summary);
    assert_eq!(
        ours.len(),
        windows.len(),
        "{name}: {ours:?} vs {windows:?}; {}",
        marks_seen(&profile, &trace)
    );
    for (i, (&(start, end), &(from, to))) in ours.iter().zip(&windows).enumerate() {
        assert!(
            from <= start && end <= to,
            "{name}: invocation {i} at [{start}, {end}] is outside the client's [{from}, {to}]"
        );
        eprintln!(
            "{name}: invocation {i}: {:.3} ms inside the client's {:.3} ms",
            (end - start) as f64 / 1e6,
            (to - from) as f64 / 1e6
        );
    }
    let init_end_ns = profile["meta"]["clock_start_ns"].as_u64().unwrap()
        + stats["init_us"].as_u64().unwrap() * 1000;
    let ready_ns = summary["init_done"]["mono_ns"]
        .as_u64()
        .or_else(|| summary["ready"]["mono_ns"].as_u64());
    if let Some(ready_ns) = ready_ns {
        assert!(
            init_end_ns <= ready_ns,
            "{name}: init ends after the runtime was ready"
        );
    }
}

/// Tests whose timings a busy neighbour would skew, or that load both
/// cores themselves: one at a time.
fn timing_sensitive() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The oracle run: the handler import's time equals the loader's own
/// (within 5 %); each handler call, as the handler timed itself, is inside
/// exactly one invocation coldspy saw, and the invocations' summed time is
/// within 5 % of the handler's own. A timing difference (never a missing or
/// extra call) is measured once more, as the `-X importtime` comparisons
/// are: a preemption on this shared machine can fall between the two
/// tools' clocks.
fn check_oracle(runtime: &Runtime) {
    require_root();
    let _one_at_a_time = timing_sensitive();
    if let Err(first) = oracle_run(runtime) {
        eprintln!("{first}; measured once more");
        if let Err(again) = oracle_run(runtime) {
            panic!("{again} (first run: {first})");
        }
    }
}

/// One [`check_oracle`] run: panics on a structural difference, returns
/// the timing difference that failed.
fn oracle_run(runtime: &Runtime) -> Result<(), String> {
    let Run {
        profile,
        summary,
        trace,
    } = run(runtime, 5, true, "");
    let name = runtime.name;
    let oracle = &summary["oracle"];
    let handler = handler_record(&profile, runtime);
    let ours_us = handler["cumulative_us"].as_f64().unwrap();
    let theirs_us = oracle["handler_import_ms"].as_f64().unwrap() * 1000.0;
    let error = (ours_us - theirs_us).abs() / theirs_us;
    eprintln!(
        "{name}: handler import {ours_us:.0} us vs the loader's {theirs_us:.0} us ({:.2} %)",
        100.0 * error
    );
    if error > 0.05 {
        return Err(format!(
            "{name}: handler import {ours_us} us vs {theirs_us} us"
        ));
    }
    let ours = invocations(&profile);
    let calls = oracle["calls"].as_array().unwrap();
    assert_eq!(
        ours.len(),
        calls.len(),
        "{name}: {ours:?} vs {calls:?}; {}",
        marks_seen(&profile, &trace)
    );
    let (mut ours_ns, mut theirs_ns) = (0, 0);
    for call in calls {
        let (from, to) = (
            call["start_mono_ns"].as_u64().unwrap(),
            call["end_mono_ns"].as_u64().unwrap(),
        );
        // The handler times itself from its first line to its last, inside
        // its frame. Invocations are in µs: an end may be 2 µs early.
        let inside: Vec<_> = ours
            .iter()
            .filter(|&&(s, e)| s <= from && to <= e + 2000)
            .collect();
        assert_eq!(
            inside.len(),
            1,
            "{name}: oracle call [{from}, {to}] vs {ours:?}"
        );
        let (s, e) = inside[0];
        ours_ns += e - s;
        theirs_ns += to - from;
        eprintln!(
            "{name}: call {:.3} ms (oracle), {:.3} ms (coldspy)",
            (to - from) as f64 / 1e6,
            (e - s) as f64 / 1e6
        );
    }
    let error = (theirs_ns as f64 - ours_ns as f64).abs() / theirs_ns as f64;
    eprintln!(
        "{name}: exec {:.3} ms (coldspy) vs {:.3} ms (oracle), {:.2} %",
        ours_ns as f64 / 1e6,
        theirs_ns as f64 / 1e6,
        100.0 * error
    );
    if error > 0.05 {
        return Err(format!(
            "{name}: exec {ours_ns} ns vs the oracle's {theirs_ns} ns"
        ));
    }
    Ok(())
}

#[test]
fn lambda_handler_import_and_invocations_are_exact() {
    check_plain(&LAMBDA);
}

#[test]
fn lambda_handler_calls_are_the_oracle_calls() {
    check_oracle(&LAMBDA);
}

#[test]
fn functions_framework_handler_import_and_invocations_are_exact() {
    check_plain(&GCF);
}

#[test]
fn functions_framework_handler_calls_are_the_oracle_calls() {
    check_oracle(&GCF);
}

#[test]
fn openfaas_handler_import_and_invocations_are_exact() {
    check_plain(&OPENFAAS);
}

#[test]
fn openfaas_handler_calls_are_the_oracle_calls() {
    check_oracle(&OPENFAAS);
}

/// With enough invocations to be evidence (100 at 1 kHz), the bundled
/// example's advice under awslambdaric names its own statements: boto3 at
/// line 10 and tqdm at line 12, never markdown (line 11, used every call).
#[test]
fn lambda_advice_names_the_handler_lines() {
    require_root();
    let profile = run(&LAMBDA, 100, false, "--rate 1000").profile;
    let dir = scratch("lambda-advice");
    let path = dir.join("p.json");
    std::fs::write(&path, serde_json::to_vec(&profile).unwrap()).unwrap();
    let out = Command::new(coldspy_bin())
        .arg("report")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // The advice is the "what to change" section, before the statements
    // that need no change.
    let advice = text
        .split("your other import statements")
        .next()
        .unwrap_or("");
    let app = repo_root().join("tests/runtimes/lambda/app.py");
    for line in [10, 12] {
        let site = format!("{}:{line}", app.display());
        assert!(advice.contains(&site), "no advice at {site}:\n{text}");
    }
    let markdown = format!("{}:11", app.display());
    assert!(
        !advice.contains(&markdown),
        "markdown (used) is advised:\n{text}"
    );
}

/// Starts a runtime's driver (`driver`, under tests/runtimes) in its
/// `--keep-warm` mode for `events` requests, with its files in `dir`
/// (`ready.json`, `control`, `summary.json`, `out/`), under `coldspy`'s
/// `wrap` if given.
fn spawn_warm_driver(
    driver: &str,
    events: u32,
    dir: &std::path::Path,
    extra: &[&std::ffi::OsStr],
    wrap: Option<&str>,
) -> std::process::Child {
    let mut command = Command::new("python3");
    command
        .arg(repo_root().join("tests/runtimes").join(driver))
        .args([
            "--events",
            &events.to_string(),
            "--keep-warm",
            "--timeout",
            "90",
        ])
        .args(extra)
        .arg("--ready-file")
        .arg(dir.join("ready.json"))
        .arg("--control-file")
        .arg(dir.join("control"))
        .arg("--summary")
        .arg(dir.join("summary.json"))
        .arg("--out-dir")
        .arg(dir.join("out"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(wrap) = wrap {
        command.env("COLDSPY_RUNTIME_WRAP", wrap);
    }
    command.spawn().unwrap()
}

/// Waits until `ready(contents of path)` or the timeout passes.
fn wait_for_file(path: &std::path::Path, ready: impl Fn(&str) -> bool, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if std::fs::read_to_string(path).is_ok_and(|s| ready(&s)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("timed out waiting for {what} ({})", path.display());
}

/// `record --pid` on a warm awslambdaric process (initialized, blocked on
/// its next event) records the next 3 invocations and stops by itself.
#[test]
fn record_pid_on_a_warm_lambda_runtime_records_the_next_three_invocations() {
    require_root();
    prepare();
    let dir = scratch("lambda-warm");
    let (ready, control, summary) = (
        dir.join("ready.json"),
        dir.join("control"),
        dir.join("summary.json"),
    );
    let mut runtime = spawn_warm_driver("lambda/run_lambda.py", 3, &dir, &[], None);
    wait_for_file(&ready, |s| s.contains("runtime_pid"), "the warm runtime");
    let pid = read_json(&ready)["runtime_pid"].as_u64().unwrap();
    let log = dir.join("record.log");
    let profile = dir.join("profile.json");
    let mut record = Command::new(coldspy_bin())
        .args([
            "-v",
            "record",
            "--invocations",
            "3",
            "--pid",
            &pid.to_string(),
            "-o",
        ])
        .arg(&profile)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for_file(
        &log,
        |s| s.contains("watching the calls of handler"),
        "the handler watch",
    );
    std::fs::write(&control, "3").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = record.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "record did not stop after 3 invocations"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(runtime.wait().unwrap().success(), "the driver failed");
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let profile = read_json(&profile);
    assert_eq!(profile["meta"]["phase_rule"], "runtime:awslambdaric");
    assert_eq!(profile["stats"]["exec_count"], 3);
    assert_inside_windows(&profile, &read_json(&summary));
}

/// A `record --all` daemon writing under `dir/profiles`, watching one
/// cgroup (`fn`) of a fresh tree: the tree (removed when dropped), the
/// cgroup, the daemon.
fn daemon_on_a_node(dir: &std::path::Path, name: &str) -> (CgroupTree, PathBuf, Daemon) {
    let mut tree = CgroupTree::new(name);
    let group = tree.group("fn");
    let daemon = Daemon::start(
        &dir.join("profiles"),
        &["--cgroup", group.to_str().unwrap()],
    );
    (tree, group, daemon)
}

/// `record --all` on a node where awslambdaric starts in a watched cgroup:
/// the runtime process's profile takes the runtime's phase rule, and each
/// of its invocations is seen, once, inside the stub's window (the daemon
/// watches the handler as `record` does).
#[test]
fn record_all_counts_a_lambda_runtimes_invocations() {
    require_root();
    prepare();
    const EVENTS: u32 = 5;
    let dir = scratch("lambda-all");
    let (_tree, group, daemon) = daemon_on_a_node(&dir, "lambda-all");
    let summary = dir.join("summary.json");
    let driver = repo_root().join("tests/runtimes/lambda/run_lambda.py");
    let argv: Vec<String> = [
        "python3".to_string(),
        driver.display().to_string(),
        "--events".to_string(),
        EVENTS.to_string(),
        "--summary".to_string(),
        summary.display().to_string(),
        "--out-dir".to_string(),
        dir.join("out").display().to_string(),
    ]
    .into();
    let (status, stderr) = node::finish(node::spawn_in(&group, &[], &argv));
    assert!(status.success(), "the driver failed: {stderr}");
    let summary = read_json(&summary);
    let pid = summary["pid"].as_u64().unwrap() as u32;
    // The driver's Popen child ran Python (its preexec_fn) before it
    // exec'd the runtime: the same pid can have that image's line first.
    let line = daemon.wait_for_command(pid, "awslambdaric", std::time::Duration::from_secs(60));
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    let profile = read_json(std::path::Path::new(line["path"].as_str().unwrap()));
    assert_eq!(profile["meta"]["phase_rule"], LAMBDA.rule, "{log}");
    assert_eq!(profile["stats"]["exec_count"], EVENTS, "{log}");
    assert_inside_windows(&profile, &summary);
}

/// `record --all` on a node where functions-framework serves with two
/// gunicorn workers, requests in flight at once: each worker has a profile
/// of its own, and together they hold every call once (each worker's copy
/// of the handler's code object keeps its own count in the kernel).
#[test]
fn record_all_counts_the_calls_of_two_gcf_workers_serving_at_once() {
    require_root();
    prepare();
    const EVENTS: u64 = 24;
    let _one_at_a_time = timing_sensitive();
    let dir = scratch("gcf-all-workers");
    let (_tree, group, daemon) = daemon_on_a_node(&dir, "gcf-all");
    let summary = dir.join("summary.json");
    let driver = repo_root().join("tests/runtimes/gcf/run_gcf.py");
    let document = repo_root().join("tests/runtimes/document_event.json");
    let argv: Vec<String> = [
        "python3",
        driver.to_str().unwrap(),
        "--workers",
        "2",
        "--concurrency",
        "6",
        "--requests",
        &EVENTS.to_string(),
        "--event-file",
        document.to_str().unwrap(),
        "--summary",
        summary.to_str().unwrap(),
        "--out-dir",
        dir.join("out").to_str().unwrap(),
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let (status, stderr) = node::finish(node::spawn_in(&group, &[], &argv));
    assert!(status.success(), "the driver failed: {stderr}");
    let summary = read_json(&summary);
    let master = summary["pid"].as_u64().unwrap() as u32;
    let workers: Vec<u32> = summary["worker_pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(workers.len(), 2, "{summary}");
    let mut pids = workers.clone();
    pids.push(master);
    let index = daemon.wait_for(&pids, std::time::Duration::from_secs(60));
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    let mut total = 0;
    for pid in &workers {
        let line = index
            .iter()
            .find(|l| l["pid"].as_u64() == Some(*pid as u64))
            .unwrap();
        assert_eq!(line["labels"]["parent_pid"], master.to_string(), "{line}");
        let profile = read_json(std::path::Path::new(line["path"].as_str().unwrap()));
        let calls = profile["stats"]["exec_count"].as_u64().unwrap();
        eprintln!("worker {pid}: {calls} calls");
        total += calls;
    }
    assert_eq!(total, EVENTS, "{log}");
}

/// The handler watch's ≈ 30 ms of verification blocks coldspy's event loop
/// (nothing is drained meanwhile): it is done for a recognized runtime's
/// command line, never for a plain script, whose last samples would then be
/// read after its exit. Both with the runtimes venv's CPython 3.12.
#[test]
fn the_handler_watch_is_verified_for_a_runtime_only() {
    require_root();
    prepare();
    let python = coldspy_tests::cache_dir().join("venv-runtimes-3.12/bin/python");
    let dir = scratch("watch-only-for-runtimes");
    let verified = |args: &[&str]| {
        let out = Command::new(coldspy_bin())
            .args(["-vv", "record", "-q", "-o"])
            .arg(dir.join("profile.json"))
            .arg("--")
            .arg(&python)
            .args(args)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr).to_string();
        (log.contains("handler watch verified"), log)
    };
    let (plain, log) = verified(&["-c", "import json"]);
    assert!(!plain, "a plain script had the watch verified:\n{log}");
    // `-m awslambdaric` with no runtime API to reach: it fails at once,
    // after the command line was seen.
    let (runtime, log) = verified(&["-m", "awslambdaric", "app.handler"]);
    assert!(
        runtime,
        "the runtime's command line did not ready the watch:\n{log}"
    );
}

/// Whether `pid` has exited (gone, or a zombie: its memory is released).
fn has_exited(pid: u32) -> bool {
    matches!(process_state(pid), None | Some('Z' | 'X'))
}

/// A warm functions-framework (gunicorn) server under `coldspy record`,
/// sending 3 requests when told (`control`).
struct WarmGcf {
    driver: std::process::Child,
    dir: PathBuf,
}

impl WarmGcf {
    fn start(test: &str) -> WarmGcf {
        prepare();
        let dir = scratch(test);
        let wrap = format!(
            "{} -v record -o {} --",
            coldspy_bin().display(),
            dir.join("profile.json").display()
        );
        let driver = spawn_warm_driver("gcf/run_gcf.py", 3, &dir, &[], Some(&wrap));
        WarmGcf { driver, dir }
    }

    /// coldspy: the leader of the driver's server group (its child is the
    /// gunicorn master, whose child is the worker).
    fn coldspy(&self) -> u32 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let driver = self.driver.id();
        loop {
            if let Some(&pid) = children_of(driver).iter().find(|&&pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "coldspy")
            }) {
                return pid;
            }
            assert!(std::time::Instant::now() < deadline, "no coldspy started");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    fn wait_ready(&self) {
        wait_for_file(
            &self.dir.join("ready.json"),
            |s| s.contains("server_pid"),
            "the warm server",
        );
    }

    fn wait_watched(&self) {
        wait_for_file(
            &self.dir.join("out/server.stderr"),
            |s| s.contains("watching the calls of handler"),
            "the handler watch",
        );
    }

    /// Asks for the 3 requests.
    fn send(&self) {
        std::fs::write(self.dir.join("control"), "3").unwrap();
    }

    /// Waits for the driver; checks its 3 calls are the profile's 3
    /// invocations, each inside its client's window.
    fn check(mut self) {
        assert!(self.driver.wait().unwrap().success(), "the driver failed");
        let summary = read_json(&self.dir.join("summary.json"));
        assert_eq!(
            summary["requests"].as_array().unwrap().len(),
            3,
            "{summary}"
        );
        let profile = read_json(&self.dir.join("profile.json"));
        assert_eq!(profile["meta"]["phase_rule"], GCF.rule);
        assert_eq!(profile["stats"]["exec_count"], 3);
        assert_inside_windows(&profile, &summary);
    }
}

/// Sends `signal` to `pid`.
fn signal(pid: u32, signal: i32) {
    // SAFETY: a plain signal to a process of this test.
    unsafe { libc::kill(pid as i32, signal) };
}

/// Waits (30 s at most) until `done()`.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A pre-fork worker's handler calls still count when coldspy reads them
/// only after the worker ended (a profiler preempted on a busy node): the
/// kernel keeps the caller's names with each call. coldspy is stopped
/// (SIGSTOP) while functions-framework's gunicorn worker serves 3 requests
/// and exits, and continued once the worker is gone.
#[test]
fn calls_of_a_worker_that_ended_before_coldspy_read_them_are_counted() {
    require_root();
    let gcf = WarmGcf::start("gcf-stalled-end");
    let coldspy = gcf.coldspy();
    gcf.wait_ready();
    gcf.wait_watched();
    let workers: Vec<u32> = children_of(coldspy)
        .into_iter()
        .flat_map(children_of)
        .collect();
    assert_eq!(workers.len(), 1, "one gunicorn worker: {workers:?}");
    signal(coldspy, libc::SIGSTOP);
    gcf.send();
    wait_until("the worker's end", || has_exited(workers[0]));
    signal(coldspy, libc::SIGCONT);
    gcf.check();
}

/// Two gunicorn workers serving requests at once: each worker's copy of the
/// handler's code object (the same address in both) has a count of its
/// own, so every call is seen once, inside its client's window, however the
/// two workers' calls interleave.
#[test]
fn calls_in_two_pre_fork_workers_at_once_are_each_counted() {
    require_root();
    let _one_at_a_time = timing_sensitive();
    const EVENTS: usize = 24;
    let document = repo_root().join("tests/runtimes/document_event.json");
    let events = EVENTS.to_string();
    let Run {
        profile, summary, ..
    } = run_with(
        &GCF,
        EVENTS as u32,
        false,
        "",
        &[
            "--workers",
            "2",
            "--concurrency",
            "6",
            "--event-file",
            document.to_str().unwrap(),
            "--requests",
            &events,
        ],
    );
    assert_eq!(profile["meta"]["phase_rule"], GCF.rule);
    let mut windows = client_windows(&summary);
    assert_eq!(windows.len(), EVENTS);
    windows.sort_unstable();
    // Calls in flight at once, else this tests nothing.
    let overlapping = windows.windows(2).filter(|w| w[1].0 < w[0].1).count();
    assert!(overlapping > 0, "no two requests overlapped: {windows:?}");
    let ours = invocations(&profile);
    assert_eq!(profile["stats"]["exec_count"], EVENTS, "{ours:?}");
    // Each call inside a window of its own (a matching: calls overlap).
    let fits = |c: usize, w: usize| windows[w].0 <= ours[c].0 && ours[c].1 <= windows[w].1;
    let mut owner: Vec<Option<usize>> = vec![None; windows.len()];
    fn assign(
        c: usize,
        seen: &mut [bool],
        owner: &mut [Option<usize>],
        fits: &dyn Fn(usize, usize) -> bool,
    ) -> bool {
        for w in 0..owner.len() {
            if fits(c, w) && !seen[w] {
                seen[w] = true;
                if owner[w].is_none_or(|other| assign(other, seen, owner, fits)) {
                    owner[w] = Some(c);
                    return true;
                }
            }
        }
        false
    }
    for c in 0..ours.len() {
        let mut seen = vec![false; windows.len()];
        assert!(
            assign(c, &mut seen, &mut owner, &fits),
            "{:?} has no client window of its own: {ours:?} vs {windows:?}",
            ours[c]
        );
    }
}

/// A small handler module (one stdlib import) is watched too: its body is
/// over, and its code object freed, before coldspy reads that it began, so
/// the handler's code object comes from the constants the kernel read
/// while the body ran; and gunicorn's worker, forked about as soon, is
/// watched whether or not it inherited the watch.
#[test]
fn a_small_handler_modules_calls_are_counted() {
    require_root();
    const EVENTS: u32 = 5;
    let source = repo_root().join("tests/runtimes/gcf/small_main.py");
    let Run {
        profile, summary, ..
    } = run_with(
        &GCF,
        EVENTS,
        false,
        "",
        &["--source", source.to_str().unwrap()],
    );
    assert_eq!(profile["meta"]["phase_rule"], GCF.rule);
    assert_eq!(profile["stats"]["exec_count"], EVENTS);
    assert_inside_windows(&profile, &summary);
}

/// A worker forked before coldspy set the handler watch (so it inherited
/// none) is watched too: coldspy is stopped from the moment its command
/// runs until gunicorn's worker is up, then continued; the 3 requests come
/// once the watch is set.
#[test]
fn a_worker_forked_before_the_handler_watch_is_watched() {
    require_root();
    // The stop must come before the handler module's body (≈ 150 ms after
    // the release); on a loaded machine it may not: try again.
    for attempt in 0..3 {
        let gcf = WarmGcf::start(&format!("gcf-stalled-start-{attempt}"));
        let coldspy = gcf.coldspy();
        // Released: coldspy knows the interpreter, which runs (no longer
        // held at its exec or entry).
        let master = || children_of(coldspy).first().copied();
        let log = gcf.dir.join("out/server.stderr");
        wait_until("the runtime's release", || {
            std::fs::read_to_string(&log).is_ok_and(|s| s.contains("layout table"))
                && master().is_some_and(is_running)
        });
        signal(coldspy, libc::SIGSTOP);
        gcf.wait_ready();
        let stopped_log = std::fs::read_to_string(&log).unwrap_or_default();
        signal(coldspy, libc::SIGCONT);
        gcf.wait_watched();
        if stopped_log.contains("watching the calls of handler") {
            eprintln!("attempt {attempt}: the watch was set before coldspy was stopped");
            gcf.send();
            gcf.check();
            continue;
        }
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            log_text.contains("before its handler watch: watched too"),
            "{log_text}"
        );
        gcf.send();
        gcf.check();
        return;
    }
    panic!("coldspy was never stopped before the handler watch in 3 attempts");
}

/// A small OpenFaaS handler module (one stdlib import), whose runtime is
/// recognized by its code (`index.py`), not its command line: once its
/// code is seen, module bodies send their constants, so the handler's code
/// object is found after its module's is freed, and its calls counted.
#[test]
fn a_small_openfaas_handlers_calls_are_counted() {
    require_root();
    prepare();
    let dir = scratch("openfaas-small");
    let function_dir = dir.join("fn");
    std::fs::create_dir_all(function_dir.join("function")).unwrap();
    std::fs::copy(
        repo_root().join("tests/runtimes/openfaas/index.py"),
        function_dir.join("index.py"),
    )
    .unwrap();
    std::fs::write(function_dir.join("function/__init__.py"), "").unwrap();
    std::fs::write(
        function_dir.join("function/handler.py"),
        "import json\n\n\ndef handle(event, context):\n    \
         return {\"statusCode\": 200, \"body\": json.dumps({\"n\": len(event.body or b\"\")})}\n",
    )
    .unwrap();
    let (ready, control, summary, profile) = (
        dir.join("ready.json"),
        dir.join("control"),
        dir.join("summary.json"),
        dir.join("profile.json"),
    );
    let wrap = format!(
        "{} -v record -o {} --",
        coldspy_bin().display(),
        profile.display()
    );
    let mut driver = spawn_warm_driver(
        "openfaas/run_openfaas.py",
        5,
        &dir,
        &["--function-dir".as_ref(), function_dir.as_os_str()],
        Some(&wrap),
    );
    wait_for_file(&ready, |s| s.contains("server_pid"), "the warm server");
    wait_for_file(
        &dir.join("out/server.stderr"),
        |s| s.contains("watching the calls of handle"),
        "the handler watch",
    );
    std::fs::write(&control, "5").unwrap();
    assert!(driver.wait().unwrap().success(), "the driver failed");
    let profile = read_json(&profile);
    assert_eq!(profile["meta"]["phase_rule"], OPENFAAS.rule);
    assert_eq!(profile["stats"]["exec_count"], 5);
    assert_inside_windows(&profile, &read_json(&summary));
}
