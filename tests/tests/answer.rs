//! Issue 13's failures on the bundled example (`examples/handler.py`:
//! boto3 at line 10 and tqdm at line 12 never used, markdown at line 11
//! used by every call), recorded live with the real kernel path, in handler
//! mode (coldspy's runner) and script mode. One test per failure, named
//! after it; the answer key is the one in the example's docstring.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_tests::{coldspy, repo_root, require_root, scratch, venv_python};
use std::collections::BTreeSet;

/// Records with `args` (after `record -o P`), then returns `coldspy report P`.
fn record_and_report(label: &str, args: &[String]) -> String {
    require_root();
    let _turn = coldspy_tests::recording_turn();
    let dir = scratch(label);
    let profile = dir.join("p.json").display().to_string();
    let mut record = vec!["record", "-o", &profile];
    record.extend(args.iter().map(String::as_str));
    let out = coldspy(&record);
    assert!(
        out.status.success(),
        "{label}: record failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = coldspy(&["report", &profile]);
    assert!(out.status.success(), "{label}: report failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The handler mode's arguments for `invocations` calls at `rate` Hz.
fn handler_args(invocations: u32, rate: u32) -> Vec<String> {
    let example = repo_root().join("examples");
    vec![
        "--handler".into(),
        format!("{}:handler", example.join("handler.py").display()),
        "--event".into(),
        example.join("event.json").display().to_string(),
        "--python".into(),
        venv_python("pyenv-3.12"),
        "--invocations".into(),
        invocations.to_string(),
        "--rate".into(),
        rate.to_string(),
    ]
}

/// The "what to change" part of a report (before the statements that
/// need no change).
fn advice(report: &str) -> &str {
    report
        .split("your other import statements")
        .next()
        .unwrap_or("")
}

/// `(pattern, statement)` of each advice line ("  never_used: `boto3` at
/// FILE:LINE: saves …").
fn verdicts(report: &str) -> BTreeSet<(String, String)> {
    advice(report)
        .lines()
        .filter_map(|line| {
            let (pattern, rest) = line.trim_start().split_once(": `")?;
            let at = rest.split_once("` at ")?.1;
            let site = at.rsplit_once(": saves").map_or(at, |(s, _)| s);
            (!pattern.contains(' ')).then(|| (pattern.to_string(), site.to_string()))
        })
        .collect()
}

fn assert_names_lines_10_and_12_only(label: &str, report: &str) {
    let file = repo_root().join("examples/handler.py");
    let advice = advice(report);
    for line in [10, 12] {
        let site = format!("{}:{line}", file.display());
        assert!(
            advice.contains(&site),
            "{label}: no advice at {site}:\n{report}"
        );
    }
    // The statements as written: line 12 is a from-import.
    for written in [
        "Remove the `import boto3` at",
        "Remove the `from tqdm import tqdm` at",
    ] {
        assert!(
            advice.contains(written),
            "{label}: no \"{written}\":\n{report}"
        );
    }
    let markdown = format!("{}:11", file.display());
    assert!(
        !advice.contains(&markdown),
        "{label}: markdown (used) is advised:\n{report}"
    );
}

/// Failure 1: `--handler` advice named coldspy's runner (`import <handler>`
/// at coldspy_runner.py:75) and lumped the function's packages under it.
/// Now it names the function's own statements, in handler and script mode.
#[test]
fn handler_advice_names_the_functions_statements_not_coldspys_runner() {
    let report = record_and_report("answer-handler", &handler_args(20, 1000));
    assert!(
        !advice(&report).contains("coldspy_runner"),
        "the runner is advised:\n{report}"
    );
    assert_names_lines_10_and_12_only("handler mode", &report);
    let script = vec![
        "--rate".to_string(),
        "1000".to_string(),
        "--".to_string(),
        venv_python("pyenv-3.12"),
        repo_root()
            .join("examples/handler.py")
            .display()
            .to_string(),
    ];
    let report = record_and_report("answer-script", &script);
    assert_names_lines_10_and_12_only("script mode", &report);
    // Item E: a script has no invocations to count.
    assert!(
        !report.contains("(0 invocations)"),
        "script mode prints 0 invocations:\n{report}"
    );
}

/// Failure 4: labels flipped between 200 Hz and 1 kHz on the same program.
/// In handler mode the runner's exact code use decides: the same verdicts
/// at both rates.
#[test]
fn handler_verdicts_are_the_same_at_200_hz_and_1_khz() {
    let slow = verdicts(&record_and_report("answer-200", &handler_args(5, 200)));
    let fast = verdicts(&record_and_report("answer-1000", &handler_args(5, 1000)));
    assert!(!slow.is_empty(), "no advice at 200 Hz");
    assert_eq!(slow, fast, "200 Hz vs 1 kHz");
}
