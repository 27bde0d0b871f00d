//! Command-line interface: the subcommands, the argument types that only the
//! command line needs (value enums mirroring domain types), and dispatch.

pub mod merge;
pub mod report;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// coldspy: find what makes a Python program start slowly.
///
/// Attaches to an unmodified CPython process with eBPF, samples its Python
/// stacks, times every module import, and ranks modules by how much start-up
/// time they cost against how much they are used.
#[derive(Debug, Parser)]
#[command(name = "coldspy", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More log output (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Profile a Python command or process and write a profile (needs root).
    Record(crate::record::RecordArgs),
    /// Show the ranked report of a profile file.
    Report(crate::cli::report::ReportArgs),
    /// Compare two profiles: what an optimisation changed.
    Diff(crate::cli::report::DiffArgs),
    /// Start a function cold N times and measure init / exec / end-to-end.
    Bench(crate::bench::BenchArgs),
    /// Snapshot an initialized function with CRIU, or restore it.
    Prebake(crate::prebake::PrebakeArgs),
    /// Show what coldspy finds about a Python process (version, layout, probes).
    Info(crate::info::InfoArgs),
    /// Merge many profiles (or a fleet table) into one aggregate per function, host, …
    Merge(crate::cli::merge::MergeArgs),
    /// Append profiles to the Parquet fleet table that DuckDB, Spark, … query.
    Export(crate::cli::merge::ExportArgs),
    /// Show the counters of the system-wide daemon (`record --all`).
    Status(crate::daemon::status::StatusArgs),
}

/// Sets up `env_logger` from `-v` (overridden by `RUST_LOG`).
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp(None)
        .init();
}

/// Runs a parsed command line; the exit code is the target's for `record --`.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Record(args) if args.system_wide.all => crate::daemon::run(args),
        Command::Record(args) => crate::record::run(args),
        Command::Report(args) => crate::cli::report::run(args),
        Command::Diff(args) => crate::cli::report::run_diff(args),
        Command::Bench(args) => match &args.prebaked {
            // `bench --prebaked` is prebake's comparison, reached from bench.
            Some(image) => {
                let options = crate::prebake::image::BenchOptions {
                    runs: args.runs as usize,
                    requests: 10,
                    drop_caches: args.drop_caches,
                    export_json: args.export_json.clone(),
                };
                crate::prebake::image::bench(image, &options)?;
                Ok(ExitCode::SUCCESS)
            }
            None => crate::bench::run(args),
        },
        Command::Prebake(args) => crate::prebake::run(args),
        Command::Info(args) => crate::info::run(args),
        Command::Merge(args) => crate::cli::merge::run(args),
        Command::Export(args) => crate::cli::merge::run_export(args),
        Command::Status(args) => crate::daemon::status::run(args),
    }
}
