//! `cargo xtask bench prebake`: vanilla starts, prebaked restores and
//! fork-server starts of the four functions under `examples/prebake/`,
//! interleaved (`coldspy bench --prebaked`), with the figures as JSON.
//!
//! `cargo xtask bench merge`: JSON ingest throughput per core and `coldspy
//! merge` over a fleet table of 10,000 starts (`benches/fleet_merge.rs`);
//! `cargo xtask bench fleet` adds the README's fleet-ranking SQL run once in
//! Spark (PySpark in local mode) on that table.
//!
//! `cargo xtask bench node`: what `record --all` costs a node (see
//! `bench_node`).
//!
//! `cargo xtask bench overhead`: how much coldspy slows a cold start, as
//! the ratio of profiled to plain starts of the bundled example, measured
//! side by side in one run (variants interleaved run by run).
//!
//! Each start is timed by the kernel from the interpreter's `exec` to its
//! exit (a bpftrace script on `sched_process_exec` / `sched_process_exit`),
//! so profiled and plain starts are measured the same way and coldspy's own
//! start-up (loading its programs before it releases the command) is not
//! counted against the target.

use crate::setup::{self, SetupArgs};
use crate::util::{cargo, repo_root};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use coldspy_core::stats::quantile;
/// The statistics of every bench are coldspy-core's (one implementation,
/// one CI method: the percentile bootstrap of `coldspy bench`).
pub(crate) use coldspy_core::stats::{median, median_ci};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `cargo xtask bench …`
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Subcommand)]
enum Which {
    /// Profiled vs plain cold starts of the bundled example.
    Overhead {
        /// Starts per variant.
        #[arg(long, default_value_t = 30)]
        runs: usize,
    },
    /// Time to render the report of a 1,000,000-sample profile.
    Report,
    /// JSON ingest throughput and `coldspy merge` over a 10,000-start fleet table.
    Merge,
    /// `bench merge`, then the README's fleet-ranking SQL once in Spark
    /// (PySpark, local mode) on the same table: its time and whether its
    /// ranking equals `coldspy merge`'s (installs Java and PySpark).
    Fleet,
    /// What `record --all` costs a node: Python starts, non-Python execs, a soak.
    Node(crate::bench_node::NodeArgs),
    /// Resident memory of a long `record --pid` on busy threads (flat after a minute).
    Memory(crate::bench_memory::MemoryArgs),
    /// Vanilla vs prebaked vs fork-server starts of the prebake examples.
    Prebake {
        /// Starts per variant and function.
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Drop the page cache before every start.
        #[arg(long)]
        drop_caches: bool,
    },
}

/// Runs a benchmark.
pub fn run(args: &BenchArgs) -> Result<()> {
    match &args.which {
        Which::Overhead { runs } => overhead(*runs),
        Which::Report => cargo(&["bench", "-p", "coldspy-user", "--bench", "report_1m"]),
        Which::Merge => cargo(&["bench", "-p", "coldspy-user", "--bench", "fleet_merge"]),
        Which::Fleet => {
            let python = setup::spark()?;
            crate::util::exec(
                Command::new(env!("CARGO"))
                    .args(["bench", "-p", "coldspy-user", "--bench", "fleet_merge"])
                    .env("COLDSPY_FLEET_SPARK", python)
                    .current_dir(repo_root()),
            )
        }
        Which::Prebake { runs, drop_caches } => prebake(*runs, *drop_caches),
        Which::Node(node) => crate::bench_node::run(node),
        Which::Memory(memory) => crate::bench_memory::run(memory),
    }
}

/// The prebake reference functions, in report order.
const PREBAKE_FUNCTIONS: [&str; 4] = [
    "noop.py",
    "markdown_render.py",
    "image_resize.py",
    "heavy.py",
];

