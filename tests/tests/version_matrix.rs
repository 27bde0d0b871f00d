//! The version matrix: on every interpreter of [`all_interpreters`] (pyenv
//! 3.9–3.13, Debian's static 3.11, sid's static 3.13–3.15 started as
//! `chroot ROOT python3.X`), (a) the known-stack scripts, (b) two threads
//! with their own known stacks, each sample attributed to its thread, and
//! (c) the `-X importtime` oracle. Every cell is run, the table printed,
//! then any failure fails the test. sid's debug build (`python3.14d`) is
//! checked the same way in its own test.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_tests::importtime::compare_retrying_timing;
use coldspy_tests::{
    all_interpreters, debug_interpreter, frames_of, on_busy_path, on_recursion_path, read_json,
    record, require_root, scratch, share_on_path, Frame, Interpreter,
};
use serde_json::Value;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Records `script` on `interp` and returns the profile (and the trace,
/// when `with_trace`) and coldspy's stderr.
fn run(
    interp: &Interpreter,
    test: &str,
    interpreter_args: &[&str],
    script: &str,
    with_trace: bool,
) -> (Value, Option<Value>, String) {
    let dir = scratch(&format!("matrix-{test}-{}", interp.name));
    let trace_path = dir.join("trace.json");
    let trace_arg = trace_path.display().to_string();
    let extra: Vec<&str> = if with_trace {
        vec!["--save-trace", &trace_arg]
    } else {
        Vec::new()
    };
    let rec = record(&dir, &extra, &interp.command_for(interpreter_args, script));
    assert!(
        rec.output.status.success(),
        "{}: coldspy record failed: {}",
        interp.name,
        String::from_utf8_lossy(&rec.output.stderr)
    );
    let trace = with_trace.then(|| read_json(&trace_path));
    (
        rec.profile,
        trace,
        String::from_utf8_lossy(&rec.output.stderr).into_owned(),
    )
}

/// (a) `main → parse → tokenize` and a 50-deep recursion: ≥ 95 % on path.
fn known_stacks(interp: &Interpreter) -> Result<String, String> {
    let (profile, _, _) = run(interp, "busy", &[], "busy_stack.py", false);
    let (busy, total) = share_on_path(&profile, on_busy_path);
    if total < 100 || busy < 0.95 {
        return Err(format!(
            "busy_stack: {:.1} % of {total} samples on path",
            busy * 100.0
        ));
    }
    let (profile, _, _) = run(interp, "recursion", &[], "recursion.py", false);
    let (deep, _) = share_on_path(&profile, on_recursion_path);
    if deep < 0.95 {
        return Err(format!("recursion: {:.1} % on path", deep * 100.0));
    }
    Ok(format!(
        "busy {:.1} %, recursion {:.1} %",
        busy * 100.0,
        deep * 100.0
    ))
}

/// (b) Two threads spinning in `worker_a` and `worker_b`: each worker's
/// samples come from one thread, that thread's samples are ≥ 95 % in it.
fn two_threads(interp: &Interpreter) -> Result<String, String> {
    let (profile, trace, _) = run(interp, "threads", &[], "two_threads.py", true);
    let trace = trace.expect("trace requested");
    let frames = frames_of(&trace["frames"]);
    // Both names in every frame: co_name everywhere, co_qualname from 3.11.
    let expected_qualname = if interp.version >= (3, 11) {
        "Thread.run"
    } else {
        "run"
    };
    let thread_run: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.function == "run" && f.file.ends_with("threading.py"))
        .collect();
    if thread_run.is_empty() || thread_run.iter().any(|f| f.qualname != expected_qualname) {
        return Err(format!(
            "threading's run frames {thread_run:?}: expected function `run`, qualname `{expected_qualname}`"
        ));
    }
    // tid → (python samples, samples innermost in worker_a, in worker_b)
    let mut per_thread: HashMap<u64, (u64, u64, u64)> = HashMap::new();
    for sample in trace["samples"].as_array().unwrap() {
        let stack: Vec<&Frame> = sample["stack"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &frames[i.as_u64().unwrap() as usize])
            .collect();
        let Some(innermost) = stack.first() else {
            continue;
        };
        let in_run = stack.iter().any(|f| f.function.ends_with("run"));
        let entry = per_thread
            .entry(sample["tid"].as_u64().unwrap())
            .or_default();
        entry.0 += 1;
        let f = "two_threads.py";
        entry.1 += (in_run && innermost.is("worker_a", f, &[7, 8])) as u64;
        entry.2 += (in_run && innermost.is("worker_b", f, &[12, 13])) as u64;
    }
    let owner = |pick: fn(&(u64, u64, u64)) -> u64| {
        per_thread
            .iter()
            .max_by_key(|(_, c)| pick(c))
            .map(|(&tid, &c)| (tid, c))
            .unwrap_or_default()
    };
    let (tid_a, a) = owner(|c| c.1);
    let (tid_b, b) = owner(|c| c.2);
    let share_a = a.1 as f64 / a.0.max(1) as f64;
    let share_b = b.2 as f64 / b.0.max(1) as f64;
    let stray_a: u64 = per_thread
        .iter()
        .filter(|(&t, _)| t != tid_a)
        .map(|(_, c)| c.1)
        .sum();
    let stray_b: u64 = per_thread
        .iter()
        .filter(|(&t, _)| t != tid_b)
        .map(|(_, c)| c.2)
        .sum();
    let summary = format!(
        "worker_a: tid {tid_a} {} samples {:.1} %; worker_b: tid {tid_b} {} samples {:.1} %; native {}",
        a.0,
        share_a * 100.0,
        b.0,
        share_b * 100.0,
        profile["stats"]["native_samples"]
    );
    if tid_a == tid_b || a.1 < 30 || b.2 < 30 || share_a < 0.95 || share_b < 0.95 {
        return Err(summary);
    }
    if stray_a + stray_b > 0 {
        return Err(format!(
            "{summary}; {stray_a} worker_a and {stray_b} worker_b samples on another thread"
        ));
    }
    Ok(summary)
}

