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
            loader: None,
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

    /// An `openat` of `path` at `at_ms` on the main thread.
    fn open(&mut self, path: &str, at_ms: u64) {
        self.trace.opens.push(TraceOpen {
            pid: 7,
            tid: 7,
            enter_ns: at_ms * MS,
            exit_ns: at_ms * MS + 5_000,
            ret: 3,
            path: path.into(),
        });
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

/// A function whose handler imports a first-party package, `geokit` (line
/// 7), that json-loads a data file at import (its line 16, 130 ms), and a
/// library, `heavy` (line 8), whose 100 ms import computes and opens only
/// code; both run on every call.
fn data_function() -> Profile {
    let mut b = Builder::new();
    let runner = b.frame(frame("load", RUNNER, 75));
    let runner_json = b.frame(frame("main", RUNNER, 20));
    let h7 = b.frame(frame("<module>", HANDLER, 7));
    let h8 = b.frame(frame("<module>", HANDLER, 8));
    let geokit = "/srv/fn/geokit/__init__.py";
    let geokit_16 = b.frame(frame("<module>", geokit, 16));
    let json_load = b.frame(frame("load", &format!("{STDLIB}/json/__init__.py"), 293));
    let heavy = format!("{SITE}/heavy/__init__.py");
    let heavy_body = b.frame(frame("<module>", &heavy, 30));
    let handle = b.frame(frame("handler", HANDLER, 12));
    let country = b.frame(frame("country", geokit, 22));
    let crunch = b.frame(frame("crunch", &heavy, 40));
    b.import(
        "json",
        runner_json,
        &format!("{STDLIB}/json/__init__.py"),
        1,
        4,
    );
    b.import("handler", runner, HANDLER, 5, 300);
    b.import("geokit", h7, geokit, 6, 150);
    b.open("/srv/fn/geokit/data", 7);
    b.open("/srv/fn/geokit/data/countries.json", 8);
    b.open("/srv/fn/geokit/data/postal_codes.json", 19);
    b.samples(20, 26, &[json_load, geokit_16, h7, runner]);
    b.import("heavy", h8, &heavy, 151, 260);
    b.open(
        &format!("{SITE}/heavy/__pycache__/__init__.cpython-312.pyc"),
        152,
    );
    b.open(
        &format!("{SITE}/heavy/_speedups.cpython-312-x86_64-linux-gnu.so"),
        153,
    );
    b.open(&format!("{SITE}/heavy-1.0.dist-info/METADATA"), 154);
    b.samples(155, 20, &[heavy_body, h8, runner]);
    b.samples(310, 30, &[country, handle, runner]);
    b.samples(460, 30, &[crunch, handle, runner]);
    b.finish(620)
}

#[test]
fn data_read_at_import_is_advised_at_the_users_statement_as_load_on_first_use() {
    let profile = data_function();
    let analysis = analysis::analyze_profile(&profile, ScoreKind::Runtime);
    let f = analysis
        .changes()
        .find(|f| f.module == "geokit")
        .unwrap_or_else(|| panic!("no finding for geokit: {:?}", analysis.findings));
    assert_eq!(f.pattern.map(|p| p.as_str()), Some("import_time_io"));
    assert_eq!(f.site.to_string(), "/srv/fn/handler.py:7");
    assert!(f.first_party);
    let advice = f.advice.as_deref().unwrap();
    for part in [
        "geokit/__init__.py:16 calls json.load (26 of the 26 samples of its body)",
        "after opening geokit/data/postal_codes.json (and 1 other data file)",
        "geokit is used",
        "keep the import and load that data on first use",
    ] {
        assert!(advice.contains(part), "{part:?} in {advice}");
    }
    assert!(!advice.contains("Remove"), "{advice}");
    // The time after opening the data files, not the whole import.
    assert!(
        (125_000..=145_000).contains(&f.saving_us),
        "{}",
        f.saving_us
    );
    assert_eq!(
        analysis.changes().next().map(|f| f.module.as_str()),
        Some("geokit")
    );
}

#[test]
fn an_import_that_computes_and_opens_only_code_and_metadata_is_not_import_time_io() {
    let profile = data_function();
    let analysis = analysis::analyze_profile(&profile, ScoreKind::Runtime);
    let io: Vec<_> = analysis
        .changes()
        .filter(|f| f.pattern.map(|p| p.as_str()) == Some("import_time_io"))
        .map(|f| f.module.as_str())
        .collect();
    assert_eq!(io, ["geokit"]);
    for path in [
        "/srv/fn/geokit/data/postal_codes.json",
        "/v/lib/python3.12/site-packages/nltk/corpus/words.txt.gz",
    ] {
        assert!(analysis::data_read::looks_like_data(path), "{path}");
    }
    for path in [
        "/v/lib/python3.12/site-packages/heavy/__init__.py",
        "/v/lib/python3.12/site-packages/heavy/__pycache__/x.cpython-312.pyc",
        "/v/lib/python3.12/site-packages/skimage/__init__.pyi",
        "/v/lib/python3.12/site-packages/numpy.libs/libgfortran.so.5.0.0",
        "/v/lib/python3.12/site-packages/heavy-1.0.dist-info/METADATA",
        "/v/lib/python3.12/site-packages/Markdown-3.7.dist-info",
        "/proc/self/maps",
        "/etc/hosts",
    ] {
        assert!(!analysis::data_read::looks_like_data(path), "{path}");
    }
}

#[test]
fn data_read_inside_a_used_dependency_names_its_line_and_the_users_statement() {
    let mut b = Builder::new();
    let runner = b.frame(frame("load", RUNNER, 75));
    let h9 = b.frame(frame("<module>", HANDLER, 9));
    let handle = b.frame(frame("handler", HANDLER, 12));
    let pkg = format!("{SITE}/pkg/__init__.py");
    let tables = format!("{SITE}/pkg/tables/__init__.py");
    let pkg_3 = b.frame(frame("<module>", &pkg, 3));
    let tables_5 = b.frame(frame("<module>", &tables, 5));
    let unpickle = b.frame(frame("load", &format!("{SITE}/pkg/_io.py"), 10));
    let lookup = b.frame(frame("lookup", &tables, 30));
    b.import("handler", runner, HANDLER, 1, 200);
    b.import("pkg", h9, &pkg, 2, 120);
    b.import("pkg.tables", pkg_3, &tables, 3, 110);
    b.open(&format!("{SITE}/pkg/tables/words.pickle"), 5);
    b.samples(6, 20, &[unpickle, tables_5, pkg_3, h9, runner]);
    b.samples(210, 40, &[lookup, handle, runner]);
    let profile = b.finish(420);
    let analysis = analysis::analyze_profile(&profile, ScoreKind::Runtime);
    let f = analysis
        .changes()
        .find(|f| f.module == "pkg.tables")
        .unwrap_or_else(|| panic!("no finding for pkg.tables: {:?}", analysis.findings));
    assert_eq!(f.pattern.map(|p| p.as_str()), Some("import_time_io"));
    assert!(!f.first_party);
    assert_eq!(f.site.to_string(), format!("{tables}:5"));
    assert_eq!(f.via.to_string(), "/srv/fn/handler.py:9");
    let advice = f.advice.as_deref().unwrap();
    assert!(
        advice.contains("pkg/tables/__init__.py:5 calls pkg._io.load (20 of the 20 samples"),
        "{advice}"
    );
    assert!(advice.contains("Not a statement of yours"), "{advice}");
    // pkg and pkg.tables are used: never "remove".
    assert!(analysis
        .changes()
        .all(|f| !f.advice.as_deref().unwrap_or("").contains("Remove")));
}

#[test]
fn rare_branch_a_module_named_only_in_a_branch_no_event_took_is_moved_not_removed() {
    // boto3 never runs in the recorded invocations; a function of the
    // handler (`export`, line 40) names it: some request needs it.
    let mut profile = function(60, true);
    let row = profile
        .modules
        .iter_mut()
        .find(|m| m.name == "boto3")
        .unwrap();
    row.code_use = Some("export:40".into());
    let (pattern, advice) = advice_of(&profile, "boto3");
    assert_eq!(pattern.as_deref(), Some("rarely_used"));
    let advice = advice.unwrap();
    assert!(
        advice.starts_with("Move the `import boto3` at /srv/fn/handler.py:10 into export (/srv/fn/handler.py:40), the function that names it"),
        "{advice}"
    );
    assert!(!advice.contains("Remove"), "{advice}");
    // Without the name, the same evidence says never used.
    let (pattern, _) = advice_of(&function(60, true), "boto3");
    assert_eq!(pattern.as_deref(), Some("never_used"));
}

/// Issue 13, failure 11: `heavy` (handler.py:8) spends its 109 ms import
/// running its body (20 samples at 200 Hz at its line 30), opening only
/// code and metadata; it runs on every call. Named, with its lines, as
/// module-level computation, never "remove"; geokit stays a data read.
#[test]
fn failure_11_cpu_heavy_module_level_code_at_import_is_named_with_its_lines() {
    let mut profile = data_function();
    profile.meta.sample_hz = 200;
    let analysis = analysis::analyze_profile(&profile, ScoreKind::Runtime);
    let pattern_of = |module: &str| {
        analysis
            .changes()
            .find(|f| f.module == module)
            .and_then(|f| f.pattern.map(|p| p.as_str()))
    };
    assert_eq!(pattern_of("geokit"), Some("import_time_io"));
    assert_eq!(pattern_of("heavy"), Some("import_time_compute"));
    let f = analysis.changes().find(|f| f.module == "heavy").unwrap();
    assert_eq!(f.site.to_string(), "/srv/fn/handler.py:8");
    let advice = f.advice.as_deref().unwrap();
    for part in [
        "runs its module-level code on the CPU at import",
        "its body (heavy/__init__.py:30) ran for about 100.0 ms (20 samples; most at line 30)",
        "heavy is used",
        "keep the import",
        "nothing when every call does",
    ] {
        assert!(advice.contains(part), "{part:?} in {advice}");
    }
    assert!(!advice.contains("Remove"), "{advice}");
    // Without a sampling rate there is no time to estimate: no verdict.
    let analysis = analysis::analyze_profile(&data_function(), ScoreKind::Runtime);
    assert!(analysis.changes().all(|f| f.module != "heavy"));
}
