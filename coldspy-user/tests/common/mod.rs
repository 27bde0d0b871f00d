//! Shared helpers of the report tests: the fixture profile (a real cold start
//! replayed without a kernel), normalization, and the external tools.
#![allow(dead_code)]

pub mod cdp;

use coldspy::analysis::{Analysis, ScoreKind};
use coldspy::export::{Format, Report, View};
use coldspy::model::build::build_profile;
use coldspy::model::profile::Profile;
use coldspy::model::trace::Trace;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The recorded trace of a function importing boto3, tqdm, markdown,
/// pkg_resources and jinja2 (see tests/fixtures/gen/make_trace.py).
pub fn coldstart_trace() -> Trace {
    let text = std::fs::read_to_string(fixture("coldstart_trace.json")).expect("fixture trace");
    serde_json::from_str(&text).expect("fixture trace parses")
}

/// The fixture trace built into a profile, with host/time/pid normalized.
pub fn coldstart_profile() -> Profile {
    normalize(build_profile(&coldstart_trace()))
}

/// Replaces what differs between recordings (host, time, pid, versions) with fixed values.
pub fn normalize(mut profile: Profile) -> Profile {
    let m = &mut profile.meta;
    m.host = "HOST".into();
    m.kernel = "KERNEL".into();
    m.started_at = "2026-01-01T00:00:00Z".into();
    m.coldspy_version = "VERSION".into();
    m.pid = 1;
    m.pids = vec![1];
    profile
}

/// Renders one format to bytes.
pub fn render(profile: &Profile, kind: ScoreKind, view: &View, format: Format) -> Vec<u8> {
    let analysis = Analysis::of(profile, kind);
    let mut out = Vec::new();
    format
        .exporter()
        .write(
            &Report {
                profile,
                analysis: &analysis,
                view,
            },
            &mut out,
        )
        .expect("writer succeeds");
    out
}

