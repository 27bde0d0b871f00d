//! The profile file: coldspy's versioned JSON schema (documented in the README).
//!
//! Field names are stable: fields may be added, never renamed. Readers accept
//! files with unknown extra fields and refuse other schemas or newer versions.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Value of [`Profile::schema`].
pub const SCHEMA: &str = "coldspy-profile";
/// Current [`Profile::schema_version`].
pub const SCHEMA_VERSION: u32 = 1;
/// The largest profile file [`Profile::read`] accepts (1 GiB), checked from
/// the file's size before anything is read: a recording of an hour at
/// 200 Hz is a few megabytes.
pub const MAX_PROFILE_BYTES: u64 = 1 << 30;
/// The deepest calling-context tree accepted, in frames below the root.
/// The recorder keeps at most 192 frames per stack; the rest is headroom.
/// Deeper trees are refused when read, so that no recursive walk of the
/// tree (writers, analysis, diff) can exhaust the stack.
pub const MAX_CCT_DEPTH: usize = 256;
/// JSON nesting allowed: two levels per CCT node (the node object and its
/// `children` array) plus the few levels around the tree.
const MAX_JSON_NESTING: usize = 2 * (MAX_CCT_DEPTH + 1) + 8;

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// What was profiled, where, how.
    pub meta: Meta,
    /// Global counts and phase times.
    pub stats: Stats,
    /// Every file the target opened, in time order.
    pub files: Vec<FileOpen>,
    /// The calling-context tree of all samples.
    pub cct: Cct,
    /// One row per imported module.
    pub modules: Vec<ModuleRecord>,
    /// The dynamic import tree, in the order imports started.
    pub imports: Vec<ImportRecord>,
    /// Findings verified by experiment (`record --verify`): each finding's
    /// module deferred against the unchanged function. Absent when none ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verifications: Vec<super::verification::Verification>,
    /// Each invocation the phases told apart (`meta.phase_rule` says how),
    /// in start order. Absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invocations: Vec<InvocationRecord>,
    /// Network connections the target started (IPv4/IPv6 `connect`), in
    /// time order. Absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connects: Vec<ConnectRecord>,
}

/// A network connection the target started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectRecord {
    /// Time of the `connect` call (µs since the start).
    pub ts_us: u64,
    /// Thread.
    pub tid: u32,
    /// The address, `127.0.0.1:8080` or `[::1]:443`.
    pub address: String,
    /// The program's own line closest to the call (the innermost
    /// first-party frame of its stack), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<ImportSite>,
    /// What that line called on the way (`botocore.client.BaseClient._make_api_call`),
    /// and the innermost frame (`socket.create_connection`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    /// The modules whose code was on the call's stack (their code ran then).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<String>,
    /// Made during init (before the first invocation, or the first
    /// run-time sample of a script).
    pub at_init: bool,
}

/// One invocation of the function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationRecord {
    /// Start, µs since the target started.
    pub start_us: u64,
    /// How long it ran, µs.
    pub duration_us: u64,
    /// The thread that ran it, when known (the runtime watch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<u32>,
}

/// What was profiled, where and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Meta {
    /// coldspy's version.
    pub coldspy_version: String,
    /// Host name.
    pub host: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// CPython version of the target, e.g. `3.12.1`.
    pub python_version: String,
    /// The interpreter binary (executable or libpython holding `_PyRuntime`).
    pub python_executable: String,
    /// The main target process.
    pub pid: u32,
    /// Every process the profile covers (the main one first).
    #[serde(default)]
    pub pids: Vec<u32>,
    /// Samples per interpreter process (the main one first), so that each
    /// process of a tree shows its own share.
    #[serde(default)]
    pub processes: Vec<ProcessSamples>,
    /// The command line of the target.
    pub command: Vec<String>,
    /// RFC 3339 time at which recording started.
    pub started_at: String,
    /// Length of the recording.
    pub duration_us: u64,
    /// Sampling frequency (per CPU, Hz).
    pub sample_hz: u32,
    /// Samples the kernel could not hand over (ring buffer full).
    pub lost_samples: u64,
    /// Other events (file opens, imports) lost the same way.
    #[serde(default)]
    pub lost_events: u64,
    /// How import start/end were observed (`usdt`, `uprobe-callmethod`, …), or `none`.
    #[serde(default)]
    pub import_route: String,
    /// How the phases were found: `runner` (coldspy's handler runner),
    /// `runtime:NAME` (a FaaS runtime coldspy recognized by its loader:
    /// `awslambdaric`, `functions-framework`, `openfaas`) or `script`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase_rule: String,
    /// `CLOCK_MONOTONIC` (ns) at the profile's time 0 (the target's start,
    /// or the attach): add `start_us` × 1000 to compare with a log stamped
    /// with `time.monotonic_ns()`. 0 in profiles made before it existed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clock_start_ns: u64,
    /// Where the interpreter layout came from (`table:3.12`, `debug-offsets`, …).
    #[serde(default)]
    pub layout_source: String,
    /// Labels of the process (`record --all`): `function`, `function_source`,
    /// `cgroup`, `cgroup_id`, `container`, `parent_pid`, `window`; empty
    /// (and left out) otherwise. `coldspy merge` groups on them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The samples of one interpreter process of the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProcessSamples {
    /// Its pid.
    pub pid: u32,
    /// Samples taken in it (with or without Python frames).
    pub samples: u64,
}

