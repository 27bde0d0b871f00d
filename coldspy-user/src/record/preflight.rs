//! Checks before loading anything: privileges and kernel features, each
//! failing with a sentence that says what to do.

use crate::error::SetupError;
use std::path::Path;

/// Capability bits in `CapEff`.
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn effective_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// Root, or CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE (or CAP_SYS_ADMIN).
pub(super) fn check_privileges() -> Result<(), SetupError> {
    let caps = effective_caps();
    let has = |cap: u32| caps & (1u64 << cap) != 0;
    let bpf_ok = has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON));
    if bpf_ok && has(CAP_SYS_PTRACE) {
        Ok(())
    } else {
        Err(SetupError::NoPrivileges)
    }
}

/// tracefs mounted (mounting it if we can).
pub(super) fn check_tracefs() -> Result<(), SetupError> {
    let events = Path::new(crate::loader::TRACEFS).join("events");
    if events.exists() {
        return Ok(());
    }
    let _ = std::process::Command::new("mount")
        .args(["-t", "tracefs", "nodev", crate::loader::TRACEFS])
        .status();
    if events.exists() {
        Ok(())
    } else {
        Err(SetupError::MissingKernelFeature {
            feature: format!("tracefs at {}", crate::loader::TRACEFS),
            hint: "mount it with `mount -t tracefs nodev /sys/kernel/tracing` (kernel needs CONFIG_FTRACE)"
                .into(),
        })
    }
}
