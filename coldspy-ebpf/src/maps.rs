//! The maps shared by the programs and read or written by userspace.

use aya_log_ebpf::debug;

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, PerCpuArray, RingBuf},
    EbpfContext,
};
use coldspy_common::{
    diag::{cause_name, FAIL_CAUSES},
    limits::{
        CONTROL_RING_BYTES, EVENT_RING_BYTES, MAX_INFLIGHT_OPENS, MAX_TARGETS, SAMPLE_RING_BYTES,
    },
    offsets::TargetConfig,
    system_wide::{ExeKey, SYSTEM_COUNTERS},
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

/// `submit` flags for records in the data rings (`SAMPLES`, `EVENTS`):
/// no wakeup. Userspace drains them on a timer and never waits on them, and
/// a wakeup is an `irq_work` self-interrupt on the target's CPU (a VM exit
/// on a virtual machine, ≈ 15 µs each on the 2-core VM of the README's
/// figures), taken for the first record after every drain. `CONTROL` keeps
/// its wakeups: userspace waits on it.
pub const DATA_RING_SUBMIT: u64 = aya_ebpf::bindings::BPF_RB_NO_WAKEUP as u64;

/// Index into [`LOST`]: samples dropped because `SAMPLES` was full.
pub const LOST_SAMPLES: u32 = 0;
/// Index into [`LOST`]: events dropped because `EVENTS` was full.
pub const LOST_EVENTS: u32 = 1;

/// Per-CPU counters of dropped records (see `LOST_*`).
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(2, 0);

/// Per-CPU read-failure counters, indexed by `coldspy_common::diag::FAIL_*`.
#[map]
pub static READ_FAILS: PerCpuArray<u64> = PerCpuArray::with_max_entries(FAIL_CAUSES, 0);

/// The causes [`count_read_failures`] is counting, on this CPU. Read back
/// from map memory at each cause: the verifier does not track map contents,
/// so each step is one state, where testing the bits of one register made a
/// state for every combination of the causes tested before.
#[map]
static CAUSES_BEING_COUNTED: PerCpuArray<u32> = PerCpuArray::with_max_entries(1, 0);

/// Counts each cause set in `causes` (bit `1 << FAIL_*`) and logs, at debug
/// level, the first occurrence of each cause on this CPU: one line per cause
/// and CPU at most, so a failing target cannot flood the log ring.
#[inline(always)]
pub fn count_read_failures<C: EbpfContext>(ctx: &C, tgid: u32, causes: u32) {
    if causes == 0 {
        return;
    }
    let Some(slot) = CAUSES_BEING_COUNTED.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: this CPU's slot; no other program of this CPU runs meanwhile.
    unsafe { *slot = causes };
    for cause in 0..FAIL_CAUSES {
        // SAFETY: as above. Read back at each step (see CAUSES_BEING_COUNTED).
        let causes = unsafe { core::ptr::read_volatile(slot) };
        if causes & (1 << cause) == 0 {
            continue;
        }
        let Some(counter) = READ_FAILS.get_ptr_mut(cause) else {
            continue;
        };
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        let first = unsafe {
            let first = *counter == 0;
            *counter += 1;
            first
        };
        if first {
            debug!(
                ctx,
                "pid {}: first {} failure on this CPU",
                tgid,
                cause_name(cause)
            );
        }
    }
}

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

/// The config of `tgid` if it is a target whose Python layout is set
/// (`TARGET_PYTHON_READY`): what every Python-reading probe starts with.
#[inline(always)]
pub fn python_target(tgid: u32) -> Option<&'static TargetConfig> {
    // SAFETY: a map value pointer, valid for this program run.
    let cfg = unsafe { &*current_target(tgid)? };
    (cfg.flags & coldspy_common::offsets::TARGET_PYTHON_READY != 0).then_some(cfg)
}

/// `record --all`: the daemon's verdict on each executable file seen
/// (`coldspy_common::system_wide::EXE_*`); absent = not seen yet.
/// Preallocated (see `IMPORT_STACKS` in [`crate::imports`]) with one entry:
/// `record` never fills it; `record --all` sizes it at load time
/// ([`coldspy_common::limits::MAX_EXE_VERDICTS`]).
#[map]
pub static EXE_VERDICTS: HashMap<ExeKey, u32> = HashMap::with_max_entries(1, 0);

/// `record --all` with `--cgroup`: the cgroup v2 ids whose subtrees are
/// recorded (value unused).
#[map]
pub static CGROUP_ALLOW: HashMap<u64, u8> = HashMap::with_max_entries(1024, 0);

/// `record --all`: the daemon's last heartbeat (`bpf_ktime_get_ns()` time).
#[map]
pub static HEARTBEAT: Array<u64> = Array::with_max_entries(1, 0);

/// `record --all`: processes a hook stopped (tgid → stop time), until the
/// daemon resumes them; its guardian resumes what is left if it dies.
#[map]
pub static HELD: HashMap<u32, u64> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// `record --all`: per-CPU counters (`coldspy_common::system_wide::COUNT_*`).
#[map]
pub static SYSTEM_COUNTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(SYSTEM_COUNTERS, 0);

/// Counts one `record --all` event.
#[inline(always)]
pub fn count_system(index: u32) {
    if let Some(counter) = SYSTEM_COUNTS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *counter += 1 };
    }
}
