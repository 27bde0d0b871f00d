//! `coldspy report` and `coldspy diff`: read profiles, analyse, write a format.
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `coldspy report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The profile file.
    pub profile: PathBuf,
}

/// Arguments of `coldspy diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The profile before the change.
    pub before: PathBuf,
    /// The profile after the change.
    pub after: PathBuf,
}

/// Runs `coldspy report`.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let profile = crate::model::profile::Profile::read(&args.profile)?;
    println!("{} samples", profile.stats.samples);
    Ok(ExitCode::SUCCESS)
}

/// Runs `coldspy diff`.
pub fn run_diff(_args: DiffArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("diff is not implemented yet")
}