/// (c) The `-X importtime` oracle on the purpose-built package tree;
/// returns the worst error (percent).
fn import_oracle(interp: &Interpreter) -> Result<f64, String> {
    let (worst, profile) = compare_retrying_timing(&interp.name, || {
        let (profile, _, stderr) = run(
            interp,
            "imports",
            &["-X", "importtime"],
            "import_tree.py",
            false,
        );
        (profile, stderr)
    })?;
    let imports = profile["imports"].as_array().unwrap();
    let find = |m: &str| imports.iter().find(|i| i["module"] == m);
    let (Some(slowpkg), Some(threadmod)) = (find("slowpkg"), find("threadmod")) else {
        return Err("slowpkg or threadmod missing".into());
    };
    if slowpkg["self_us"].as_u64().unwrap_or(0) < 200_000 {
        return Err(format!("slowpkg self {} us < 200 ms", slowpkg["self_us"]));
    }
    if threadmod["tid"] == slowpkg["tid"] {
        return Err("the import in a second thread has the main thread's tid".into());
    }
    Ok(worst)
}

/// Runs a check, turning a panic (a failed helper assertion) into an error.
fn cell<T>(check: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(check)).unwrap_or_else(|panic| {
        Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panicked".into()))
    })
}

fn mark<T>(result: &Result<T, String>) -> &'static str {
    if result.is_ok() {
        "ok"
    } else {
        "FAIL"
    }
}

#[test]
fn every_interpreter_records_stacks_threads_and_imports() {
    require_root();
    let _turn = coldspy_tests::recording_turn();
    let interpreters = all_interpreters();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for interp in &interpreters {
        let stacks = cell(|| known_stacks(interp));
        let threads = cell(|| two_threads(interp));
        let oracle = cell(|| import_oracle(interp));
        let worst = oracle
            .as_ref()
            .map(|w| format!("{w:.2} %"))
            .unwrap_or_else(|_| "-".into());
        rows.push(format!(
            "| {:<11} | {:<6} | {:<7} | {:<13} | {:>12} |",
            interp.name,
            mark(&stacks),
            mark(&threads),
            mark(&oracle),
            worst
        ));
        for (what, result) in [
            ("stacks", stacks),
            ("threads", threads),
            ("import oracle", oracle.map(|w| format!("worst {w:.2} %"))),
        ] {
            match result {
                Ok(detail) => eprintln!("{}: {what}: {detail}", interp.name),
                Err(e) => failures.push(format!("{}: {what}: {e}", interp.name)),
            }
        }
    }
    eprintln!("| interpreter | stacks | threads | import oracle | worst error |");
    eprintln!("|-------------|--------|---------|---------------|-------------|");
    for row in &rows {
        eprintln!("{row}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn debug_build_records_stacks_threads_and_imports() {
    require_root();
    let _turn = coldspy_tests::recording_turn();
    let interp = debug_interpreter();
    let stacks = cell(|| known_stacks(&interp));
    let threads = cell(|| two_threads(&interp));
    let oracle = cell(|| import_oracle(&interp));
    eprintln!(
        "{}: stacks {stacks:?}; threads {threads:?}; import oracle {oracle:?}",
        interp.name
    );
    for (what, error) in [
        ("stacks", stacks.err()),
        ("threads", threads.err()),
        ("import oracle", oracle.err()),
    ] {
        assert!(
            error.is_none(),
            "{}: {what}: {}",
            interp.name,
            error.unwrap()
        );
    }
}