/// Global counts and phase times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Stats {
    /// Samples with at least one Python frame.
    pub samples: u64,
    /// Of `samples`, those taken while an import was running on the thread.
    pub import_samples: u64,
    /// Samples of target threads with no Python frame (native code without
    /// the GIL, interpreter start-up or shutdown).
    #[serde(default)]
    pub native_samples: u64,
    /// Samples whose stack was deeper than the recorded maximum.
    #[serde(default)]
    pub truncated_samples: u64,
    /// Frames whose code object could not be read (freed before symbolization).
    #[serde(default)]
    pub unsymbolized_frames: u64,
    /// Kernel-side read failures by cause: for each cause, the samples in
    /// which the eBPF stack walk met it at least once. Keys:
    /// `thread_state_read`, `frame_pointer_read`, `frame_read` (a frame's
    /// header), `code_object_read` (a code object's header),
    /// `not_a_code_object`, `stack_truncated`. Only causes that happened
    /// are present; absent (empty) in profiles without any.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub read_failures: std::collections::BTreeMap<String, u64>,
    /// Initialization phase length (see the README for the rule).
    pub init_us: u64,
    /// Execution phase length.
    pub exec_us: u64,
    /// Handler invocations (0 when the target is a plain script).
    pub exec_count: u64,
    /// Samples (with Python frames) taken in the init phase.
    #[serde(default)]
    pub init_samples: u64,
    /// Samples taken inside handler invocations (with the runner) or after
    /// init (a plain script).
    #[serde(default)]
    pub exec_samples: u64,
    /// Entries of `files`.
    pub file_count: u64,
}

/// One `openat` call of the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileOpen {
    /// The path as passed to `openat`.
    pub path: String,
    /// Thread that opened it.
    pub tid: u32,
    /// Start, µs since the target started (or since attach).
    pub ts_us: u64,
    /// Time spent in the syscall.
    pub duration_us: u64,
    /// Whether the open succeeded.
    pub ok: bool,
    /// `errno` of a failed open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// The module being imported on that thread at the time, if any.
    pub module: Option<String>,
}

/// A Python frame, shared by every CCT node that calls it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    /// The code object's own name (`co_name`: `method`, `<listcomp>`,
    /// `<module>`), the same on every CPython version.
    pub function: String,
    /// The qualified name (`co_qualname`: `Class.method`,
    /// `f.<locals>.<listcomp>`) on CPython 3.11+; 3.9 and 3.10 have none and
    /// repeat `function`. Empty (and not written) in profiles made before
    /// it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub qualname: String,
    /// Source file of the code object.
    pub file: String,
    /// Line being executed in this frame.
    pub line: u32,
    /// Dotted module the file belongs to, when known.
    pub module: Option<String>,
}

impl Frame {
    /// `module.name` (`json.load`), or the name alone when the module is unknown.
    pub fn dotted_name(&self) -> String {
        match &self.module {
            Some(m) => format!("{m}.{}", self.shown_name()),
            None => self.shown_name().to_string(),
        }
    }

    /// The name to show: the qualified name where known, else `function`.
    pub fn shown_name(&self) -> &str {
        if self.qualname.is_empty() {
            &self.function
        } else {
            &self.qualname
        }
    }
}

/// The calling-context tree of all samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Cct {
    /// Frames, referenced by index from the nodes.
    pub frames: Vec<Frame>,
    /// The root (no frame); its children are the outermost frames.
    pub root: CctNode,
}

/// A node of the calling-context tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CctNode {
    /// Index into [`Cct::frames`]; `null` for the root.
    pub frame: Option<usize>,
    /// Samples whose innermost frame is this node.
    #[serde(rename = "self")]
    pub self_samples: u64,
    /// Samples in this node's subtree, itself included.
    pub total: u64,
    /// Of `self`, samples taken during an import.
    #[serde(default)]
    pub import_self: u64,
    /// Of `total`, samples taken during an import.
    #[serde(default)]
    pub import_total: u64,
    /// Callees.
    pub children: Vec<CctNode>,
}

