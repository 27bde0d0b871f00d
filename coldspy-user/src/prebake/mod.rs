//! `coldspy prebake`: CRIU snapshots of an initialized function.
use clap::Args;
use std::process::ExitCode;

/// Arguments of `coldspy prebake`.
#[derive(Debug, Args)]
pub struct PrebakeArgs {}

/// Runs `coldspy prebake`.
pub fn run(_args: PrebakeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("prebake is not implemented yet")
}
