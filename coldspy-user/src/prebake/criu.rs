//! Finding and running CRIU (4.1 or newer: 3.17 fails on this kernel's vDSO).

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The CRIU binary: `$COLDSPY_CRIU` (an explicit override), else the one
/// set-up builds in coldspy's cache (`$COLDSPY_CACHE/criu/criu`, by default
/// `/var/cache/coldspy/criu/criu`), else `criu` on `PATH`.
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
    find_in(&crate::sys::cache::dir(), || {
        crate::sys::resolve("criu").ok()
    })
}

/// CRIU in the cache directory `cache`, else what `on_path` finds; the
/// error names both places.
fn find_in(cache: &Path, on_path: impl FnOnce() -> Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let built = cache.join("criu/criu");
    if built.is_file() {
        return Ok(built);
    }
    on_path().ok_or_else(|| {
        anyhow::anyhow!(
            "CRIU not found: neither {} (set-up's build; $COLDSPY_CACHE moves it) nor `criu` on PATH; \
             run `cargo xtask setup`",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criu_is_found_in_the_cache_then_on_path_and_the_error_names_both() {
        let cache = std::env::temp_dir().join(format!("coldspy-criu-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        let on_path = PathBuf::from("/usr/sbin/criu");
        assert_eq!(find_in(&cache, || Some(on_path.clone())).unwrap(), on_path);
        let err = find_in(&cache, || None).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{}/criu/criu", cache.display()))
                && err.contains("`criu` on PATH")
                && err.contains("cargo xtask setup"),
            "{err}"
        );
        std::fs::create_dir_all(cache.join("criu")).unwrap();
        std::fs::write(cache.join("criu/criu"), "").unwrap();
        assert_eq!(
            find_in(&cache, || Some(on_path.clone())).unwrap(),
            cache.join("criu/criu"),
            "set-up's build comes before PATH"
        );
        std::fs::remove_dir_all(&cache).unwrap();
    }
}
