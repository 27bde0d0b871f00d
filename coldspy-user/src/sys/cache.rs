//! coldspy's machine cache directory (what `cargo xtask setup` builds, such
//! as CRIU) and the page cache, for truly cold starts.

use std::path::PathBuf;

/// Where set-up keeps what it builds for coldspy (CRIU 4.1, venvs, the
/// interpreters' `env.json`): `$COLDSPY_CACHE`, else `/var/cache/coldspy`.
pub fn dir() -> PathBuf {
    dir_from(std::env::var_os("COLDSPY_CACHE"))
}

fn dir_from(var: Option<std::ffi::OsString>) -> PathBuf {
    var.filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/var/cache/coldspy"), PathBuf::from)
}

/// Drops the page cache (root only): the truly cold disk case.
pub fn drop_caches() -> std::io::Result<()> {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_coldspy_cache_or_var_cache_coldspy() {
        assert_eq!(dir_from(None), PathBuf::from("/var/cache/coldspy"));
        assert_eq!(
            dir_from(Some("".into())),
            PathBuf::from("/var/cache/coldspy")
        );
        assert_eq!(dir_from(Some("/srv/c".into())), PathBuf::from("/srv/c"));
    }
}