fn prebake(runs: usize, drop_caches: bool) -> Result<()> {
    setup::run(&SetupArgs { core: false })?;
    let coldspy = crate::util::build_release("bench")?;
    let python = setup::venv_dir("pyenv-3.12").join("bin/python");
    let scratch =
        std::env::temp_dir().join(format!("coldspy-bench-prebake-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    for function in PREBAKE_FUNCTIONS {
        let handler = format!(
            "{}:handler",
            repo_root()
                .join("examples/prebake")
                .join(function)
                .display()
        );
        let stem = function.trim_end_matches(".py");
        let image = scratch.join(format!("{stem}.img"));
        crate::util::exec(
            Command::new(&coldspy)
                .args(["prebake", "--python"])
                .arg(&python)
                .args(["--handler", &handler, "-o"])
                .arg(&image),
        )?;
        let json = scratch.join(format!("{stem}.json"));
        let mut bench = Command::new(&coldspy);
        bench
            .args(["bench", "--prebaked"])
            .arg(&image)
            .args(["--runs", &runs.to_string(), "--export-json"])
            .arg(&json);
        if drop_caches {
            bench.arg("--drop-caches");
        }
        crate::util::exec(&mut bench)?;
    }
    println!("[bench] images and JSON in {}", scratch.display());
    Ok(())
}

/// One way of starting the example.
struct Variant {
    name: &'static str,
    /// coldspy record options, or `None` for a plain start.
    coldspy: Option<&'static [&'static str]>,
    /// Extra interpreter options (before the script).
    python_args: &'static [&'static str],
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "plain",
        coldspy: None,
        python_args: &[],
    },
    Variant {
        name: "coldspy 200 Hz",
        coldspy: Some(&["--rate", "200"]),
        python_args: &[],
    },
    Variant {
        name: "coldspy 1000 Hz",
        coldspy: Some(&["--rate", "1000"]),
        python_args: &[],
    },
    Variant {
        name: "coldspy 200 Hz, no imports",
        coldspy: Some(&["--rate", "200", "--no-imports"]),
        python_args: &[],
    },
    Variant {
        name: "python -X importtime",
        coldspy: None,
        python_args: &["-X", "importtime"],
    },
];

