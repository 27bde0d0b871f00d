//! The symbolized event stream of one recording.
//!
//! `record` turns raw kernel events into a [`Trace`]; [`crate::model::build`]
//! turns a trace into a [`crate::model::profile::Profile`]. A trace is plain
//! serializable data, so a recorded one (`record --save-trace`) is a fixture
//! that rebuilds the same profile without a kernel.

use crate::model::profile::{Frame, Meta};
use serde::{Deserialize, Serialize};

/// Everything a recording saw, symbolized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Trace {
    /// Metadata (the recorder fills what it knows).
    pub meta: Meta,
    /// Kernel time (ns) of the target's start, or of the attach.
    pub start_ns: u64,
    /// Kernel time (ns) at which recording stopped.
    pub end_ns: u64,
    /// Interned frames; samples refer to them by index.
    pub frames: Vec<Frame>,
    /// CPU samples in time order.
    pub samples: Vec<TraceSample>,
    /// File opens in time order.
    pub opens: Vec<TraceOpen>,
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
    /// The innermost Python frame at the start (index into [`Trace::frames`]).
    #[serde(default)]
    pub site: Option<u32>,
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
}
