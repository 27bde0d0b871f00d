//! `coldspy record` on purpose-built scripts whose stacks are known exactly,
//! on every core interpreter: ≥ 95 % of samples on the expected path, with
//! the right files and lines.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_tests::{
    core_interpreters, on_busy_path, on_recursion_path, require_root, share_on_path, Frame,
    Interpreter,
};
use serde_json::Value;

fn run(interp: &Interpreter, test: &str, name: &str) -> Value {
    coldspy_tests::record_script(&interp.name, test, &interp.command, name).profile
}

#[test]
fn busy_stack_main_parse_tokenize() {
    require_root();
    for interp in core_interpreters() {
        let profile = run(&interp, "busy", "busy_stack.py");
        let (share, total) = share_on_path(&profile, on_busy_path);
        eprintln!(
            "{}: {:.1} % of {total} samples on <module> > main > parse > tokenize",
            interp.name,
            share * 100.0
        );
        assert!(
            total >= 100,
            "{}: only {total} samples in 2 s at 200 Hz",
            interp.name
        );
        assert!(
            share >= 0.95,
            "{}: {:.1} % on the expected path",
            interp.name,
            share * 100.0
        );
        assert_eq!(profile["meta"]["lost_samples"], 0);
    }
}

/// A module body shorter than coldspy's drain period has ended, and its
/// code object is freed, before its last samples are read: those frames
/// are still named `<module>` of the body's file, not `<unknown>`.
#[test]
fn short_module_bodies_are_named_after_their_code_is_freed() {
    require_root();
    for interp in core_interpreters() {
        let profile = run(&interp, "short-bodies", "short_bodies.py");
        let stacks = coldspy_tests::stacks(&profile);
        let in_bodies: Vec<&(u64, Vec<Frame>)> = stacks
            .iter()
            .filter(|(_, s)| {
                s.last().is_some_and(|f| {
                    f.function == "<unknown>"
                        || (f.function == "<module>" && f.file.contains("/short_body_"))
                })
            })
            .collect();
        let total: u64 = in_bodies.iter().map(|(n, _)| n).sum();
        let unknown: u64 = in_bodies
            .iter()
            .filter(|(_, s)| s.iter().any(|f| f.function == "<unknown>"))
            .map(|(n, _)| n)
            .sum();
        eprintln!(
            "{}: {unknown} of {total} samples in the short bodies have an <unknown> frame",
            interp.name
        );
        assert!(
            total >= 40,
            "{}: only {total} samples in the bodies",
            interp.name
        );
        assert!(
            unknown * 50 <= total,
            "{}: {unknown} of {total} body samples have an <unknown> frame",
            interp.name
        );
    }
}

#[test]
fn recursion_of_depth_fifty() {
    require_root();
    for interp in core_interpreters() {
        let profile = run(&interp, "recursion", "recursion.py");
        let (share, total) = share_on_path(&profile, on_recursion_path);
        eprintln!(
            "{}: {:.1} % of {total} samples on the 50-deep recursion",
            interp.name,
            share * 100.0
        );
        assert!(share >= 0.95, "{}: {:.1} %", interp.name, share * 100.0);
        assert_eq!(profile["stats"]["truncated_samples"], 0);
    }
}

/// A 300-deep stack is cut at 192 frames: the kernel's `stack_truncated`
/// counter (map `READ_FAILS`) and the per-sample flags userspace counts
/// agree, and the clean 50-deep recursion above reports no read failure.
#[test]
fn deep_recursion_counts_truncation_in_kernel() {
    require_root();
    for interp in core_interpreters() {
        let shallow = run(&interp, "recursion-clean", "recursion.py");
        // A read of the thread state or its frame pointer can fail when the
        // page is not present yet (bpf_probe_read_user cannot fault it in):
        // rare, not a layout error. Everything below them must never fail.
        let failures = &shallow["stats"]["read_failures"];
        let samples = shallow["stats"]["samples"].as_u64().unwrap();
        for (cause, count) in failures.as_object().into_iter().flatten() {
            let count = count.as_u64().unwrap();
            let paging = cause == "thread_state_read" || cause == "frame_pointer_read";
            assert!(
                paging && count * 100 <= samples,
                "{}: {count} {cause} failures in {samples} samples of a clean stack",
                interp.name
            );
        }
        let profile = run(&interp, "deep-recursion", "deep_recursion.py");
        let truncated = profile["stats"]["truncated_samples"].as_u64().unwrap();
        let kernel = &profile["stats"]["read_failures"]["stack_truncated"];
        eprintln!(
            "{}: {truncated} truncated samples, kernel counter {kernel}",
            interp.name
        );
        assert!(truncated >= 100, "{}: {truncated} truncated", interp.name);
        assert_eq!(kernel.as_u64(), Some(truncated), "{}", interp.name);
    }
}