fn overhead(runs: usize) -> Result<()> {
    setup::run(&SetupArgs { core: true })?;
    let coldspy = crate::util::build_release("bench")?;
    let root = repo_root();
    let python = setup::venv_dir("pyenv-3.12").join("bin/python");
    let script = root.join("examples/handler.py");
    let scratch = std::env::temp_dir().join(format!("coldspy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let lifetimes = scratch.join("lifetimes.txt");
    let mut tracer = start_tracer(&lifetimes)?;

    let mut pids: Vec<Vec<u32>> = vec![Vec::new(); VARIANTS.len()];
    println!(
        "[bench] {runs} interleaved starts of each of {} variants",
        VARIANTS.len()
    );
    for round in 0..runs {
        for (i, variant) in VARIANTS.iter().enumerate() {
            let pid = start_once(variant, &coldspy, &python, &script, &scratch)?;
            pids[i].push(pid);
        }
        if (round + 1) % 10 == 0 {
            println!("[bench] {} / {runs} rounds", round + 1);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = tracer.kill();
    let _ = tracer.wait();
    let by_pid = read_lifetimes(&lifetimes)?;
    let _ = std::fs::remove_dir_all(&scratch);

    let mut samples: Vec<Vec<f64>> = Vec::new();
    for (variant, pids) in VARIANTS.iter().zip(&pids) {
        let ms: Vec<f64> = pids
            .iter()
            .filter_map(|p| by_pid.get(p))
            .map(|us| *us as f64 / 1000.0)
            .collect();
        if ms.len() < pids.len() / 2 {
            bail!(
                "the tracer saw only {} of {} starts of '{}'",
                ms.len(),
                pids.len(),
                variant.name
            );
        }
        samples.push(ms);
    }
    let base = median(&samples[0]);
    println!("\ncold start of examples/handler.py (pyenv 3.12 venv: boto3, markdown, tqdm), exec to exit:");
    println!(
        "{:<30} {:>4} {:>10} {:>19} {:>8} {:>24}",
        "variant", "n", "median ms", "IQR ms", "ratio", "paired ratio [95% CI]"
    );
    for (i, (variant, ms)) in VARIANTS.iter().zip(&samples).enumerate() {
        let (q1, q3) = (quantile(ms, 0.25), quantile(ms, 0.75));
        let m = median(ms);
        // Each start against the plain start of the same round (adjacent in
        // time): slow drifts of a shared machine cancel out.
        let lifetime = |variant: usize, round: usize| {
            by_pid
                .get(&pids[variant][round])
                .map(|us| *us as f64 / 1000.0)
        };
        let ratios: Vec<f64> = (0..runs)
            .filter_map(|round| Some(lifetime(i, round)? / lifetime(0, round)?))
            .collect();
        let (lo, hi) = median_ci(&ratios);
        println!(
            "{:<30} {:>4} {:>10.1} {:>8.1} – {:<8.1} {:>8.3} {:>8.3} [{lo:.3}, {hi:.3}]",
            variant.name,
            ms.len(),
            m,
            q1,
            q3,
            m / base,
            median(&ratios),
        );
    }
    println!(
        "ratio = median of the variant / median of plain; paired ratio = median over rounds of\n\
         variant / plain in the same round (95% CI: percentile bootstrap, 2,000 resamples); variants\n\
         interleaved run by run."
    );
    Ok(())
}

/// Starts the example once; returns the interpreter's pid.
fn start_once(
    variant: &Variant,
    coldspy: &Path,
    python: &Path,
    script: &Path,
    scratch: &Path,
) -> Result<u32> {
    match variant.coldspy {
        None => {
            let mut child = Command::new(python)
                .args(variant.python_args)
                .arg(script)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            let pid = child.id();
            let status = child.wait()?;
            if !status.success() {
                bail!("{} {} failed", python.display(), script.display());
            }
            Ok(pid)
        }
        Some(options) => {
            let out = scratch.join("profile.json");
            let status = Command::new(coldspy)
                .args(["record", "-q", "-o"])
                .arg(&out)
                .args(options)
                .arg("--")
                .arg(python)
                .args(variant.python_args)
                .arg(script)
                .stdout(Stdio::null())
                .status()?;
            if !status.success() {
                bail!("coldspy record failed ({status})");
            }
            let bytes = std::fs::read(&out)?;
            // The calling-context tree nests deeper than serde_json's default limit.
            let mut de = serde_json::Deserializer::from_slice(&bytes);
            de.disable_recursion_limit();
            let profile: serde_json::Value = serde::Deserialize::deserialize(&mut de)?;
            profile["meta"]["pid"]
                .as_u64()
                .map(|p| p as u32)
                .context("profile without meta.pid")
        }
    }
}

/// Starts bpftrace printing `pid lifetime_us` for every exec'd process that exits.
fn start_tracer(out: &Path) -> Result<std::process::Child> {
    let program = "tracepoint:sched:sched_process_exec { @start[pid] = nsecs; } \
        tracepoint:sched:sched_process_exit /@start[pid] && args->group_dead/ { \
        printf(\"%d %d\\n\", pid, (nsecs - @start[pid]) / 1000); delete(@start[pid]); }";
    let file = std::fs::File::create(out)?;
    let child = Command::new("bpftrace")
        .args(["-e", program])
        .stdout(file)
        .stderr(Stdio::null())
        .spawn()
        .context("starting bpftrace (cargo xtask setup installs it)")?;
    // bpftrace needs a moment to attach.
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let _ = Command::new("true").status();
        if std::fs::metadata(out).map(|m| m.len() > 0).unwrap_or(false) {
            return Ok(child);
        }
    }
    bail!("bpftrace did not start tracing within 10 s")
}

fn read_lifetimes(path: &PathBuf) -> Result<HashMap<u32, u64>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect())
}
