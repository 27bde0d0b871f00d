//! `cargo xtask`: set-up, build, test, demo and benchmark automation for coldspy.
// A binary crate: nothing is reachable from outside, so `pub` inside it
// only says "used by sibling modules"; the lint is for the library crates.
#![allow(unreachable_pub)]
mod bench;
mod bench_criu_floor;
mod bench_memory;
mod bench_node;
mod bench_overhead;
mod bench_release;
mod criu;
mod demo;
mod setup;
mod test;
mod util;

use clap::{Parser, Subcommand};

/// coldspy's project automation.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install everything the project needs on a fresh Debian host (idempotent).
    Setup(setup::SetupArgs),
    /// Set up, then run fmt, clippy, unit and end-to-end tests.
    Test(test::TestArgs),
    /// Set up, build, and profile the bundled example function.
    Demo,
    /// Benchmarks: `overhead` (profiled vs plain cold starts), `report`.
    Bench(bench::BenchArgs),
    /// Build the release binary.
    Build,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup(args) => setup::run(&args).map(|_| ()),
        Command::Test(args) => test::run(&args),
        Command::Demo => demo::run(),
        Command::Bench(args) => bench::run(&args),
        Command::Build => util::cargo(&["build", "--release", "-p", "coldspy-user"]),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
