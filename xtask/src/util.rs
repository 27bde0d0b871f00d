//! Small helpers: running commands with clear errors, paths, timing.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The repository root (the parent of `xtask/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Machine-wide cache for things set-up builds (venvs, the sid chroot);
/// `COLDSPY_CACHE` overrides it. Everything in it can be rebuilt by set-up.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("COLDSPY_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/coldspy"))
}

/// Runs a command, failing with its name if it fails.
pub fn exec(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Runs a command and returns its stdout, failing if it fails.
pub fn output(cmd: &mut Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Builds the release `coldspy` binary as a step; returns its path.
pub fn build_release(stage: &str) -> Result<PathBuf> {
    step(stage, "build coldspy (release)", || {
        cargo(&["build", "--release", "--quiet", "-p", "coldspy-user"])?;
        Ok(((), "ok".into()))
    })?;
    Ok(repo_root().join("target/release/coldspy"))
}

/// `cargo <args>` in the repository root.
pub fn cargo(args: &[&str]) -> Result<()> {
    exec(
        Command::new(env!("CARGO"))
            .args(args)
            .current_dir(repo_root()),
    )
}

/// Prints `[stage] what ... ` and, when the closure returns, `ok (detail) in T s`.
pub fn step<T>(stage: &str, what: &str, f: impl FnOnce() -> Result<(T, String)>) -> Result<T> {
    use std::io::Write;
    print!("[{stage}] {what} ... ");
    let _ = std::io::stdout().flush();
    let started = Instant::now();
    match f() {
        Ok((value, detail)) => {
            println!("{detail} ({:.1} s)", started.elapsed().as_secs_f64());
            Ok(value)
        }
        Err(err) => {
            println!("FAILED");
            Err(err.context(format!("{stage}: {what}")))
        }
    }
}
