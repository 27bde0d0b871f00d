//! The symbolized event stream of one recording.
//!
//! `record` turns raw kernel events into a [`Trace`]; [`crate::model::build`]
//! turns a trace into a [`crate::model::profile::Profile`]. A trace is plain
//! serializable data, so a recorded one (`record --save-trace`) is a fixture
//! that rebuilds the same profile without a kernel.

use crate::model::profile::{Frame, Meta};
use serde::{Deserialize, Serialize};

/// The format of a trace whose samples are (also) aggregated.
pub const TRACE_FORMAT_AGGREGATED: u32 = 2;

/// Everything a recording saw, symbolized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Trace {
    /// The trace format: absent for format 1 (samples one by one only);
    /// [`TRACE_FORMAT_AGGREGATED`] when [`Trace::sample_table`] is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<u32>,
    /// Metadata (the recorder fills what it knows).
    pub meta: Meta,
    /// Kernel time (ns) of the target's start, or of the attach.
    pub start_ns: u64,
    /// Kernel time (ns) at which recording stopped.
    pub end_ns: u64,
    /// Interned frames; samples refer to them by index.
    pub frames: Vec<Frame>,
    /// CPU samples in time order, one entry each (format 1, and what
    /// `record --save-trace` keeps).
    pub samples: Vec<TraceSample>,
    /// CPU samples aggregated as they arrived (see
    /// [`crate::model::samples`]): each distinct stack once, one group per
    /// run of samples that no recorded event can tell apart. Absent from
    /// format-1 traces; a trace may carry both this and [`Trace::samples`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_table: Option<SampleTable>,
    /// File opens in time order.
    pub opens: Vec<TraceOpen>,
    /// Network connections started (IPv4/IPv6 `connect`), in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connects: Vec<TraceConnect>,
    /// Import starts and ends in time order.
    pub imports: Vec<TraceImportEdge>,
    /// Phase marks from coldspy's handler runner, in time order.
    #[serde(default)]
    pub phases: Vec<PhaseMark>,
    /// Frames whose code object could not be read.
    #[serde(default)]
    pub unsymbolized_frames: u64,
    /// Kernel-side read-failure counters by cause (`frame_read`,
    /// `code_object_read`, …): samples in which the cause happened.
    #[serde(default)]
    pub read_failures: std::collections::BTreeMap<String, u64>,
}

impl Trace {
    /// Every sample, raw or aggregated, as groups of identical samples
    /// (a raw sample is a group of one). Not in time order.
    pub fn sample_groups(&self) -> impl Iterator<Item = SampleView<'_>> {
        let raw = self.samples.iter().map(|s| SampleView {
            first_ns: s.ts_ns,
            pid: s.pid,
            tid: s.tid,
            stack: &s.stack,
            truncated: s.truncated,
            count: 1,
        });
        let table = self.sample_table.iter().flat_map(|t| {
            t.groups.iter().map(move |g| SampleView {
                first_ns: g.first_ns,
                pid: g.pid,
                tid: g.tid,
                stack: t
                    .stacks
                    .get(g.stack as usize)
                    .map_or(&[][..], Vec::as_slice),
                truncated: g.truncated,
                count: g.count,
            })
        });
        raw.chain(table)
    }

    /// How many samples the trace holds (raw and aggregated).
    pub fn sample_count(&self) -> u64 {
        self.samples.len() as u64
            + self
                .sample_table
                .as_ref()
                .map_or(0, |t| t.groups.iter().map(|g| g.count).sum())
    }

    /// Samples per process, by pid (ascending).
    pub fn samples_by_pid(&self) -> std::collections::BTreeMap<u32, u64> {
        let mut by_pid = std::collections::BTreeMap::new();
        for group in self.sample_groups() {
            *by_pid.entry(group.pid).or_default() += group.count;
        }
        by_pid
    }
}

/// Samples aggregated as they arrived: the stacks once each, and groups of
/// samples that the profile cannot tell apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SampleTable {
    /// Distinct stacks: indices into [`Trace::frames`], innermost first.
    pub stacks: Vec<Vec<u32>>,
    /// Groups of identical samples, by first sample time.
    pub groups: Vec<SampleGroup>,
    /// Event times (import edges, phase marks) that arrived after samples
    /// near them had already been grouped: each may have moved samples
    /// between phases or imports. 0 unless the recorder lagged by more
    /// than [`crate::model::samples::HORIZON_NS`].
    #[serde(default)]
    pub late_events: u64,
}

