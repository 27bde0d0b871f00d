//! The page cache, for truly cold starts.

/// Drops the page cache (root only): the truly cold disk case.
pub fn drop_caches() -> std::io::Result<()> {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3")
}
