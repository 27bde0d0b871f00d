//! How long the report of a 1,000,000-sample profile takes (target: under
//! 2 s): a synthetic trace of 1M samples over 5,000 distinct stacks and 400
//! imported modules, built into a profile, analysed and rendered (terminal
//! and HTML). Prints the times; `cargo xtask bench report` runs it.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy::analysis::{analyze, ScoreKind};
use coldspy::export::{terminal::Terminal, Format};
use coldspy::model::build::build_profile;
use coldspy::model::profile::Frame;
use coldspy::model::trace::{ImportEdge, Trace, TraceImportEdge, TraceOpen, TraceSample};
use std::time::Instant;

fn synthetic_trace(samples: usize) -> Trace {
    let mut trace = Trace {
        start_ns: 0,
        end_ns: 10_000_000_000,
        ..Trace::default()
    };
    trace.meta.pid = 1;
    trace.meta.python_version = "3.12.1".into();
    let modules: Vec<String> = (0..400)
        .map(|i| format!("pkg{}.mod{}", i / 20, i % 20))
        .collect();
    // Imports: nested in pairs, 1 ms each, with the files they open.
    let mut t = 1_000_000u64;
    for (i, m) in modules.iter().enumerate() {
        let start = |module: &str, ts| TraceImportEdge {
            edge: ImportEdge::Start,
            pid: 1,
            tid: 1,
            ts_ns: ts,
            module: module.into(),
            failed: false,
            site: None,
            file: None,
        };
        trace.imports.push(start(m, t));
        trace.opens.push(TraceOpen {
            pid: 1,
            tid: 1,
            enter_ns: t + 10,
            exit_ns: t + 20,
            ret: 3,
            path: format!("/app/pkg{}/mod{}.py", i / 20, i % 20),
        });
        t += 1_000_000;
        trace.imports.push(TraceImportEdge {
            edge: ImportEdge::End,
            ..start(m, t)
        });
    }
    for (i, m) in modules.iter().enumerate() {
        trace.frames.push(Frame {
            function: format!("f{i}"),
            qualname: format!("f{i}"),
            file: format!("/app/{}.py", m.replace('.', "/")),
            line: (i % 300) as u32 + 1,
            module: Some(m.clone()),
        });
    }
    let mut seed = 7u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let stacks: Vec<Vec<u32>> = (0..5000)
        .map(|_| {
            let depth = 10 + (next() % 30) as usize;
            (0..depth)
                .map(|_| (next() % trace.frames.len() as u64) as u32)
                .collect()
        })
        .collect();
    trace.samples = (0..samples)
        .map(|i| TraceSample {
            ts_ns: 500_000_000 + i as u64 * 5_000,
            pid: 1,
            tid: 1,
            stack: stacks[(next() % 5000) as usize].clone(),
            truncated: false,
        })
        .collect();
    trace
}

fn main() {
    let trace = synthetic_trace(1_000_000);
    let started = Instant::now();
    let mut profile = build_profile(&trace);
    let built = started.elapsed();
    let analysis = analyze(&mut profile, ScoreKind::Runtime);
    let analysed = started.elapsed();
    let mut terminal = Vec::new();
    Terminal { top: 15 }
        .write_to(&profile, &analysis, &mut terminal)
        .unwrap();
    let report = started.elapsed();
    let mut html = Vec::new();
    Format::Html
        .exporter(coldspy::flame::inferno_svg)
        .write(&profile, &analysis, &mut html)
        .unwrap();
    let with_html = started.elapsed();
    println!(
        "1,000,000 samples ({} CCT frames, {} imports): build {:.2} s, analyse {:.2} s, terminal report {:.2} s total, + HTML ({} kB) {:.2} s total",
        profile.cct.frames.len(),
        profile.imports.len(),
        built.as_secs_f64(),
        analysed.saturating_sub(built).as_secs_f64(),
        report.as_secs_f64(),
        html.len() / 1024,
        with_html.as_secs_f64()
    );
    // What `coldspy report profile.json` does: read the file, analyse, render.
    let json = serde_json::to_vec(&profile).unwrap();
    let started = Instant::now();
    let mut reread = coldspy::model::profile::Profile::from_json(&json).unwrap();
    let analysis = analyze(&mut reread, ScoreKind::Runtime);
    let mut out = Vec::new();
    Terminal { top: 15 }
        .write_to(&reread, &analysis, &mut out)
        .unwrap();
    let terminal_s = started.elapsed().as_secs_f64();
    let mut html = Vec::new();
    Format::Html
        .exporter(coldspy::flame::inferno_svg)
        .write(&reread, &analysis, &mut html)
        .unwrap();
    println!(
        "coldspy report of the 1,000,000-sample profile ({} kB JSON): read + analyse + terminal {:.3} s, + HTML {:.3} s (target < 2 s)",
        json.len() / 1024,
        terminal_s,
        started.elapsed().as_secs_f64()
    );
}
