//! Regression tests of the advice, each named after a failure seen on real
//! functions (issue 13): a function run by coldspy's runner, importing boto3
//! (never used: its dependencies come along), markdown (used on every call)
//! and tqdm (a progress bar), built as a trace and analysed without a kernel.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_core::analysis::{self, ScoreKind};
use coldspy_core::model::build::build_profile;
use coldspy_core::model::profile::{Frame, Profile};
use coldspy_core::model::trace::{ImportEdge, Trace, TraceImportEdge, TraceOpen, TraceSample};

const MS: u64 = 1_000_000;
const SITE: &str = "/v/lib/python3.12/site-packages";
const STDLIB: &str = "/root/.pyenv/versions/3.12.1/lib/python3.12";
const RUNNER: &str = "/tmp/coldspy-1/coldspy_runner.py";
const HANDLER: &str = "/srv/fn/handler.py";

fn frame(function: &str, file: &str, line: u32) -> Frame {
    Frame {
        function: function.into(),
        qualname: function.into(),
        file: file.into(),
        line,
        module: None,
    }
}

struct Builder {
    trace: Trace,
}

impl Builder {
    fn new() -> Self {
        let mut trace = Trace {
            start_ns: 0,
            ..Trace::default()
        };
        trace.meta.pid = 7;
        trace.meta.python_version = "3.12.1".into();
        Self { trace }
    }

    fn frame(&mut self, f: Frame) -> u32 {
        self.trace.frames.push(f);
        self.trace.frames.len() as u32 - 1
    }

    /// An import of `module` from `site` (a frame index), opening `file`.
    fn import(&mut self, module: &str, site: u32, file: &str, start_ms: u64, end_ms: u64) {
        let edge = |edge, ts_ns| TraceImportEdge {
            edge,
            pid: 7,
            tid: 7,
            ts_ns,
            module: module.into(),
            failed: false,
            site: Some(site),
            file: None,
        };
        self.trace
            .imports
            .push(edge(ImportEdge::Start, start_ms * MS));
        self.trace.opens.push(TraceOpen {
            pid: 7,
            tid: 7,
            enter_ns: start_ms * MS + 10_000,
            exit_ns: start_ms * MS + 20_000,
            ret: 3,
            path: file.into(),
        });
        self.trace.imports.push(edge(ImportEdge::End, end_ms * MS));
    }

    fn samples(&mut self, from_ms: u64, count: u64, stack: &[u32]) {
        for i in 0..count {
            self.trace.samples.push(TraceSample {
                ts_ns: from_ms * MS + i * 5 * MS,
                pid: 7,
                tid: 7,
                stack: stack.to_vec(),
                truncated: false,
            });
        }
    }

    fn finish(mut self, end_ms: u64) -> Profile {
        self.trace.end_ns = end_ms * MS;
        let sort = |t: &mut Trace| {
            t.imports.sort_by_key(|e| e.ts_ns);
            t.opens.sort_by_key(|o| o.enter_ns);
            t.samples.sort_by_key(|s| s.ts_ns);
        };
        sort(&mut self.trace);
        build_profile(&self.trace)
    }
}

/// The function: the runner imports the handler (runner line 75); the
/// handler imports boto3 (line 10: botocore, urllib3 and the standard
/// library's json and dataclasses come along), markdown (11) and tqdm (12);
/// `markdown` runs in every run-time sample when `use_markdown`.
fn function(runtime_samples: u64, use_markdown: bool) -> Profile {
    let mut b = Builder::new();
    let runner = b.frame(frame("load", RUNNER, 75));
    let h10 = b.frame(frame("<module>", HANDLER, 10));
    let h11 = b.frame(frame("<module>", HANDLER, 11));
    let h12 = b.frame(frame("<module>", HANDLER, 12));
    let boto3_site = b.frame(frame("<module>", &format!("{SITE}/boto3/__init__.py"), 3));
    let botocore_site = b.frame(frame(
        "<module>",
        &format!("{SITE}/botocore/__init__.py"),
        5,
    ));
    let runner_json = b.frame(frame("main", RUNNER, 20));
    let handle = b.frame(frame("handler", HANDLER, 16));
    let md_core = b.frame(frame("convert", &format!("{SITE}/markdown/core.py"), 300));
    b.import(
        "json",
        runner_json,
        &format!("{STDLIB}/json/__init__.py"),
        1,
        4,
    );
    b.import("handler", runner, HANDLER, 5, 200);
    b.import("boto3", h10, &format!("{SITE}/boto3/__init__.py"), 6, 150);
    b.import(
        "botocore",
        boto3_site,
        &format!("{SITE}/botocore/__init__.py"),
        7,
        120,
    );
    b.import(
        "urllib3",
        botocore_site,
        &format!("{SITE}/urllib3/__init__.py"),
        8,
        60,
    );
    b.import(
        "dataclasses",
        botocore_site,
        &format!("{STDLIB}/dataclasses.py"),
        61,
        70,
    );
    b.import(
        "markdown",
        h11,
        &format!("{SITE}/markdown/__init__.py"),
        151,
        180,
    );
    b.import("tqdm", h12, &format!("{SITE}/tqdm/__init__.py"), 181, 195);
    if use_markdown {
        b.samples(210, runtime_samples, &[md_core, handle, runner]);
    } else {
        b.samples(210, runtime_samples, &[handle, runner]);
    }
    b.finish(210 + 5 * runtime_samples + 5)
}

