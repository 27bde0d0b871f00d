//! The fleet benchmark (`cargo xtask bench merge`): from the recorded
//! fixture (`tests/fixtures/handler.trace.json`, a real boto3/markdown
//! handler start), varied in function, host, day and timings:
//!
//! 1. JSON ingest throughput per core: profiles parsed into starts
//!    (`start_from_json`, what `coldspy merge` does per file), MB/s on one
//!    thread;
//! 2. a fleet table of 10,000 starts (`coldspy export`'s writer), then the
//!    release `coldspy merge` over it pinned to one core (`taskset -c 0`):
//!    wall time and peak RSS (the child's `ru_maxrss`).
//!
//! Prints the figures; `COLDSPY_FLEET_STARTS` changes the table's size.

// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy::fleet::table::TableWriter;
use coldspy::fleet_core::{start_from_json, StartRecord};
use coldspy::model::build::build_profile;
use coldspy::model::trace::Trace;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const FUNCTIONS: [&str; 8] = [
    "resize",
    "thumbnail",
    "ingest",
    "render",
    "notify",
    "billing",
    "search",
    "export",
];

/// The fixture's profile as JSON, with `labels` and host/day/timings of start `i`.
fn profile_json(base: &serde_json::Value, i: usize) -> Vec<u8> {
    let mut p = base.clone();
    let scale = 0.5 + ((i * 37) % 16) as f64 / 10.0;
    p["meta"]["labels"] = serde_json::json!({"function": FUNCTIONS[i % FUNCTIONS.len()]});
    p["meta"]["host"] = serde_json::json!(format!("host-{}", i % 50));
    for r in p["imports"].as_array_mut().unwrap() {
        for key in ["self_us", "cumulative_us"] {
            let v = r[key].as_u64().unwrap_or(0) as f64 * scale;
            r[key] = serde_json::json!(v.round() as u64);
        }
    }
    serde_json::to_vec(&p).unwrap()
}

/// Start `i` of the table: the base start varied the same way.
fn vary(base: &StartRecord, i: usize) -> StartRecord {
    let scale = 0.5 + ((i * 37) % 16) as f64 / 10.0;
    let s = |v: u64| (v as f64 * scale).round() as u64;
    let mut start = base.clone();
    start.function = FUNCTIONS[i % FUNCTIONS.len()].to_string();
    start.host = format!("host-{}", i % 50);
    start.started_at = format!(
        "2026-11-{}T{:02}:{:02}:00Z",
        20 + i % 7,
        i / 60 % 24,
        i % 60
    );
    start.init_us = s(start.init_us);
    start.exec_us = s(start.exec_us);
    start.e2e_us = s(start.e2e_us);
    for r in &mut start.imports {
        r.self_us = s(r.self_us);
        r.cumulative_us = s(r.cumulative_us);
    }
    if i % 3 == 0 {
        for u in &mut start.usage {
            u.runtime_samples = 0;
        }
    }
    start
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let trace: Trace = serde_json::from_slice(
        &std::fs::read(root.join("tests/fixtures/handler.trace.json")).unwrap(),
    )
    .unwrap();
    let base = serde_json::to_value(build_profile(&trace)).unwrap();

    // 1. JSON ingest, one thread.
    let files: Vec<Vec<u8>> = (0..64).map(|i| profile_json(&base, i)).collect();
    let bytes: usize = files.iter().map(Vec::len).sum();
    let mut starts = Vec::new();
    let t = Instant::now();
    let rounds = 3;
    for _ in 0..rounds {
        for f in &files {
            starts.push(start_from_json(f).expect("a valid profile").imports.len());
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let mb = (bytes * rounds) as f64 / 1e6;
    println!(
        "JSON ingest: {} profiles of {:.2} MB, {:.0} MB in {:.2} s on one thread = {:.0} MB/s per core",
        files.len() * rounds,
        bytes as f64 / files.len() as f64 / 1e6,
        mb,
        secs,
        mb / secs
    );

    // 2. The table of N starts, and `coldspy merge` over it on one core.
    let n: usize = std::env::var("COLDSPY_FLEET_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let base_start = start_from_json(&files[0]).unwrap();
    let dir = std::env::temp_dir().join(format!("coldspy-bench-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let table = dir.join("fleet");
    let t = Instant::now();
    let mut writer = TableWriter::new(&table).unwrap();
    for i in 0..n {
        writer.add(&vary(&base_start, i)).unwrap();
    }
    let (written, parts) = writer.finish().unwrap();
    let size: u64 = parts
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    println!(
        "fleet table: {written} starts ({} import rows) in {} files, {:.1} MB, written in {:.2} s",
        written as usize * base_start.imports.len(),
        parts.len(),
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let out = dir.join("merged.json");
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let status = Command::new("taskset")
            .args(["-c", "0"])
            .arg(env!("CARGO_BIN_EXE_coldspy"))
            .arg("merge")
            .arg(&table)
            .arg("-o")
            .arg(&out)
            .status()
            .expect("run taskset + coldspy");
        assert!(status.success());
        best = best.min(t.elapsed().as_secs_f64());
    }
    // SAFETY: getrusage writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let merged: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    println!(
        "coldspy merge over the table: {} starts in {} groups, best of 3: {best:.2} s on one core (goal < 2 s), peak RSS {:.0} MB",
        merged["starts"],
        merged["groups"].as_array().map_or(0, Vec::len),
        usage.ru_maxrss as f64 / 1024.0
    );
    drop(starts);
    std::fs::remove_dir_all(&dir).unwrap();
}
