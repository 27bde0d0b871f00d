//! The maps shared by the programs and read or written by userspace.

use aya_ebpf::{
    macros::map,
    maps::{HashMap, PerCpuArray, RingBuf},
};
use coldspy_common::{
    limits::{
        CONTROL_RING_BYTES, EVENT_RING_BYTES, MAX_INFLIGHT_OPENS, MAX_TARGETS, SAMPLE_RING_BYTES,
    },
    offsets::TargetConfig,
};

/// Profiled processes: tgid → interpreter layout and flags (written by userspace,
/// extended by the fork hook).
#[map]
pub static TARGETS: HashMap<u32, TargetConfig> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// CPU samples ([`coldspy_common::sample::SampleEvent`]).
#[map]
pub static SAMPLES: RingBuf = RingBuf::with_byte_size(SAMPLE_RING_BYTES, 0);

/// File opens and import edges, tagged by their first `u32`.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(EVENT_RING_BYTES, 0);

/// Lifecycle events. Its own ring so that userspace can wait on it alone:
/// a stopped target is resumed as soon as it is seen.
#[map]
pub static CONTROL: RingBuf = RingBuf::with_byte_size(CONTROL_RING_BYTES, 0);

/// Index into [`LOST`]: samples dropped because `SAMPLES` was full.
pub const LOST_SAMPLES: u32 = 0;
/// Index into [`LOST`]: events dropped because `EVENTS` was full.
pub const LOST_EVENTS: u32 = 1;

/// Per-CPU counters of dropped records (see `LOST_*`).
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(2, 0);

/// An `openat` in flight: entry time and the user pointer to its path.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct InflightOpen {
    pub enter_ns: u64,
    pub path_ptr: u64,
}

/// Thread id → its `openat` in flight.
#[map]
pub static INFLIGHT_OPENS: HashMap<u32, InflightOpen> =
    HashMap::with_max_entries(MAX_INFLIGHT_OPENS, 0);

/// Counts one dropped record.
#[inline(always)]
pub fn count_lost(index: u32) {
    if let Some(counter) = LOST.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *counter += 1 };
    }
}

/// The target entry of the current process, if it is profiled.
#[inline(always)]
pub fn current_target(tgid: u32) -> Option<*mut TargetConfig> {
    TARGETS.get_ptr_mut(tgid)
}
