//! `cargo xtask test`: the whole suite, as CI runs it: set-up, then format,
//! lints (host crates and the eBPF crate for its own target), unit tests and
//! the end-to-end tests against the real kernel (as root).

use crate::setup::{self, SetupArgs};
use crate::util::{exec, repo_root, step};
use anyhow::{bail, Result};
use clap::Args;
use std::process::Command;
use std::time::Instant;

/// Options of `cargo xtask test`.
#[derive(Args)]
pub struct TestArgs {
    /// Skip the set-up step (when it just ran).
    #[arg(long)]
    pub no_setup: bool,
    /// Extra arguments passed to `cargo test` (e.g. a test name filter).
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

fn cargo() -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(repo_root());
    cmd
}

/// Runs the suite; fails on the first failing stage.
pub fn run(args: &TestArgs) -> Result<()> {
    let started = Instant::now();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the end-to-end tests load eBPF programs: run `cargo xtask test` as root");
    }
    if !args.no_setup {
        setup::run(&SetupArgs::default())?;
    }
    step("test", "cargo fmt --check", || {
        exec(cargo().args(["fmt", "--all", "--", "--check"]))?;
        Ok(((), "ok".into()))
    })?;
    step("test", "clippy (default members, -D warnings)", || {
        exec(cargo().args(["clippy", "--all-targets", "--", "-D", "warnings"]))?;
        Ok(((), "ok".into()))
    })?;
    step("test", "clippy (eBPF crate, bpfel-unknown-none)", || {
        exec(
            Command::new("cargo")
                .current_dir(repo_root().join("coldspy-ebpf"))
                .args([
                    "+nightly",
                    "clippy",
                    "--target",
                    "bpfel-unknown-none",
                    "-Z",
                    "build-std=core",
                ])
                .args(["--bins", "--", "-D", "warnings"]),
        )?;
        Ok(((), "ok".into()))
    })?;
    println!(
        "[test] cargo test (unit and end-to-end tests; the default members exclude the eBPF crate)"
    );
    let test_started = Instant::now();
    exec(cargo().arg("test").args(&args.cargo_args))?;
    println!(
        "[test] all stages passed: tests {:.0} s, total {:.0} s",
        test_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