/// Samples of one thread with one stack between two consecutive events
/// (import edges, phase marks, the trace's start and end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleGroup {
    /// Kernel time (ns) of the group's earliest sample.
    pub first_ns: u64,
    /// Process.
    pub pid: u32,
    /// Thread.
    pub tid: u32,
    /// Index into [`SampleTable::stacks`].
    pub stack: u32,
    /// The stacks were cut at the maximum depth.
    #[serde(default)]
    pub truncated: bool,
    /// How many samples.
    pub count: u64,
}

/// A group of identical samples, raw or aggregated (see [`Trace::sample_groups`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleView<'a> {
    /// Kernel time (ns) of the earliest sample.
    pub first_ns: u64,
    /// Process.
    pub pid: u32,
    /// Thread.
    pub tid: u32,
    /// Indices into [`Trace::frames`], innermost first; empty for native samples.
    pub stack: &'a [u32],
    /// The stack was cut at the maximum depth.
    pub truncated: bool,
    /// How many samples.
    pub count: u64,
}

/// One CPU sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceSample {
    /// Kernel time (ns).
    pub ts_ns: u64,
    /// Process.
    pub pid: u32,
    /// Thread.
    pub tid: u32,
    /// Indices into [`Trace::frames`], innermost first; empty for a native sample.
    pub stack: Vec<u32>,
    /// The stack was cut at the maximum depth.
    #[serde(default)]
    pub truncated: bool,
}

/// One `connect` call on an IPv4 or IPv6 socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceConnect {
    /// Process.
    pub pid: u32,
    /// Thread.
    pub tid: u32,
    /// Kernel time (ns) of the call.
    pub ts_ns: u64,
    /// The address, `127.0.0.1:8080` or `[::1]:8080`.
    pub address: String,
    /// The Python stack that made it: indices into [`Trace::frames`], innermost first.
    pub stack: Vec<u32>,
}

/// One `openat` call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceOpen {
    /// Process.
    pub pid: u32,
    /// Thread.
    pub tid: u32,
    /// Kernel time (ns) at entry.
    pub enter_ns: u64,
    /// Kernel time (ns) at exit.
    pub exit_ns: u64,
    /// File descriptor, or `-errno`.
    pub ret: i64,
    /// The path.
    pub path: String,
}

/// Which edge of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportEdge {
    /// The import started.
    Start,
    /// The import ended (successfully or not).
    End,
    /// A module's top-level code started (`PyEval_EvalCode`): the body of
    /// an import already started, of an import no import edge shows
    /// (`importlib.import_module`, `exec_module`, lazy loaders), or, when
    /// `module` is `__main__`, the program's own top-level code. The
    /// import tree decides which ([`crate::model::import_tree`]).
    BodyStart,
    /// That top-level code ended.
    BodyEnd,
}

/// One edge of a module import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceImportEdge {
    /// Start or end.
    pub edge: ImportEdge,
    /// Process.
    pub pid: u32,
    /// Thread.
    pub tid: u32,
    /// Kernel time (ns).
    pub ts_ns: u64,
    /// Absolute module name (on both edges).
    pub module: String,
    /// The import raised (end edges only).
    #[serde(default)]
    pub failed: bool,
    /// The innermost Python frame at the start (index into [`Trace::frames`]);
    /// for a body start, the innermost caller outside importlib's machinery.
    #[serde(default)]
    pub site: Option<u32>,
    /// Body starts: the file whose code runs (`co_filename`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Body starts: the FaaS runtime whose loader is among the callers
    /// ([`crate::model::runtime::Runtime::name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader: Option<String>,
}

/// A phase boundary reported by coldspy's handler runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseMark {
    /// `runner_ready`, `init_end`, `invoke_start`, `invoke_end`, `exact_use`.
    pub name: String,
    /// Kernel time (ns), CLOCK_MONOTONIC like `bpf_ktime_get_ns`.
    pub ts_ns: u64,
    /// The rest of the mark's line: for `exact_use` (sent after each
    /// invocation), the space-separated modules whose code first ran in it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The thread of a handler call seen by the runtime watch
    /// (`invoke_start` / `invoke_end`); none for the runner's marks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<u32>,
}