#[test]
fn hot_function_changes_half_way() {
    require_root();
    for interp in core_interpreters() {
        let profile = run(&interp, "phase", "phase_change.py");
        let f = "phase_change.py";
        let path = |hot: &'static str, call_line: u32, hot_lines: &'static [u32]| {
            move |s: &[Frame]| {
                s.len() == 3
                    && s[0].is("<module>", f, &[20])
                    && s[1].is("main", f, &[call_line])
                    && s[2].is(hot, f, hot_lines)
            }
        };
        let (first, total) = share_on_path(&profile, path("first_half", 16, &[6, 7]));
        let (second, _) = share_on_path(&profile, path("second_half", 17, &[11, 12]));
        eprintln!(
            "{}: first {:.1} %, second {:.1} % of {total}",
            interp.name,
            first * 100.0,
            second * 100.0
        );
        assert!(
            first + second >= 0.95,
            "{}: {:.1} % on the two paths",
            interp.name,
            (first + second) * 100.0
        );
        assert!(
            (0.35..=0.65).contains(&first),
            "{}: first half has {:.1} %",
            interp.name,
            first * 100.0
        );
    }
}

#[test]
fn files_the_script_opens_are_recorded() {
    require_root();
    for interp in core_interpreters() {
        let profile = run(&interp, "files", "opens_files.py");
        let files = profile["files"].as_array().unwrap();
        let find = |suffix: &str| {
            files
                .iter()
                .find(|f| f["path"].as_str().unwrap().ends_with(suffix) && f["ok"] == true)
        };
        let data = find("imports/data.txt")
            .unwrap_or_else(|| panic!("{}: data.txt not in files", interp.name));
        assert_eq!(
            data["module"],
            Value::Null,
            "the data file is read outside any import"
        );
        let helper = find("filehelper.py")
            .or_else(|| {
                files
                    .iter()
                    .find(|f| f["path"].as_str().unwrap().contains("filehelper.cpython"))
            })
            .unwrap_or_else(|| panic!("{}: filehelper not opened", interp.name));
        assert_eq!(
            helper["module"], "filehelper",
            "{}: open attributed to its import",
            interp.name
        );
        assert_eq!(
            profile["stats"]["file_count"].as_u64().unwrap() as usize,
            files.len()
        );
    }
}

#[test]
fn handler_phases_are_exact_with_the_runner() {
    coldspy_tests::require_root();
    let dir = coldspy_tests::scratch("handler-phases");
    let app = dir.join("app.py");
    std::fs::write(&app, "import time\ntime.sleep(0.1)\n\ndef handler(event, context):\n    time.sleep(0.02)\n    return event\n").unwrap();
    let out = dir.join("p.json");
    let o = coldspy_tests::coldspy(&[
        "record",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "--python",
        &coldspy_tests::python_of("pyenv-3.12"),
        "--handler",
        &format!("{}:handler", app.display()),
        "--invocations",
        "5",
    ]);
    assert!(o.status.success(), "{o:?}");
    let p = coldspy_tests::read_json(&out);
    let stats = &p["stats"];
    assert_eq!(stats["exec_count"], 5);
    let (init_samples, exec_samples) = (
        stats["init_samples"].as_u64().unwrap(),
        stats["exec_samples"].as_u64().unwrap(),
    );
    assert!(init_samples + exec_samples <= stats["samples"].as_u64().unwrap());
    let exec_us = stats["exec_us"].as_u64().unwrap();
    assert!(
        (100_000..=115_000).contains(&exec_us),
        "5 invocations of 20 ms: {exec_us} us"
    );
    let init_us = stats["init_us"].as_u64().unwrap();
    assert!(
        (100_000..=400_000).contains(&init_us),
        "start-up plus a 100 ms import sleep: {init_us} us"
    );
    let app_import = p["imports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["module"] == "app")
        .expect("the handler module's import is timed");
    assert!(app_import["cumulative_us"].as_u64().unwrap() >= 100_000);
}