fn advice_of(profile: &Profile, package: &str) -> (Option<String>, Option<String>) {
    let mut profile = profile.clone();
    let analysis = analysis::analyze(&mut profile, ScoreKind::Runtime);
    let p = analysis
        .packages
        .iter()
        .find(|p| p.name == package)
        .unwrap_or_else(|| panic!("{package} is a package of the profile"));
    (p.pattern.map(|x| x.as_str().to_string()), p.advice.clone())
}

fn flagged(profile: &Profile) -> Vec<String> {
    let mut profile = profile.clone();
    analysis::analyze(&mut profile, ScoreKind::Runtime)
        .packages
        .iter()
        .filter(|p| p.pattern.is_some())
        .map(|p| p.name.clone())
        .collect()
}

#[test]
fn handler_advice_names_the_handlers_own_line_not_the_runner() {
    let profile = function(60, true);
    let (pattern, advice) = advice_of(&profile, "boto3");
    assert_eq!(pattern.as_deref(), Some("never_used"));
    let advice = advice.unwrap();
    assert!(advice.contains("/srv/fn/handler.py:10"), "{advice}");
    assert!(!advice.contains("coldspy_runner"), "{advice}");
    let (pattern, advice) = advice_of(&profile, "tqdm");
    assert_eq!(pattern.as_deref(), Some("feature_redundancy"));
    assert!(advice.unwrap().contains("/srv/fn/handler.py:12"));
}

#[test]
fn the_runners_own_imports_are_not_charged_to_the_function() {
    let profile = function(60, true);
    assert!(!flagged(&profile).contains(&"json".to_string()));
    assert!(!flagged(&profile).contains(&"handler".to_string()));
}

#[test]
fn a_used_package_is_never_told_remove() {
    let profile = function(60, true);
    let (pattern, advice) = advice_of(&profile, "markdown");
    assert_eq!(pattern, None, "{advice:?}");
}

#[test]
fn dependencies_of_a_package_are_part_of_its_cost_not_findings_of_their_own() {
    let profile = function(60, true);
    let flagged = flagged(&profile);
    for dependency in ["botocore", "urllib3"] {
        assert!(!flagged.contains(&dependency.to_string()), "{flagged:?}");
    }
}

#[test]
fn standard_library_modules_pulled_in_by_libraries_are_not_findings() {
    let profile = function(60, true);
    let flagged = flagged(&profile);
    assert!(!flagged.contains(&"dataclasses".to_string()), "{flagged:?}");
    assert!(!flagged.contains(&"json".to_string()), "{flagged:?}");
}

#[test]
fn a_standard_library_module_is_never_a_pypi_backport() {
    let profile = function(60, true);
    let (pattern, _) = advice_of(&profile, "dataclasses");
    assert_ne!(pattern.as_deref(), Some("library_choice"));
}

#[test]
fn zero_run_time_samples_is_not_enough_evidence_for_never_used() {
    let profile = function(0, true);
    let (pattern, advice) = advice_of(&profile, "boto3");
    assert_eq!(pattern, None);
    // No verdict, so no advice: the statement's row says why.
    assert_eq!(advice, None);
    let analysis = analysis::analyze_profile(&profile, ScoreKind::Runtime);
    let boto3 = analysis
        .findings
        .iter()
        .find(|f| f.module == "boto3")
        .unwrap();
    assert!(
        boto3.row().contains("not enough evidence"),
        "{}",
        boto3.row()
    );
    let profile = function(5, true);
    let (pattern, _) = advice_of(&profile, "boto3");
    assert_eq!(
        pattern, None,
        "5 samples bound the unseen share only under 45 %"
    );
}

#[test]
fn never_used_states_its_confidence() {
    let profile = function(60, true);
    let mut analysed = profile.clone();
    let analysis = analysis::analyze(&mut analysed, ScoreKind::Runtime);
    let boto3 = analysis
        .packages
        .iter()
        .find(|p| p.name == "boto3")
        .unwrap();
    let evidence = boto3.evidence.as_deref().unwrap();
    assert!(
        evidence.contains("not seen in 60 samples: under 5 % of run time at 95 % confidence"),
        "{evidence}"
    );
}
