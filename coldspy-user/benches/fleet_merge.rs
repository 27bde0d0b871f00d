//! The fleet benchmark (`cargo xtask bench merge`): from the recorded
//! fixture (`tests/fixtures/handler.trace.json`, a real boto3/markdown
//! handler start), varied in function, host, day and timings:
//!
//! 1. JSON ingest throughput per core: profiles parsed into starts
//!    (`start_from_json`, what `coldspy merge` does per file), MB/s on one
//!    thread,
//!    and the release `coldspy merge` over directories of 100 and 400 JSON
//!    profiles (`COLDSPY_FLEET_JSON=100,400`): its peak RSS must not grow
//!    with the count;
//! 2. fleet tables of 2,500 and 10,000 starts (`coldspy export`'s writer),
//!    then the release `coldspy merge` over each pinned to one core
//!    (`taskset -c 0`): best wall time of 3 and peak RSS (the child's own
//!    `ru_maxrss`, from `wait4`). `COLDSPY_FLEET_STARTS` changes the size;
//!    `COLDSPY_MERGE_BASELINE=<an older coldspy binary>` runs it too on the
//!    same tables (before/after on one run of the machine) and checks that
//!    both merged the same groups; `COLDSPY_FLEET_KEEP=1` keeps the tables.

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

/// Set in the environment of this benchmark re-run as a launcher.
const LAUNCHER: &str = "COLDSPY_BENCH_LAUNCHER";

/// The launcher: runs its arguments as a command and prints the command's
/// peak RSS in kB (its `ru_maxrss` from `wait4`). A child started by a
/// process inherits that process's peak RSS into its own `ru_maxrss` (the
/// kernel records the old address space's high-water mark at `exec`, and
/// `posix_spawn` shares the parent's), so the benchmark, which holds the
/// generated fleet, must not start `coldspy` itself: this small process
/// does, and only its own few MB can leak into the figure.
fn launch() -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let child = Command::new(&args[0])
        .args(&args[1..])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run the command");
    let mut status = 0;
    // SAFETY: wait4 writes the status and the usage we pass, for our child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let ok = pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    println!("{}", usage.ru_maxrss);
    std::process::exit(if ok { 0 } else { 1 })
}

/// Wall time and peak RSS (MB) of one `coldspy merge INPUTS -o OUT` pinned
/// to one core (`taskset -c 0`), started by the launcher.
fn merge_once(coldspy: &Path, inputs: &[&Path], out: &Path) -> (f64, f64) {
    let t = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .env(LAUNCHER, "1")
        .args(["taskset", "-c", "0"])
        .arg(coldspy)
        .arg("merge")
        .args(inputs)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run the launcher");
    let secs = t.elapsed().as_secs_f64();
    assert!(output.status.success(), "coldspy merge failed");
    let kb: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    (secs, kb / 1024.0)
}

/// Best wall time of three merges and the largest peak RSS seen.
fn merge_best_of_3(coldspy: &Path, inputs: &[&Path], out: &Path) -> (f64, f64) {
    (0..3)
        .map(|_| merge_once(coldspy, inputs, out))
        .fold((f64::INFINITY, 0.0), |(t, m), (t1, m1)| {
            (t.min(t1), m.max(m1))
        })
}

fn groups(out: &Path) -> serde_json::Value {
    let merged: serde_json::Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    merged["groups"].clone()
}

