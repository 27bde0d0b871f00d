//! System-wide recording (`coldspy record --all`): the keys, verdicts and
//! counters the exec hook shares with the daemon.
//!
//! Every `exec` on the host passes the kernel's exec hook. It identifies
//! the new executable by [`ExeKey`] and looks up the daemon's verdict on it
//! in `EXE_VERDICTS`: a file known not to be a Python interpreter goes on
//! with no user-space round trip; an interpreter (or a file seen for the
//! first time) is held with SIGSTOP, recorded in `HELD`, and reported, so
//! the daemon can read its layout before any Python runs. The hook holds a
//! process only while the daemon's heartbeat is fresh
//! ([`HOLD_FRESH_NS`]), so a dead daemon never stops anything new.

/// A file's identity as the kernel sees it: `inode->i_sb->s_dev` (the
/// kernel's `dev_t` encoding) and `inode->i_ino` of the executable.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ExeKey {
    /// The device, in the kernel's internal encoding (`MAJOR << 20 | MINOR`).
    pub dev: u64,
    /// The inode number.
    pub ino: u64,
}

/// Verdict in `EXE_VERDICTS`: not a supported Python interpreter; never held.
pub const EXE_NOT_PYTHON: u32 = 1;
/// Verdict: an interpreter holding `_PyRuntime` itself; held at exec.
pub const EXE_STATIC_PYTHON: u32 = 2;
/// Verdict: an executable linking libpython whose entry uprobe is attached:
/// not held at exec, but made a target that the entry probe holds once the
/// dynamic loader has mapped libpython.
pub const EXE_SHARED_PYTHON: u32 = 3;

/// How long the daemon's heartbeat (`HEARTBEAT[0]`, a `bpf_ktime_get_ns()`
/// time written every [`HEARTBEAT_PERIOD_NS`]) stays fresh: past it, the
/// hooks hold nothing.
pub const HOLD_FRESH_NS: u64 = 2_000_000_000;
/// How often the daemon refreshes the heartbeat.
pub const HEARTBEAT_PERIOD_NS: u64 = 200_000_000;

/// Deepest cgroup level the `--cgroup` filter compares (root = 0).
pub const MAX_CGROUP_LEVELS: i32 = 32;

/// Index into `SYSTEM_COUNTERS`: execs seen on the host (coldspy's own excluded).
pub const COUNT_EXECS: u32 = 0;
/// Index: execs outside the `--cgroup` filter.
pub const COUNT_OUTSIDE_CGROUP: u32 = 1;
/// Index: execs of files known not to be Python.
pub const COUNT_NOT_PYTHON: u32 = 2;
/// Index: execs held (stopped at exec, or armed for the entry stop).
pub const COUNT_HELD: u32 = 3;
/// Index: execs not held because the heartbeat was stale or the event ring full.
pub const COUNT_UNHELD: u32 = 4;
/// Number of `SYSTEM_COUNTERS` slots.
pub const SYSTEM_COUNTERS: u32 = 5;

/// The name of a `SYSTEM_COUNTERS` slot (for the status output).
pub const fn counter_name(index: u32) -> &'static str {
    match index {
        COUNT_EXECS => "execs",
        COUNT_OUTSIDE_CGROUP => "outside_cgroup",
        COUNT_NOT_PYTHON => "not_python",
        COUNT_HELD => "held",
        COUNT_UNHELD => "unheld",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn key_is_two_words() {
        assert_eq!(size_of::<ExeKey>(), 16);
        assert_eq!(counter_name(COUNT_UNHELD), "unheld");
        assert_eq!(counter_name(SYSTEM_COUNTERS), "unknown");
    }
}
