//! `coldspy info`: what coldspy finds about a Python process.
use clap::Args;
use std::process::ExitCode;

/// Arguments of `coldspy info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The process to inspect.
    #[arg(long)]
    pub pid: u32,
}

/// Runs `coldspy info`.
pub fn run(_args: InfoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("info is not implemented yet")
}