/// One row per imported module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModuleRecord {
    /// Absolute module name.
    pub name: String,
    /// Source or extension file, when known.
    pub file: Option<String>,
    /// The module whose import caused this one.
    pub parent: Option<String>,
    /// Import time minus the imports it triggered.
    pub self_us: u64,
    /// Import time from start to end.
    pub cumulative_us: u64,
    /// Non-import samples whose innermost frame is in this module's file.
    pub samples: u64,
    /// Samples taken while this module was the innermost import.
    pub import_samples: u64,
    /// Files opened while this module was the innermost import.
    pub files_opened: u64,
    /// Analysis: non-import samples in which any frame belongs to this module
    /// or its sub-modules (filled by `coldspy report` / at the end of record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cumulative_samples_by_dot: Option<u64>,
    /// Analysis: inefficiency score 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Analysis: `never_used`, `rarely_used`, `feature_redundancy`,
    /// `library_choice`, `unused_subpackage`, `import_time_io`, `import_time_compute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Analysis: one-line advice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    /// Exact use, from the handler runner's first-execution hook (active
    /// during invocations only): the first invocation (1-based) in which code
    /// of this module ran, `0` when none of its code ran in any invocation.
    /// Absent when the recording had no hook (a script, an old runner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_use: Option<u64>,
    /// With `--handler`: the handler module's own top-level code (outside
    /// function bodies) names this module — `X.f()` after `import X`, a
    /// decorator — so its code runs at init: never advised for removal.
    /// Read statically from the handler's source by the runner; left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init_use: bool,
    /// With `--handler`: the first function body of the handler module
    /// that names this module, `function:line` (`to_xlsx:26`): code that
    /// needs it exists, whether or not a recorded invocation ran it. Read
    /// statically by the runner after init; absent when none does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_use: Option<String>,
}

/// Where an import statement ran: the innermost Python frame at the import's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportSite {
    /// File of the importing code.
    pub file: String,
    /// Line of the import statement.
    pub line: u32,
    /// Function (or `<module>`) containing it.
    pub function: String,
    /// The statement as written, on one line (`from scipy import special,
    /// stats`), for the program's own files when the recording could read
    /// them; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
}

/// A file opened during an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportFile {
    /// Path opened.
    pub path: String,
    /// Time in `openat`.
    pub duration_us: u64,
    /// Whether it succeeded.
    pub ok: bool,
}

/// One module load, a node of the dynamic import tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ImportRecord {
    /// Absolute module name.
    pub module: String,
    /// The module being imported when this import started (None at top level).
    pub parent: Option<String>,
    /// Importing thread.
    pub tid: u32,
    /// Start, µs since the target started.
    pub start_us: u64,
    /// End, µs since the target started.
    pub end_us: u64,
    /// `cumulative_us` minus that of the imports it triggered directly.
    pub self_us: u64,
    /// `end_us - start_us`.
    pub cumulative_us: u64,
    /// Nesting depth on its thread (0 = triggered by non-import code).
    pub depth: u32,
    /// Files opened while this was the innermost import on its thread.
    pub files: Vec<ImportFile>,
    /// Where the import statement ran, when a stack was available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<ImportSite>,
    /// Whether the import finished with an exception (e.g. `ImportError` caught).
    #[serde(default)]
    pub failed: bool,
    /// Index in [`Profile::imports`] of the import this one was nested in
    /// (the record `parent` names); absent at depth 0 and in older profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_index: Option<usize>,
    /// How the import was seen, when not by the import statement's probe:
    /// `module_body` for an import that only its module's top-level code
    /// shows (`importlib.import_module`, a loader's `exec_module`, a lazy
    /// loader); its time starts when that code starts (finding and loading
    /// the code, ~0.1 ms, are not in it) and `python -X importtime` has no
    /// line for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The FaaS runtime whose loader imported this module (`awslambdaric`,
    /// `functions-framework`): the function's handler module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader: Option<String>,
}

/// [`ImportRecord::via`] of an import seen by its module body only.
pub const VIA_MODULE_BODY: &str = "module_body";

