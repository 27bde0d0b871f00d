//! Import timing against the oracle: the target runs with `-X importtime`
//! while coldspy records it, in the same run. The module sets must be equal,
//! times agree within ±5 % or ±0.3 ms (whichever is larger) for modules of
//! ≥ 1 ms, and the parent structure equals the indentation of `-X importtime`.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_tests::importtime::compare_retrying_timing;
use coldspy_tests::{core_interpreters, require_root, Interpreter};
use serde_json::Value;

fn run_with_oracle(
    interp: &Interpreter,
    python: &str,
    test: &str,
    target: &str,
) -> (Value, String) {
    let prefix = [python.to_string(), "-X".into(), "importtime".into()];
    let rec = coldspy_tests::record_script(&interp.name, test, &prefix, target);
    let stderr = String::from_utf8_lossy(&rec.output.stderr).into_owned();
    (rec.profile, stderr)
}

#[test]
fn purpose_built_package_tree_matches_importtime() {
    require_root();
    for interp in core_interpreters() {
        let (worst, profile) = compare_retrying_timing(&interp.name, || {
            run_with_oracle(&interp, &interp.command[0], "imports", "import_tree.py")
        })
        .unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "{}: {} imports match -X importtime; worst error {worst:.2} %",
            interp.name,
            profile["imports"].as_array().unwrap().len()
        );
        let find = |m: &str| {
            profile["imports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["module"] == m)
                .cloned()
                .unwrap()
        };
        assert_eq!(find("does_not_exist_xyz")["failed"], true);
        assert_eq!(find("slowpkg.sub")["parent"], "slowpkg");
        assert_eq!(find("threadmod")["site"]["function"], "in_thread");
        assert_ne!(
            find("threadmod")["tid"],
            find("slowpkg")["tid"],
            "import in a second thread"
        );
        assert_eq!(find("lazymod")["site"]["function"], "later");
        let slowpkg = find("slowpkg");
        assert!(
            slowpkg["self_us"].as_u64().unwrap() >= 200_000,
            "slowpkg sleeps 200 ms at import"
        );
        assert!(
            slowpkg["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["path"].as_str().unwrap().contains("slowpkg")),
            "the files slowpkg's import opened"
        );
        let import_samples = profile["stats"]["import_samples"].as_u64().unwrap();
        assert!(import_samples <= profile["stats"]["samples"].as_u64().unwrap());
        assert!(
            profile["stats"]["init_us"].as_u64().unwrap() >= slowpkg["end_us"].as_u64().unwrap()
        );
        assert!(
            profile["stats"]["init_us"].as_u64().unwrap()
                <= find("lazymod")["start_us"].as_u64().unwrap()
        );
    }
}

#[test]
fn real_libraries_match_importtime() {
    require_root();
    for interp in core_interpreters() {
        let python = interp.venv_python.clone().unwrap_or_else(|| {
            panic!(
                "no venv with the test libraries for {}: run `cargo xtask setup`",
                interp.name
            )
        });
        let (worst, profile) = compare_retrying_timing(&interp.name, || {
            run_with_oracle(&interp, &python, "real-libs", "real_libs.py")
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let count = profile["imports"].as_array().unwrap().len();
        eprintln!(
            "{}: {count} real-library imports match -X importtime; worst error {worst:.2} %",
            interp.name
        );
        assert!(
            count > 300,
            "boto3 alone imports hundreds of modules, got {count}"
        );
    }
}

#[test]
fn per_thread_import_stacks_are_freed_when_threads_churn() {
    require_root();
    for interp in core_interpreters() {
        let profile =
            coldspy_tests::record_script(&interp.name, "churn", &interp.command, "thread_churn.py")
                .profile;
        let churn: Vec<&Value> = profile["imports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| {
                i["module"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("churn_missing_"))
            })
            .collect();
        eprintln!(
            "{}: {} churn imports, {} events lost",
            interp.name,
            churn.len(),
            profile["meta"]["lost_events"]
        );
        // 1,500 threads against 1,024 map entries: without freeing, the
        // 1,024th thread on would lose its import and its body.
        assert_eq!(churn.len(), 1500, "{}: one import per thread", interp.name);
        assert!(churn.iter().all(|i| i["failed"] == true));
        assert_eq!(profile["meta"]["lost_events"], 0, "{}", interp.name);
    }
}

#[test]
fn program_costs_count_every_run_of_the_import_probes() {
    require_root();
    let interp = &core_interpreters()[0];
    let dir = coldspy_tests::scratch("program-costs");
    let mut command = interp.command.clone();
    command.push(
        coldspy_tests::script("import_tree.py")
            .display()
            .to_string(),
    );
    let rec = coldspy_tests::record(&dir, &["--program-costs"], &command);
    assert!(rec.output.status.success(), "{:?}", rec.output);
    let stderr = String::from_utf8_lossy(&rec.output.stderr);
    let runs = |program: &str| -> u64 {
        stderr
            .lines()
            .find(|l| l.split_whitespace().next() == Some(program))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or_else(|| panic!("no line for {program} in:\n{stderr}"))
    };
    let imports = rec.profile["imports"].as_array().unwrap().len() as u64;
    // Every import is a run of the entry probe and of the return probe
    // (which also run for calls that are not imports, in any process).
    assert!(runs("coldspy_import_enter") >= imports, "{imports} imports");
    assert!(runs("coldspy_import_exit") >= imports, "{imports} imports");
    assert!(runs("coldspy_module_exec_enter") >= 1);
}
