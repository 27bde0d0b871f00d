//! How long `coldspy report` takes on a 1,000,000-sample profile (target:
//! under 2 s for the default terminal report: read, analyse, render).
//!
//! Builds a synthetic trace (2,000 modules in 40 packages, 1,000,000
//! samples over 20,000 distinct call paths up to 48 frames deep), writes its
//! profile to a temporary file, then times each step and each format.
//! Prints the times; exits with status 1 when the terminal report takes 2 s
//! or more. Run: `cargo bench -p coldspy-user --bench report_1m`.

use coldspy::analysis::{Analysis, ScoreKind};
use coldspy::export::{Format, Report, View};
use coldspy::model::build::build_profile;
use coldspy::model::profile::{Frame, Profile};
use coldspy::model::trace::{ImportEdge, Trace, TraceImportEdge, TraceOpen, TraceSample};
use std::time::{Duration, Instant};

const SAMPLES: u64 = 1_000_000;
const PACKAGES: usize = 40;
const MODULES_PER_PACKAGE: usize = 50;
const LIMIT: Duration = Duration::from_secs(2);

/// A small deterministic PRNG (xorshift64*), so every run profiles the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn synthetic_trace() -> Trace {
    const MS: u64 = 1_000_000;
    let start = 1_000_000 * MS;
    let site = "/venv/lib/python3.12/site-packages";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut trace = Trace {
        start_ns: start,
        ..Trace::default()
    };
    trace.meta.pid = 1;
    trace.meta.python_version = "3.12.3".into();
    trace.meta.sample_hz = 1000;
    trace.meta.command = vec!["python3".into(), "bench.py".into()];

    // Modules: pkgN and pkgN.modM, imported one after the other (2 ms init each package).
    let mut module_files = Vec::new();
    let mut t = start + MS;
    for p in 0..PACKAGES {
        let package = format!("pkg{p}");
        let edge = |edge, ts_ns, module: &str| TraceImportEdge {
            edge,
            pid: 1,
            tid: 1,
            ts_ns,
            module: module.into(),
            failed: false,
            site: None,
        };
        trace.imports.push(edge(ImportEdge::Start, t, &package));
        for m in 0..MODULES_PER_PACKAGE {
            let module = format!("{package}.mod{m}");
            let file = format!("{site}/{package}/mod{m}.py");
            trace
                .imports
                .push(edge(ImportEdge::Start, t + 10_000, &module));
            trace.opens.push(TraceOpen {
                pid: 1,
                tid: 1,
                enter_ns: t + 11_000,
                exit_ns: t + 12_000,
                ret: 3,
                path: format!("{site}/{package}/__pycache__/mod{m}.cpython-312.pyc"),
            });
            t += 40_000 + (rng.below(200) as u64) * 1_000;
            trace.imports.push(edge(ImportEdge::End, t, &module));
            module_files.push(file);
        }
        t += 10_000;
        trace.imports.push(edge(ImportEdge::End, t, &package));
    }

    // Frames: 3 functions per module file, plus the handler.
    let mut frames = vec![Frame {
        function: "handle".into(),
        file: "/app/handler.py".into(),
        line: 10,
        module: None,
    }];
    for file in &module_files {
        for f in 0..3 {
            frames.push(Frame {
                function: format!("f{f}"),
                file: file.clone(),
                line: 10 + f,
                module: None,
            });
        }
    }
    trace.frames = frames;
    // 20,000 call paths (innermost first), each a random walk from the handler.
    let paths: Vec<Vec<u32>> = (0..20_000)
        .map(|_| {
            let depth = 2 + rng.below(46);
            let mut stack: Vec<u32> = (0..depth)
                .map(|_| 1 + rng.below(trace.frames.len() - 1) as u32)
                .collect();
            stack.push(0);
            stack
        })
        .collect();
    let init_end = t;
    let mut ts = start + MS;
    for _ in 0..SAMPLES {
        ts += MS;
        let path = &paths[rng.below(paths.len()).min(rng.below(paths.len()))]; // skewed: some paths are hot
        let stack = if ts < init_end {
            path[path.len() - 2..].to_vec()
        } else {
            path.clone()
        };
        trace.samples.push(TraceSample {
            ts_ns: ts,
            pid: 1,
            tid: 1,
            stack,
            truncated: false,
        });
    }
    trace.end_ns = ts + MS;
    trace
}

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> (T, Duration) {
    let begin = Instant::now();
    let value = f();
    let took = begin.elapsed();
    println!("{label:<44} {:>8.3} s", took.as_secs_f64());
    (value, took)
}

fn main() {
    let (trace, _) = timed(
        "generate the trace (not part of the report)",
        synthetic_trace,
    );
    let (profile, _) = timed("build the profile (record's job)", || build_profile(&trace));
    drop(trace);
    assert_eq!(profile.stats.samples, SAMPLES);
    let dir = std::env::temp_dir().join(format!("coldspy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("profile-1m.json");
    std::fs::write(&path, serde_json::to_vec(&profile).unwrap()).unwrap();
    let size_mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    fn count_nodes(node: &coldspy::model::profile::CctNode) -> usize {
        1 + node.children.iter().map(count_nodes).sum::<usize>()
    }
    println!(
        "profile: {} samples, {} modules, {} frames, {} CCT nodes, {:.1} MB",
        profile.stats.samples,
        profile.modules.len(),
        profile.cct.frames.len(),
        count_nodes(&profile.cct.root),
        size_mb
    );

    // The default `coldspy report profile.json`: read, analyse, render the terminal report.
    let view = View::default();
    let (_, report_took) = timed("coldspy report (terminal): read+analyse+render", || {
        let profile = Profile::read(&path).expect("the profile reads back");
        let analysis = Analysis::of(&profile, ScoreKind::RunTime);
        let mut out = Vec::new();
        Format::Terminal
            .exporter()
            .write(
                &Report {
                    profile: &profile,
                    analysis: &analysis,
                    view: &view,
                },
                &mut out,
            )
            .unwrap();
        out.len()
    });
    let (read, _) = timed("  of which: read the profile", || {
        Profile::read(&path).unwrap()
    });
    let (analysis, _) = timed("  of which: analyse", || {
        Analysis::of(&read, ScoreKind::RunTime)
    });
    for format in [
        Format::Terminal,
        Format::Json,
        Format::Html,
        Format::Speedscope,
        Format::Collapsed,
        Format::Flamegraph,
        Format::Pprof,
    ] {
        let label = format!("  render {format:?}");
        timed(&label, || {
            let mut out = Vec::new();
            format
                .exporter()
                .write(
                    &Report {
                        profile: &read,
                        analysis: &analysis,
                        view: &view,
                    },
                    &mut out,
                )
                .unwrap();
            out.len()
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    if report_took >= LIMIT {
        println!(
            "FAIL: the report of a 1,000,000-sample profile took {:.3} s (limit 2 s)",
            report_took.as_secs_f64()
        );
        std::process::exit(1);
    }
    println!(
        "ok: the report of a 1,000,000-sample profile took {:.3} s (limit 2 s)",
        report_took.as_secs_f64()
    );
}