/// JSON ingest, one thread, in-process; returns the profiles generated.
fn json_ingest(base: &serde_json::Value) -> Vec<Vec<u8>> {
    let files: Vec<Vec<u8>> = (0..64).map(|i| profile_json(base, i)).collect();
    let bytes: usize = files.iter().map(Vec::len).sum();
    let mut imports = 0;
    let t = Instant::now();
    let rounds = 3;
    for _ in 0..rounds {
        for f in &files {
            imports += start_from_json(f).expect("a valid profile").imports.len();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let mb = (bytes * rounds) as f64 / 1e6;
    println!(
        "JSON ingest: {} profiles of {:.2} MB ({imports} import rows), {:.0} MB in {:.2} s on one thread = {:.0} MB/s per core",
        files.len() * rounds,
        bytes as f64 / files.len() as f64 / 1e6,
        mb,
        secs,
        mb / secs
    );
    files
}

/// `coldspy merge` over directories of `counts` JSON profiles: the peak RSS
/// must not grow with the count (one profile in memory at a time).
fn json_merge(base: &serde_json::Value, dir: &Path, counts: &[usize]) {
    for &count in counts {
        let profiles = dir.join(format!("json-{count}"));
        std::fs::create_dir_all(&profiles).unwrap();
        let mut bytes = 0;
        for i in 0..count {
            let json = profile_json(base, i);
            bytes += json.len();
            std::fs::write(profiles.join(format!("{i:05}.json")), json).unwrap();
        }
        let out = dir.join("merged-json.json");
        let (secs, rss) =
            merge_best_of_3(Path::new(env!("CARGO_BIN_EXE_coldspy")), &[&profiles], &out);
        println!(
            "coldspy merge over {count} JSON profiles ({:.0} MB): best of 3 {secs:.2} s on one core = {:.0} MB/s, peak RSS {rss:.0} MB",
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs
        );
        std::fs::remove_dir_all(&profiles).unwrap();
    }
}

/// A fleet table of `n` starts varied off `base`; returns (files, MB, import rows).
fn write_table(base: &StartRecord, table: &Path, n: usize) -> (usize, f64, usize) {
    let mut writer = TableWriter::new(table).unwrap();
    for i in 0..n {
        writer.add(&vary(base, i)).unwrap();
    }
    let (_, parts) = writer.finish().unwrap();
    let size: u64 = parts
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    (parts.len(), size as f64 / 1e6, n * base.imports.len())
}

fn main() {
    if std::env::var_os(LAUNCHER).is_some() {
        launch();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let trace: Trace = serde_json::from_slice(
        &std::fs::read(root.join("tests/fixtures/handler.trace.json")).unwrap(),
    )
    .unwrap();
    let base = serde_json::to_value(build_profile(&trace)).unwrap();
    let dir = std::env::temp_dir().join(format!("coldspy-bench-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // 1. JSON: ingest in-process, then `coldspy merge` over directories.
    let files = json_ingest(&base);
    let counts: Vec<usize> = std::env::var("COLDSPY_FLEET_JSON")
        .unwrap_or_else(|_| "100,400".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    json_merge(&base, &dir, &counts);

    // 2. Tables of N/4 and N starts, and `coldspy merge` over each on one
    // core (the growth of the peak RSS from one to the other is the cost
    // per start); with COLDSPY_MERGE_BASELINE=<an older coldspy> that one
    // too, on the same tables, and its merged groups must be the same.
    let n: usize = std::env::var("COLDSPY_FLEET_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let baseline = std::env::var_os("COLDSPY_MERGE_BASELINE").map(std::path::PathBuf::from);
    let base_start = start_from_json(&files[0]).unwrap();
    let ours = Path::new(env!("CARGO_BIN_EXE_coldspy"));
    for starts in [n / 4, n] {
        let table = dir.join(format!("fleet-{starts}"));
        let t = Instant::now();
        let (parts, mb, rows) = write_table(&base_start, &table, starts);
        println!(
            "fleet table: {starts} starts ({rows} import rows) in {parts} files, {mb:.1} MB, written in {:.2} s",
            t.elapsed().as_secs_f64()
        );
        let out = dir.join("merged.json");
        let (secs, rss) = merge_best_of_3(ours, &[&table], &out);
        println!(
            "coldspy merge over the table: {starts} starts, best of 3: {secs:.2} s on one core (goal < 2 s at 10,000), peak RSS {rss:.0} MB"
        );
        if let Some(old) = &baseline {
            let old_out = dir.join("merged-baseline.json");
            let (secs, rss) = merge_best_of_3(old, &[&table], &old_out);
            let same = groups(&out) == groups(&old_out);
            println!(
                "  baseline {}: best of 3: {secs:.2} s, peak RSS {rss:.0} MB; merged groups {}",
                old.display(),
                if same { "identical" } else { "DIFFER" }
            );
            assert!(same, "the merged groups differ from the baseline's");
        }
    }
    if let Some(python) = std::env::var_os("COLDSPY_FLEET_SPARK") {
        let table = dir.join(format!("fleet-{n}"));
        spark(Path::new(&python), &table, &dir.join("merged.json"));
    }
    if std::env::var_os("COLDSPY_FLEET_KEEP").is_some() {
        println!("tables kept in {}", dir.display());
    } else {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Runs the README's SQL in PySpark (local mode, one worker thread) on a
/// table; prints as JSON the session's start-up time, the query's time and
/// the rows.
const SPARK_SCRIPT: &str = r#"
import json, sys, time
t0 = time.time()
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").appName("coldspy-fleet")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "8")
         .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
         .getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
t1 = time.time()
table, sql = sys.argv[1], sys.stdin.read()
for name in ("imports", "usage"):
    spark.read.parquet(f"{table}/{name}").createOrReplaceTempView(name)
rows = spark.sql(sql).collect()
t2 = time.time()
print(json.dumps({"startup_s": t1 - t0, "query_s": t2 - t1,
                  "rows": [[r[0], r[1], int(r[2]), int(r[3]), float(r[4]), int(r[5])] for r in rows]}))
"#;

/// The README's fleet-ranking SQL with DuckDB's `read_parquet(…)` sources
/// replaced by the views the Spark script registers.
fn readme_sql_for_spark() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let after = readme
        .split_once("<!-- fleet-ranking-sql -->")
        .expect("the README marks the SQL")
        .1;
    let sql = after
        .split_once("```sql\n")
        .unwrap()
        .1
        .split_once("```")
        .unwrap()
        .0;
    let mut out = sql.to_string();
    for table in ["imports", "usage"] {
        let source =
            format!("read_parquet('fleet/{table}/**/*.parquet', hive_partitioning = true)");
        assert!(out.contains(&source), "the README's SQL reads {source}");
        out = out.replace(&source, table);
    }
    out
}

/// coldspy's ranking in the SQL's order: (function, package, starts, total, median, used).
fn our_ranking(merged: &Path) -> Vec<coldspy_tests::RankingRow> {
    coldspy_tests::merged_ranking(&groups(merged))
}

/// The README's SQL once in Spark on `table`, pinned to one core like the
/// merge: its time and whether its ranking equals coldspy merge's.
fn spark(python: &Path, table: &Path, merged: &Path) {
    use std::io::Write;
    let t = Instant::now();
    let mut child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(python)
        .args(["-c", SPARK_SCRIPT])
        .arg(table)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run pyspark");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(readme_sql_for_spark().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let wall = t.elapsed().as_secs_f64();
    if !out.status.success() {
        println!(
            "Spark: failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ")
        );
        return;
    }
    let answer: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the script prints JSON");
    let theirs: Vec<(String, String, u64, u64, f64, u64)> =
        serde_json::from_value(answer["rows"].clone()).unwrap();
    let ours = our_ranking(merged);
    let same = ours.len() == theirs.len()
        && ours.iter().zip(&theirs).all(|(o, s)| {
            (&o.0, &o.1, o.2, o.3, o.5) == (&s.0, &s.1, s.2, s.3, s.5) && (o.4 - s.4).abs() < 1e-6
        });
    println!(
        "Spark (PySpark local[1], one core) ran the README's SQL on the table: {} rows, ranking {} coldspy merge's; \
         query {:.2} s after a {:.1} s session start-up ({wall:.1} s in all)",
        theirs.len(),
        if same { "equal to" } else { "DIFFERENT from" },
        answer["query_s"].as_f64().unwrap_or(f64::NAN),
        answer["startup_s"].as_f64().unwrap_or(f64::NAN),
    );
}
