//! Finding and running CRIU (4.1 or newer: 3.17 fails on this kernel's vDSO).

use anyhow::{bail, Context};
use std::path::PathBuf;
use std::process::Command;

/// The CRIU binary: `$COLDSPY_CRIU`, set-up's build, or `criu` on `PATH`.
pub fn find() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("COLDSPY_CRIU") {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        bail!(
            "CRIU not found at {} ($COLDSPY_CRIU); run `cargo xtask setup` to build CRIU 4.1",
            path.display()
        );
    }
    let built = PathBuf::from("/var/cache/coldspy/criu/criu");
    if built.is_file() {
        return Ok(built);
    }
    crate::sys::resolve("criu").map_err(|_| {
        anyhow::anyhow!(
            "CRIU not found (set-up builds it at {}); run `cargo xtask setup`",
            built.display()
        )
    })
}

/// `criu --version`'s version, checked to be at least 4.1.
pub fn version(criu: &PathBuf) -> anyhow::Result<String> {
    let out = Command::new(criu)
        .arg("--version")
        .output()
        .with_context(|| format!("running {}", criu.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let mut parts = version.split('.').filter_map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (4, 1) {
        bail!("CRIU {version} at {} is too old: 4.1 or newer is needed on this kernel; run `cargo xtask setup`", criu.display());
    }
    Ok(version)
}

/// `criu check`: fails with its last line when the kernel lacks something.
pub fn check(criu: &PathBuf) -> anyhow::Result<()> {
    let out = Command::new(criu).arg("check").output()?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        bail!("`criu check` fails on this host: {last}");
    }
    Ok(())
}

/// The first error in a CRIU log that explains a failure (not the
/// harmless rlimit complaint nor the final "FAILED" lines), with a hint for
/// the common one.
pub fn log_reason(log: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().find(|l| {
        l.starts_with("Error (")
            && !l.contains("RLIMIT_NOFILE")
            && !l.contains("FAILED")
            && !l.contains("failed with")
    })?;
    let reason = line.split_once("): ").map_or(line, |(_, r)| r).trim();
    Some(if reason.contains("Connected TCP socket") {
        format!("{reason} (the function holds a connection at snapshot time: open it on first use)")
    } else {
        reason.to_string()
    })
}