/// The path of an external tool, or a failure that says how to install it.
pub fn require_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{name}` is not installed; this test needs it: run cargo xtask setup (Debian package: {})", debian_package(name))
    })
}

fn debian_package(tool: &str) -> &'static str {
    match tool {
        "chromium" => "chromium",
        "go" => "golang-go",
        _ => "see docs/report.md",
    }
}

/// Runs a command, failing the test with its output if it fails.
pub fn run_ok(command: &mut Command) -> String {
    let output = command.output().expect("command starts");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A small hand-written cold start for the golden files: `handler` imports
/// boto3 (→ botocore → botocore.client), tqdm and markdown (→ markdown.core);
/// at run time the handler calls markdown and its own code. With
/// `with_boto3 = false` the same program without `import boto3`.
pub fn small_trace(with_boto3: bool) -> Trace {
    use coldspy::model::profile::Frame;
    use coldspy::model::trace::{ImportEdge, PhaseMark, TraceImportEdge, TraceOpen, TraceSample};
    const MS: u64 = 1_000_000;
    const START: u64 = 1_000 * MS;
    let site = "/venv/lib/python3.12/site-packages";
    let frame = |function: &str, file: &str, line: u32| Frame {
        function: function.into(),
        file: file.into(),
        line,
        module: None,
    };
    let mut trace = Trace {
        start_ns: START,
        end_ns: START + 400 * MS,
        ..Trace::default()
    };
    trace.meta.pid = 7;
    trace.meta.python_version = "3.12.3".into();
    trace.meta.sample_hz = 200;
    trace.meta.command = vec!["python3".into(), "/app/main.py".into()];
    trace.meta.coldspy_version = "0.1.0".into();
    trace.meta.host = "h".into();
    trace.meta.started_at = "2026-01-01T00:00:00Z".into();
    trace.frames = vec![
        frame("<module>", "/app/main.py", 3),                       // 0
        frame("<module>", "/app/handler.py", 2),                    // 1: import boto3
        frame("<module>", &format!("{site}/boto3/__init__.py"), 7), // 2
        frame("<module>", &format!("{site}/botocore/__init__.py"), 5), // 3
        frame("<module>", &format!("{site}/botocore/client.py"), 40), // 4
        frame("<module>", "/app/handler.py", 3),                    // 5: import tqdm
        frame("<module>", &format!("{site}/tqdm/__init__.py"), 12), // 6
        frame("<module>", "/app/handler.py", 4),                    // 7: import markdown
        frame("<module>", &format!("{site}/markdown/__init__.py"), 3), // 8
        frame("<module>", &format!("{site}/markdown/core.py"), 90), // 9
        frame("<module>", "/app/main.py", 8),                       // 10: the invocation loop
        frame("handle", "/app/handler.py", 12),                     // 11
        frame("convert", &format!("{site}/markdown/core.py"), 250), // 12
        frame("summarize", "/app/handler.py", 20),                  // 13
    ];
    let mut imports: Vec<(u64, ImportEdge, &str, Option<u32>)> =
        vec![(10, ImportEdge::Start, "handler", Some(0))];
    if with_boto3 {
        imports.extend([
            (12, ImportEdge::Start, "boto3", Some(1)),
            (14, ImportEdge::Start, "botocore", Some(2)),
            (20, ImportEdge::Start, "botocore.client", Some(3)),
            (80, ImportEdge::End, "botocore.client", None),
            (100, ImportEdge::End, "botocore", None),
            (110, ImportEdge::End, "boto3", None),
        ]);
    }
    imports.extend([
        (120, ImportEdge::Start, "tqdm", Some(5)),
        (135, ImportEdge::End, "tqdm", None),
        (140, ImportEdge::Start, "markdown", Some(7)),
        (142, ImportEdge::Start, "markdown.core", Some(8)),
        (170, ImportEdge::End, "markdown.core", None),
        (175, ImportEdge::End, "markdown", None),
        (180, ImportEdge::End, "handler", None),
    ]);
    trace.imports = imports
        .into_iter()
        .map(|(ms, edge, module, site)| TraceImportEdge {
            edge,
            pid: 7,
            tid: 7,
            ts_ns: START + ms * MS,
            module: module.into(),
            failed: false,
            site,
        })
        .collect();
    let files: &[(&str, u64)] = &[
        ("/app/__pycache__/handler.cpython-312.pyc", 10),
        (
            "/venv/lib/python3.12/site-packages/boto3/__pycache__/__init__.cpython-312.pyc",
            12,
        ),
        (
            "/venv/lib/python3.12/site-packages/botocore/__pycache__/__init__.cpython-312.pyc",
            14,
        ),
        (
            "/venv/lib/python3.12/site-packages/botocore/__pycache__/client.cpython-312.pyc",
            20,
        ),
        (
            "/venv/lib/python3.12/site-packages/tqdm/__pycache__/__init__.cpython-312.pyc",
            120,
        ),
        (
            "/venv/lib/python3.12/site-packages/markdown/__pycache__/__init__.cpython-312.pyc",
            140,
        ),
        (
            "/venv/lib/python3.12/site-packages/markdown/__pycache__/core.cpython-312.pyc",
            142,
        ),
    ];
    trace.opens = files
        .iter()
        .filter(|(path, _)| with_boto3 || !path.contains("boto"))
        .map(|&(path, ms)| TraceOpen {
            pid: 7,
            tid: 7,
            enter_ns: START + ms * MS + 100_000,
            exit_ns: START + ms * MS + 150_000,
            ret: 3,
            path: path.into(),
        })
        .collect();
    // Samples every 5 ms (200 Hz): stacks innermost first.
    let mut samples: Vec<(u64, Vec<u32>)> = Vec::new();
    for ms in (10..180).step_by(5) {
        let stack = match ms {
            20..=79 if with_boto3 => vec![4, 3, 2, 1, 0],
            12..=110 if with_boto3 => vec![2, 1, 0],
            120..=134 => vec![6, 5, 0],
            142..=169 => vec![9, 8, 7, 0],
            _ => vec![1, 0],
        };
        samples.push((ms, stack));
    }
    for (i, ms) in (200..400).step_by(5).enumerate() {
        let stack = if i % 3 == 0 {
            vec![13, 11, 10]
        } else {
            vec![12, 11, 10]
        };
        samples.push((ms, stack));
    }
    trace.samples = samples
        .into_iter()
        .map(|(ms, stack)| TraceSample {
            ts_ns: START + ms * MS,
            pid: 7,
            tid: 7,
            stack,
            truncated: false,
        })
        .collect();
    trace.phases = vec![
        PhaseMark {
            name: "init_end".into(),
            ts_ns: START + 190 * MS,
        },
        PhaseMark {
            name: "invoke_start".into(),
            ts_ns: START + 195 * MS,
        },
        PhaseMark {
            name: "invoke_end".into(),
            ts_ns: START + 400 * MS,
        },
    ];
    if !with_boto3 {
        // Without `import boto3` everything after it happens 100 ms earlier.
        let shift = |ts: &mut u64| {
            if *ts >= START + 112 * MS {
                *ts -= 100 * MS;
            }
        };
        trace
            .samples
            .retain(|s| !(START + 12 * MS..START + 112 * MS).contains(&s.ts_ns));
        trace.samples.iter_mut().for_each(|s| shift(&mut s.ts_ns));
        trace.imports.iter_mut().for_each(|e| shift(&mut e.ts_ns));
        trace.opens.iter_mut().for_each(|o| {
            shift(&mut o.enter_ns);
            shift(&mut o.exit_ns);
        });
        trace.phases.iter_mut().for_each(|p| shift(&mut p.ts_ns));
        shift(&mut trace.end_ns);
    }
    trace
}

/// [`small_trace`] built and normalized.
pub fn small_profile(with_boto3: bool) -> Profile {
    normalize(build_profile(&small_trace(with_boto3)))
}
