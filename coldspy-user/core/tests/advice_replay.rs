//! The answer on recorded traces, replayed without a kernel: each failure of
//! issue 13 that a recording shows has a regression test named after it.
//!
//! `handler.trace.json` is `examples/handler.py` run as a script (CPython
//! 3.12, 200 Hz): it imports boto3 (line 10) and tqdm (line 12) and never
//! uses them, and markdown (line 11), which it uses on every call.
// A test target sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use coldspy_core::analysis::evidence::Verdict;
use coldspy_core::analysis::origin::{self, Origin};
use coldspy_core::analysis::{analyze, analyze_profile, Analysis, ScoreKind};
use coldspy_core::export::terminal::Terminal;
use coldspy_core::model::build::build_profile;
use coldspy_core::model::profile::Profile;
use coldspy_core::model::trace::Trace;
use std::path::PathBuf;

fn fixture(name: &str) -> Trace {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn handler() -> (Profile, Analysis) {
    let p = build_profile(&fixture("handler.trace.json"));
    let a = analyze_profile(&p, ScoreKind::Runtime);
    (p, a)
}

fn report(p: &Profile, a: &Analysis) -> String {
    let mut out = Vec::new();
    Terminal::default().write_to(p, a, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// (module, depth, file of the module, importing (file, line), cumulative ms, self ms).
type Import<'a> = (&'a str, u32, &'a str, (&'a str, u32), u64, u64);
/// A stack of (function, file, module), outermost first.
type Stack<'a> = &'a [(&'a str, &'a str, &'a str)];

const SP: &str = "/v/lib/python3.12/site-packages";
const STD: &str = "/py/lib/python3.12";
const RUNNER: &str = "/tmp/coldspy-runner-0/coldspy_runner.py";
const APP: &str = "/fn/handler.py";

/// A fabricated profile: imports as (module, depth, file of the module,
/// importing file:line, cumulative ms, self ms), in start order, and
/// samples as stacks of (function, file, module), outermost first.
fn fabricated(imports: &[Import], stacks: &[(Stack, u64)]) -> Profile {
    use coldspy_core::model::profile::{
        Cct, CctNode, Frame, ImportRecord, ImportSite, ModuleRecord,
    };
    let mut p = Profile::empty();
    p.meta.python_version = "3.12.1".into();
    let mut open: Vec<usize> = Vec::new();
    for (i, &(module, depth, file, (site, line), cum_ms, self_ms)) in imports.iter().enumerate() {
        open.truncate(depth as usize);
        p.imports.push(ImportRecord {
            module: module.into(),
            parent: open.last().map(|&j: &usize| imports[j].0.to_string()),
            tid: 1,
            start_us: i as u64,
            end_us: i as u64 + cum_ms * 1000,
            self_us: self_ms * 1000,
            cumulative_us: cum_ms * 1000,
            depth,
            files: Vec::new(),
            site: Some(ImportSite {
                file: site.into(),
                line,
                function: "<module>".into(),
                statement: None,
            }),
            failed: false,
            parent_index: open.last().copied(),
            via: None,
            loader: None,
        });
        open.push(i);
        p.modules.push(ModuleRecord {
            name: module.into(),
            file: Some(file.into()),
            ..ModuleRecord::default()
        });
    }
    let mut root = CctNode::default();
    for (stack, n) in stacks {
        let mut node = &mut root;
        node.total += n;
        for &(function, file, module) in stack.iter() {
            let frame = Frame {
                function: function.into(),
                qualname: String::new(),
                file: file.into(),
                line: 1,
                module: Some(module.into()),
            };
            let index = match p.cct.frames.iter().position(|f| *f == frame) {
                Some(i) => i,
                None => {
                    p.cct.frames.push(frame);
                    p.cct.frames.len() - 1
                }
            };
            let at = match node.children.iter().position(|c| c.frame == Some(index)) {
                Some(at) => at,
                None => {
                    node.children.push(CctNode {
                        frame: Some(index),
                        ..CctNode::default()
                    });
                    node.children.len() - 1
                }
            };
            node = &mut node.children[at];
            node.total += n;
        }
        node.self_samples += n;
    }
    p.stats.samples = root.total;
    p.cct = Cct {
        frames: std::mem::take(&mut p.cct.frames),
        root,
    };
    p
}

/// The bundled example in handler mode: the runner imports json and the
/// handler; the handler's own statements are at lines 10-12.
fn handler_mode(markdown_samples: u64) -> Profile {
    let md = format!("{SP}/markdown/core.py");
    let imports = [
        (
            "json",
            0,
            "/py/lib/python3.12/json/__init__.py",
            (RUNNER, 118),
            5,
            2,
        ),
        (
            "json.decoder",
            1,
            "/py/lib/python3.12/json/decoder.py",
            ("/py/lib/python3.12/json/__init__.py", 106),
            3,
            3,
        ),
        ("handler", 0, APP, (RUNNER, 75), 170, 1),
        (
            "boto3",
            1,
            &format!("{SP}/boto3/__init__.py") as &str,
            (APP, 10),
            150,
            10,
        ),
        (
            "botocore",
            2,
            &format!("{SP}/botocore/__init__.py"),
            (&format!("{SP}/boto3/__init__.py") as &str, 17),
            120,
            100,
        ),
        (
            "re",
            3,
            &format!("{STD}/re/__init__.py"),
            (&format!("{SP}/botocore/__init__.py") as &str, 15),
            20,
            20,
        ),
        (
            "markdown",
            1,
            &format!("{SP}/markdown/__init__.py"),
            (APP, 11),
            12,
            12,
        ),
        (
            "tqdm",
            1,
            &format!("{SP}/tqdm/__init__.py"),
            (APP, 12),
            5,
            5,
        ),
    ];
    // Leak the formatted paths: the table above borrows them.
    let imports: Vec<Import> = imports
        .iter()
        .map(|&(m, d, f, (s, l), c, x)| {
            (
                m,
                d,
                &*String::leak(f.to_string()),
                (&*String::leak(s.to_string()), l),
                c,
                x,
            )
        })
        .collect();
    let call: Vec<(&str, &str, &str)> = vec![
        ("<module>", RUNNER, "coldspy_runner"),
        ("invoke", RUNNER, "coldspy_runner"),
        ("handler", APP, "handler"),
        ("markdown", String::leak(md), "markdown.core"),
    ];
    let runner_only: Vec<(&str, &str, &str)> = vec![
        ("<module>", RUNNER, "coldspy_runner"),
        ("invoke", RUNNER, "coldspy_runner"),
    ];
    fabricated(&imports, &[(&call, markdown_samples), (&runner_only, 2)])
}

#[test]
fn failure_1_handler_advice_names_the_handler_lines_not_the_runner() {
    let p = handler_mode(30);
    let a = analyze_profile(&p, ScoreKind::Runtime);
    let sites: Vec<String> = a.findings.iter().map(|f| f.site.to_string()).collect();
    assert!(sites.iter().all(|s| s.starts_with(APP)), "{sites:?}");
    let boto3 = a
        .changes()
        .find(|f| f.module == "boto3")
        .expect("boto3 is a change");
    assert_eq!(boto3.site.to_string(), format!("{APP}:10"));
    assert_eq!(boto3.pattern.map(|p| p.as_str()), Some("never_used"));
    // The runner's json is not charged to the function; it is start-up.
    assert!(a.findings.iter().all(|f| f.module != "json"));
    assert!(
        a.packages.iter().all(|p| p.name != "json"),
        "json is the runner's"
    );
    assert_eq!(a.startup.names, ["json"]);
    assert_eq!(a.startup.modules, 2);
}

#[test]
fn failure_2_a_used_package_is_never_told_remove() {
    let p = handler_mode(30);
    let a = analyze_profile(&p, ScoreKind::Runtime);
    let md = a.findings.iter().find(|f| f.module == "markdown").unwrap();
    assert_eq!(md.verdict, Verdict::Used);
    assert_eq!(md.pattern, None);
    for f in a.changes() {
        let advice = f.advice.as_deref().unwrap();
        assert!(!advice.contains("`import markdown`"), "{advice}");
    }
    // And on the recording: markdown (line 11) is used, never "remove".
    let (p, a) = handler();
    let md = a.findings.iter().find(|f| f.module == "markdown").unwrap();
    assert!(
        md.site.to_string().ends_with("examples/handler.py:11"),
        "{}",
        md.site
    );
    assert_eq!(md.pattern, None);
    assert!(!report(&p, &a).contains("Remove the `import markdown`"));
}

#[test]
fn failure_3_standard_library_modules_are_never_findings() {
    let (p, a) = handler();
    let modules: std::collections::HashMap<&str, Option<&str>> = p
        .modules
        .iter()
        .map(|m| (m.name.as_str(), m.file.as_deref()))
        .collect();
    assert!(a.changes().count() >= 2);
    for f in &a.findings {
        let file = modules.get(f.module.as_str()).copied().flatten();
        assert_ne!(
            origin::of_module(&f.module, file),
            Origin::Stdlib,
            "{}",
            f.module
        );
    }
    for row in p.modules.iter() {
        if row.pattern.is_some() {
            assert!(!origin::is_stdlib_name(&row.name), "{}", row.name);
        }
    }
    let mut p = p;
    analyze(&mut p, ScoreKind::Runtime);
    let flagged: Vec<&str> = p
        .modules
        .iter()
        .filter(|m| m.pattern.is_some())
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(flagged, ["boto3", "tqdm"]);
}

#[test]
fn failure_4_zero_samples_give_not_enough_evidence_never_never_used() {
    let p = handler_mode(0);
    let mut p = p;
    p.cct.root.children.clear();
    p.cct.root.total = 0;
    let a = analyze_profile(&p, ScoreKind::Runtime);
    assert_eq!(a.evidence_samples, 0);
    assert_eq!(
        a.changes().count(),
        0,
        "{:?}",
        a.changes().collect::<Vec<_>>()
    );
    let boto3 = a.findings.iter().find(|f| f.module == "boto3").unwrap();
    assert_eq!(boto3.verdict, Verdict::Unknown);
    assert!(
        boto3.row().contains("not enough evidence"),
        "{}",
        boto3.row()
    );
}

#[test]
fn failure_4_exact_use_decides_with_few_samples() {
    let mut p = handler_mode(1);
    p.stats.exec_count = 1;
    for m in &mut p.modules {
        m.exact_use = Some(if m.name.starts_with("markdown") || m.name == "handler" {
            1
        } else {
            0
        });
    }
    let a = analyze_profile(&p, ScoreKind::Runtime);
    assert!(a.exact);
    let boto3 = a
        .changes()
        .find(|f| f.module == "boto3")
        .expect("exact: boto3 never ran");
    assert!(
        boto3.advice.as_deref().unwrap().contains("(exact)"),
        "{:?}",
        boto3.advice
    );
    assert!(a.changes().all(|f| f.module != "markdown"));
}

#[test]
fn failure_7_a_dependency_of_a_dependency_is_not_a_library_choice() {
    let imports = [
        (
            "pandas",
            0,
            &*format!("{SP}/pandas/__init__.py").leak(),
            (APP, 3),
            200,
            50,
        ),
        (
            "pytz",
            1,
            &*format!("{SP}/pytz/__init__.py").leak(),
            (&*format!("{SP}/pandas/__init__.py").leak(), 9),
            20,
            20,
        ),
    ];
    let call: &[(&str, &str, &str)] = &[
        ("<module>", APP, "handler"),
        ("f", &*format!("{SP}/pandas/core.py").leak(), "pandas.core"),
    ];
    let p = fabricated(&imports, &[(call, 40)]);
    let a = analyze_profile(&p, ScoreKind::Runtime);
    assert!(a.findings.iter().all(|f| f.module != "pytz"
        || f.pattern != Some(coldspy_core::analysis::patterns::Pattern::LibraryChoice)));
    assert!(a
        .changes()
        .all(|f| !f.advice.as_deref().unwrap_or("").contains("zoneinfo")));
}

#[test]
fn failure_8_unused_heavy_subpackage_of_a_used_package_is_a_finding_at_the_dependency_statement() {
    let init = &*format!("{SP}/skimage/__init__.py").leak();
    let io = &*format!("{SP}/skimage/io/_io.py").leak();
    let imports = [
        ("skimage", 0, init, (APP, 4), 300, 20),
        (
            "skimage.io",
            1,
            &*format!("{SP}/skimage/io/__init__.py").leak(),
            (init, 30),
            40,
            40,
        ),
        (
            "scipy",
            1,
            &*format!("{SP}/scipy/__init__.py").leak(),
            (io, 12),
            200,
            20,
        ),
        (
            "scipy.stats",
            2,
            &*format!("{SP}/scipy/stats/__init__.py").leak(),
            (&*format!("{SP}/scipy/__init__.py").leak(), 7),
            175,
            175,
        ),
        (
            "skimage.drawing",
            1,
            &*format!("{SP}/skimage/drawing/__init__.py").leak(),
            (init, 31),
            30,
            30,
        ),
    ];
    let call: &[(&str, &str, &str)] = &[
        ("<module>", APP, "handler"),
        ("read", io, "skimage.io._io"),
        (
            "f",
            &*format!("{SP}/scipy/ndimage.py").leak(),
            "scipy.ndimage",
        ),
    ];
    let p = fabricated(&imports, &[(call, 50)]);
    let a = analyze_profile(&p, ScoreKind::Runtime);
    let skimage = a.findings.iter().find(|f| f.module == "skimage").unwrap();
    assert_eq!((skimage.verdict, skimage.pattern), (Verdict::Used, None));
    let stats = a.changes().find(|f| f.module == "scipy.stats");
    // scipy is used (ndimage), its stats sub-package is not: but it is a
    // sub-package of a dependency, reported at scipy's own statement only
    // when scipy itself is the named package; here the unused sub-package of
    // the named package is skimage.drawing.
    assert!(stats.is_none());
    let drawing = a
        .changes()
        .find(|f| f.module == "skimage.drawing")
        .expect("skimage.drawing");
    assert_eq!(drawing.site.to_string(), format!("{init}:31"));
    assert!(!drawing.first_party);
    assert_eq!(drawing.via.to_string(), format!("{APP}:4"));
    assert!(drawing
        .advice
        .as_deref()
        .unwrap()
        .contains("inside the dependency"));
}

/// A function whose run-time work is all inside `pydantic_core`'s compiled
/// extension: the handler calls it, no Python frame of the package runs.
fn native_validation(with_native_leaf: bool) -> Profile {
    let init = &*format!("{SP}/pydantic_core/__init__.py").leak();
    let so = &*format!("{SP}/pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so").leak();
    let imports = [
        ("pydantic_core", 0, init, (APP, 3), 40, 10),
        ("pydantic_core._pydantic_core", 1, so, (init, 6), 30, 30),
    ];
    let mut call: Vec<(&str, &str, &str)> =
        vec![("<module>", APP, "handler"), ("handler", APP, "handler")];
    if with_native_leaf {
        call.push(("<native>", so, "pydantic_core._pydantic_core"));
    }
    fabricated(&imports, &[(&call, 60)])
}

#[test]
fn failure_5_native_work_in_an_extension_is_use_of_its_package() {
    let a = analyze_profile(&native_validation(true), ScoreKind::Runtime);
    let core = a
        .findings
        .iter()
        .find(|f| f.module == "pydantic_core")
        .unwrap();
    assert_eq!(
        (core.verdict, core.pattern),
        (Verdict::Used, None),
        "{}",
        core.row()
    );
    assert_eq!(a.changes().count(), 0);
    // What the sampler's native leaf prevents: without it the same samples
    // say the package never ran.
    let a = analyze_profile(&native_validation(false), ScoreKind::Runtime);
    let core = a
        .findings
        .iter()
        .find(|f| f.module == "pydantic_core")
        .unwrap();
    assert_eq!(core.verdict, Verdict::Unused);
}

#[test]
fn failure_6_an_import_every_invocation_runs_is_not_rarely_used() {
    // markdown in 1 of 40 samples (2.5 %, under the 5 % rarity share), but
    // the runner saw its code run in the first of 20 invocations: moving
    // its import into the handler would move its cost into every call.
    let exact = |first_markdown_call: u64| {
        let mut p = handler_mode(1);
        // 39 more samples of the handler's own code.
        let busy: &[(&str, &str, &str)] = &[
            ("<module>", RUNNER, "coldspy_runner"),
            ("invoke", RUNNER, "coldspy_runner"),
            ("handler", APP, "handler"),
        ];
        let more = fabricated(&[], &[(busy, 39)]);
        let offset = p.cct.frames.len();
        p.cct.frames.extend(more.cct.frames);
        let mut node = more.cct.root.children[0].clone();
        fn shift(n: &mut coldspy_core::model::profile::CctNode, by: usize) {
            n.frame = n.frame.map(|f| f + by);
            n.children.iter_mut().for_each(|c| shift(c, by));
        }
        shift(&mut node, offset);
        p.cct.root.total += node.total;
        p.cct.root.children.push(node);
        p.stats.exec_count = 20;
        for m in &mut p.modules {
            m.exact_use = Some(match m.name.as_str() {
                "handler" => 1,
                n if n.starts_with("markdown") => first_markdown_call,
                _ => 0,
            });
        }
        analyze_profile(&p, ScoreKind::Runtime)
    };
    let a = exact(1);
    let md = a.findings.iter().find(|f| f.module == "markdown").unwrap();
    assert!(md.evidence.share() < 0.05, "{}", md.row());
    assert_eq!(
        (md.verdict, md.pattern),
        (Verdict::Used, None),
        "{}",
        md.row()
    );
    // The rule is live: first run in the 7th call is rarely used, with the edit.
    let a = exact(7);
    let md = a.changes().find(|f| f.module == "markdown").expect("rare");
    assert_eq!(md.pattern.map(|p| p.as_str()), Some("rarely_used"));
    assert!(md
        .advice
        .as_deref()
        .unwrap()
        .starts_with("Move the `import markdown`"));
}

#[test]
fn failure_10_measurement_comes_first_and_knowledge_adds_the_replacement() {
    // pytz is a library_choice entry (zoneinfo). Imported by the handler and
    // never run: measured never_used ("remove"), not "replace"; imported and
    // run: the entry adds its replacement.
    let pytz = &*format!("{SP}/pytz/__init__.py").leak();
    let imports = [("pytz", 0, pytz, (APP, 4), 30, 30)];
    let own: &[(&str, &str, &str)] = &[("<module>", APP, "handler"), ("handler", APP, "handler")];
    let a = analyze_profile(&fabricated(&imports, &[(own, 60)]), ScoreKind::Runtime);
    let f = a.changes().find(|f| f.module == "pytz").expect("pytz");
    assert_eq!(f.pattern.map(|p| p.as_str()), Some("never_used"));
    assert!(f
        .advice
        .as_deref()
        .unwrap()
        .starts_with("Remove the `import pytz`"));
    let uses: &[(&str, &str, &str)] = &[
        ("<module>", APP, "handler"),
        ("handler", APP, "handler"),
        ("timezone", pytz, "pytz"),
    ];
    let a = analyze_profile(
        &fabricated(&imports, &[(own, 40), (uses, 20)]),
        ScoreKind::Runtime,
    );
    let f = a.changes().find(|f| f.module == "pytz").expect("pytz");
    assert_eq!(f.pattern.map(|p| p.as_str()), Some("library_choice"));
    let advice = f.advice.as_deref().unwrap();
    assert!(advice.starts_with("Replace pytz with zoneinfo"), "{advice}");
    assert!(advice.contains("source: "), "{advice}");
}

/// A handler that fetches its configuration at init: `boto3` (line 11)
/// brings `urllib3` (60 ms), whose code runs only at init, in the
/// `connect` the kernel saw from line 20; no invocation runs it (exact).
fn config_at_init(with_connect: bool) -> Profile {
    use coldspy_core::model::profile::{ConnectRecord, ImportSite};
    let boto3 = &*format!("{SP}/boto3/__init__.py").leak();
    let botocore = &*format!("{SP}/botocore/__init__.py").leak();
    let imports = [
        ("handler", 0, APP, (RUNNER, 75), 200, 1),
        ("boto3", 1, boto3, (APP, 11), 150, 10),
        ("botocore", 2, botocore, (boto3, 5), 140, 80),
        (
            "urllib3",
            3,
            &*format!("{SP}/urllib3/__init__.py").leak(),
            (botocore, 9),
            60,
            60,
        ),
    ];
    let calls: &[(&str, &str, &str)] = &[
        ("<module>", RUNNER, "coldspy_runner"),
        ("invoke", RUNNER, "coldspy_runner"),
        ("handler", APP, "handler"),
        (
            "call",
            &*format!("{SP}/botocore/client.py").leak(),
            "botocore.client",
        ),
    ];
    let mut p = fabricated(&imports, &[(calls, 40)]);
    p.stats.exec_count = 3;
    for m in &mut p.modules {
        m.exact_use = Some(match m.name.as_str() {
            "handler" | "botocore" => 1,
            _ => 0,
        });
        // `boto3.client(...)` at the handler's top level.
        m.init_use = m.name == "boto3";
    }
    if with_connect {
        p.connects.push(ConnectRecord {
            ts_us: 180_000,
            tid: 1,
            address: "10.0.0.5:443".into(),
            site: Some(ImportSite {
                file: APP.into(),
                line: 20,
                function: "<module>".into(),
                statement: None,
            }),
            calls: vec!["botocore.client._api_call".into()],
            modules: vec!["botocore.client".into(), "urllib3.connection".into()],
            at_init: true,
        });
    }
    p
}

#[test]
fn failure_11_a_network_connection_at_init_is_named_at_its_line_and_its_stack_is_use() {
    let a = analyze_profile(&config_at_init(true), ScoreKind::Runtime);
    let net = a
        .changes()
        .find(|f| f.pattern.map(|p| p.as_str()) == Some("network_at_init"))
        .expect("the connection at init");
    assert_eq!(net.site.to_string(), format!("{APP}:20"));
    let advice = net.advice.as_deref().unwrap();
    assert!(
        advice.contains("connects to 10.0.0.5:443 at init through botocore.client._api_call"),
        "{advice}"
    );
    // urllib3 ran at init (on the connection's stack): not "never ran".
    assert!(
        a.changes().all(|f| f.module != "urllib3"),
        "{:?}",
        a.changes().map(|f| &f.module).collect::<Vec<_>>()
    );
    // Without the connection the same data says urllib3 never ran.
    let a = analyze_profile(&config_at_init(false), ScoreKind::Runtime);
    assert!(a.changes().any(|f| f.module == "urllib3"));
    assert!(a
        .changes()
        .all(|f| f.pattern.map(|p| p.as_str()) != Some("network_at_init")));
}

/// rich is imported by two statements (the console at line 12, 30 ms; the
/// table at line 13, 0.4 ms once rich is loaded) and never runs: dropping
/// the feature needs both lines changed, so both are findings, and the
/// first names the second.
#[test]
fn a_change_names_every_statement_that_imports_the_package() {
    let console = &*format!("{SP}/rich/console.py").leak();
    let imports = [
        (
            "rich",
            0,
            &*format!("{SP}/rich/__init__.py").leak(),
            (APP, 12),
            30,
            5,
        ),
        (
            "rich.console",
            1,
            console,
            (&*format!("{SP}/rich/__init__.py").leak(), 3),
            25,
            25,
        ),
        (
            "rich.table",
            0,
            &*format!("{SP}/rich/table.py").leak(),
            (APP, 13),
            0,
            0,
        ),
    ];
    let own: &[(&str, &str, &str)] = &[("<module>", APP, "handler"), ("handler", APP, "handler")];
    let a = analyze_profile(&fabricated(&imports, &[(own, 60)]), ScoreKind::Runtime);
    let sites: Vec<(String, Option<&str>)> = a
        .changes()
        .map(|f| (f.site.to_string(), f.pattern.map(|p| p.as_str())))
        .collect();
    assert_eq!(
        sites,
        [
            (format!("{APP}:12"), Some("feature_redundancy")),
            (format!("{APP}:13"), Some("feature_redundancy")),
        ]
    );
    let lead = a.changes().next().unwrap().advice.as_deref().unwrap();
    assert!(
        lead.contains(&format!(
            "The statement at {APP}:13 (`import rich.table`) imports rich too"
        )),
        "{lead}"
    );
}

#[test]
fn advice_quotes_the_statement_as_written_and_the_one_name_to_drop() {
    // heavy_subpackages: `from scipy import special, stats`, stats never run.
    let stats = &*format!("{SP}/scipy/stats/__init__.py").leak();
    let imports = [("scipy.stats", 0, stats, (APP, 11), 30, 30)];
    let own: &[(&str, &str, &str)] = &[("<module>", APP, "handler"), ("handler", APP, "handler")];
    let mut p = fabricated(&imports, &[(own, 60)]);
    let advice = |p: &Profile| {
        let a = analyze_profile(p, ScoreKind::Runtime);
        let f = a
            .changes()
            .find(|f| f.module == "scipy.stats")
            .expect("stats");
        f.advice.clone().unwrap()
    };
    let set = |p: &mut Profile, text: &str| {
        p.imports[0].site.as_mut().unwrap().statement = Some(text.into());
    };
    set(&mut p, "from scipy import special, stats");
    let written = advice(&p);
    assert!(
        written.starts_with(&format!(
            "Remove `stats` from the `from scipy import special, stats` at {APP}:11"
        )),
        "{written}"
    );
    set(&mut p, "import scipy.stats as st");
    assert!(advice(&p).starts_with("Remove the `import scipy.stats as st` at"));
    // A line that does not name the module is not its statement.
    set(&mut p, "import json");
    assert!(advice(&p).starts_with("Remove the `import scipy.stats` at"));
}
