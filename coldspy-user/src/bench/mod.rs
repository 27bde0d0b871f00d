//! `coldspy bench`: cold starts of a function, N times, with statistics.
use clap::Args;
use std::process::ExitCode;

/// Arguments of `coldspy bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {}

/// Runs `coldspy bench`.
pub fn run(_args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("bench is not implemented yet")
}
