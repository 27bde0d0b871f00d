//! `coldspy record`: start or attach to a Python process, collect, write a profile.
use clap::Args;
use std::process::ExitCode;

/// Arguments of `coldspy record`.
#[derive(Debug, Args)]
pub struct RecordArgs {}

/// Runs `coldspy record`.
pub fn run(_args: RecordArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("record is not implemented yet")
}
