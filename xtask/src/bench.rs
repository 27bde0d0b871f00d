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
//! `cargo xtask bench overhead`: how much coldspy slows a cold start,
//! beside py-spy (see `bench_overhead`).

use crate::setup::{self, SetupArgs};
use crate::util::{cargo, repo_root};
use anyhow::Result;
use clap::{Args, Subcommand};
/// The statistics of every bench are coldspy-core's (one implementation,
/// one CI method: the percentile bootstrap of `coldspy bench`).
pub(crate) use coldspy_core::stats::{median, median_ci};
use std::process::Command;

/// `cargo xtask bench …`
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Subcommand)]
enum Which {
    /// Profiled (coldspy, py-spy, -X importtime) vs plain cold starts of a
    /// self-timed target; `COLDSPY_BENCH_BASELINE=BINARY` adds another
    /// coldspy build beside this one.
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
    /// Time from `coldspy record` invoked to its command running (median of 20).
    Release(crate::bench_release::ReleaseArgs),
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
        Which::Overhead { runs } => crate::bench_overhead::run(*runs),
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
        Which::Release(release) => crate::bench_release::run(release),
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
    crate::bench_criu_floor::run(&crate::criu::criu_binary(), &scratch, runs)?;
    println!("[bench] images and JSON in {}", scratch.display());
    Ok(())
}