/// For `skip_serializing_if`.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Errors reading a profile file.
#[derive(Debug, thiserror::Error)]
pub enum ProfileReadError {
    /// The file could not be opened or read.
    #[error("cannot read profile {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid JSON of this schema.
    #[error("{path} is not a coldspy profile (corrupt or truncated JSON): {source}")]
    Corrupt {
        /// The file.
        path: String,
        /// The parser's message.
        source: serde_json::Error,
    },
    /// Larger than [`MAX_PROFILE_BYTES`]; refused before reading it.
    #[error("{path} is {bytes} bytes; profiles larger than {limit} bytes are refused")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size (at least this much, for a stream).
        bytes: u64,
        /// [`MAX_PROFILE_BYTES`].
        limit: u64,
    },
    /// Well-formed JSON, but not a consistent profile (a frame index out of
    /// range, a tree deeper than [`MAX_CCT_DEPTH`]).
    #[error("{path} is not a valid coldspy profile: {what}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, and where.
        what: String,
    },
    /// Another schema, or a newer version than this coldspy reads.
    #[error("{path} has schema {schema:?} version {version}; this coldspy reads {SCHEMA:?} up to version {SCHEMA_VERSION}")]
    Unsupported {
        /// The file.
        path: String,
        /// Its schema name.
        schema: String,
        /// Its version.
        version: u32,
    },
}

impl Profile {
    /// An empty profile with the current schema tag.
    pub fn empty() -> Self {
        Self {
            schema: SCHEMA.to_string(),
            schema_version: SCHEMA_VERSION,
            meta: Meta::default(),
            stats: Stats::default(),
            files: Vec::new(),
            cct: Cct::default(),
            modules: Vec::new(),
            imports: Vec::new(),
            verifications: Vec::new(),
            invocations: Vec::new(),
            connects: Vec::new(),
        }
    }

    /// Parses profile JSON. The calling-context tree nests two JSON levels
    /// per frame, past serde_json's default limit of 128, so nesting is
    /// first measured without recursion and refused past [`MAX_CCT_DEPTH`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let nesting = json_nesting(bytes);
        if nesting > MAX_JSON_NESTING {
            return Err(<serde_json::Error as serde::de::Error>::custom(format!(
                "JSON nested {nesting} levels deep: a calling-context tree deeper than {MAX_CCT_DEPTH} frames is refused"
            )));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        deserializer.disable_recursion_limit();
        let profile = <Self as serde::Deserialize>::deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(profile)
    }

    /// Checks what the schema cannot: every frame index names a frame, and
    /// the tree is at most [`MAX_CCT_DEPTH`] deep. Iterative, so any input
    /// is safe to check.
    pub fn validate(&self) -> Result<(), String> {
        let frames = self.cct.frames.len();
        if self.cct.root.frame.is_some() {
            return Err("the CCT root has a frame (it must be null)".into());
        }
        let mut stack: Vec<(&CctNode, usize)> = vec![(&self.cct.root, 0)];
        while let Some((node, depth)) = stack.pop() {
            if depth > MAX_CCT_DEPTH {
                return Err(format!(
                    "the calling-context tree is deeper than {MAX_CCT_DEPTH} frames"
                ));
            }
            if let Some(index) = node.frame {
                if index >= frames {
                    return Err(format!(
                        "a CCT node at depth {depth} names frame {index}, but there are {frames} frames"
                    ));
                }
            } else if depth > 0 {
                return Err(format!("a CCT node at depth {depth} has no frame"));
            }
            stack.extend(node.children.iter().map(|c| (c, depth + 1)));
        }
        Ok(())
    }

    /// Reads and validates a profile file: its size first (from metadata,
    /// at most [`MAX_PROFILE_BYTES`]), then the JSON, the schema and
    /// [`Profile::validate`].
    pub fn read(path: &Path) -> Result<Self, ProfileReadError> {
        use std::io::Read as _;
        let shown = path.display().to_string();
        let io = |source| ProfileReadError::Io {
            path: shown.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let too_large = |bytes| ProfileReadError::TooLarge {
            path: shown.clone(),
            bytes,
            limit: MAX_PROFILE_BYTES,
        };
        if size > MAX_PROFILE_BYTES {
            return Err(too_large(size));
        }
        // A FIFO or a growing file has no reliable size: read one byte past the limit at most.
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(MAX_PROFILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_PROFILE_BYTES {
            return Err(too_large(bytes.len() as u64));
        }
        let profile = Self::from_json(&bytes).map_err(|source| ProfileReadError::Corrupt {
            path: shown.clone(),
            source,
        })?;
        if profile.schema != SCHEMA || profile.schema_version > SCHEMA_VERSION {
            return Err(ProfileReadError::Unsupported {
                path: shown,
                schema: profile.schema,
                version: profile.schema_version,
            });
        }
        profile
            .validate()
            .map_err(|what| ProfileReadError::Invalid { path: shown, what })?;
        Ok(profile)
    }
}

/// The deepest nesting of arrays and objects in JSON text, strings skipped;
/// iterative, so any input is safe to measure.
fn json_nesting(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
