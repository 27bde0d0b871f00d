//! pprof (`profile.proto`, gzipped), for `go tool pprof`, Pyroscope, Parca.
//! The few messages needed are declared here with prost (no protoc). Samples
//! carry labels (function, host, cgroup, phase); [`PprofBuilder`] merges
//! many profiles into one file.

use super::Exporter;
use crate::analysis::Analysis;
use crate::model::profile::{CctNode, Frame, Profile};
use prost::Message;
use std::collections::HashMap;
use std::io::Write;

/// pprof writer.
pub struct Pprof;

#[derive(Clone, PartialEq, Message)]
struct PbProfile {
    #[prost(message, repeated, tag = "1")]
    sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    string_table: Vec<String>,
    #[prost(int64, tag = "10")]
    duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    period: i64,
}

#[derive(Clone, PartialEq, Message)]
struct ValueType {
    #[prost(int64, tag = "1")]
    r#type: i64,
    #[prost(int64, tag = "2")]
    unit: i64,
}

#[derive(Clone, PartialEq, Message)]
struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    label: Vec<Label>,
}

#[derive(Clone, PartialEq, Message)]
struct Label {
    #[prost(int64, tag = "1")]
    key: i64,
    #[prost(int64, tag = "2")]
    str: i64,
}

#[derive(Clone, PartialEq, Message)]
struct Location {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(message, repeated, tag = "4")]
    line: Vec<Line>,
}

#[derive(Clone, PartialEq, Message)]
struct Line {
    #[prost(uint64, tag = "1")]
    function_id: u64,
    #[prost(int64, tag = "2")]
    line: i64,
}

#[derive(Clone, PartialEq, Message)]
struct Function {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(int64, tag = "2")]
    name: i64,
    #[prost(int64, tag = "3")]
    system_name: i64,
    #[prost(int64, tag = "4")]
    filename: i64,
}

/// A sample's identity: its locations (leaf first) and its labels (key, value string ids).
type SampleKey = (Vec<u64>, Vec<(i64, i64)>);

/// Builds one pprof from one or many profiles. Each sample carries the
/// labels `function`, `host`, `cgroup` (when known) and `phase` (`import`:
/// taken while an import ran on the thread, `run`: the rest), so one file
/// holds a whole fleet and `go tool pprof -tagfocus` / Pyroscope / Parca
/// slice it. Identical stacks with identical labels are summed.
pub struct PprofBuilder {
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    functions: Vec<Function>,
    function_ids: HashMap<(i64, i64), u64>,
    locations: Vec<Location>,
    location_ids: HashMap<(u64, i64), u64>,
    samples: HashMap<SampleKey, i64>,
    order: Vec<SampleKey>,
    duration_nanos: i64,
    period: i64,
}

impl Default for PprofBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl PprofBuilder {
    /// An empty pprof.
    pub fn new() -> Self {
        Self {
            strings: vec![String::new()],
            string_ids: HashMap::new(),
            functions: Vec::new(),
            function_ids: HashMap::new(),
            locations: Vec::new(),
            location_ids: HashMap::new(),
            samples: HashMap::new(),
            order: Vec::new(),
            duration_nanos: 0,
            period: 0,
        }
    }

    fn intern(&mut self, s: &str) -> i64 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        self.strings.push(s.to_string());
        let id = self.strings.len() as i64 - 1;
        self.string_ids.insert(s.to_string(), id);
        id
    }

    /// Adds the samples of `profile`, each with `labels` plus its `phase`
    /// (labels with an empty value are left out).
    pub fn add(&mut self, profile: &Profile, labels: &[(&str, &str)]) {
        let location_of = self.locations(&profile.cct.frames);
        let mut base: Vec<(i64, i64)> = Vec::new();
        for (key, value) in labels {
            if !value.is_empty() {
                let pair = (self.intern(key), self.intern(value));
                base.push(pair);
            }
        }
        let phase = self.intern("phase");
        let import = self.intern("import");
        let run = self.intern("run");
        let mut found = Vec::new();
        stacks(&profile.cct.root, &location_of, &mut Vec::new(), &mut found);
        for (stack, import_count, run_count) in found {
            for (value, count) in [(import, import_count), (run, run_count)] {
                if count > 0 {
                    let mut labels = base.clone();
                    labels.push((phase, value));
                    self.count((stack.clone(), labels), count);
                }
            }
        }
        self.duration_nanos += profile.meta.duration_us as i64 * 1000;
        if self.period == 0 {
            self.period = 1_000_000_000 / profile.meta.sample_hz.max(1) as i64;
        }
    }

    /// The location id of each frame (functions and locations interned).
    fn locations(&mut self, frames: &[Frame]) -> Vec<u64> {
        let mut location_of = Vec::with_capacity(frames.len());
        for frame in frames {
            let name = self.intern(frame.shown_name());
            let filename = self.intern(&frame.file);
            let next_function = self.functions.len() as u64 + 1;
            let function_id = *self
                .function_ids
                .entry((name, filename))
                .or_insert(next_function);
            if function_id == next_function {
                self.functions.push(Function {
                    id: function_id,
                    name,
                    system_name: name,
                    filename,
                });
            }
            let line = frame.line as i64;
            let next_location = self.locations.len() as u64 + 1;
            let location_id = *self
                .location_ids
                .entry((function_id, line))
                .or_insert(next_location);
            if location_id == next_location {
                self.locations.push(Location {
                    id: location_id,
                    line: vec![Line { function_id, line }],
                });
            }
            location_of.push(location_id);
        }
        location_of
    }

    /// Adds `count` samples of one stack with its labels.
    fn count(&mut self, key: SampleKey, count: u64) {
        match self.samples.get_mut(&key) {
            Some(v) => *v += count as i64,
            None => {
                self.samples.insert(key.clone(), count as i64);
                self.order.push(key);
            }
        }
    }

    /// The gzipped `profile.proto`, samples largest first (ties in the order added).
    pub fn encode(mut self) -> std::io::Result<Vec<u8>> {
        let samples_s = self.intern("samples");
        let count_s = self.intern("count");
        let cpu_s = self.intern("cpu");
        let ns_s = self.intern("nanoseconds");
        let mut sample: Vec<Sample> = self
            .order
            .iter()
            .map(|key| Sample {
                location_id: key.0.clone(),
                value: vec![self.samples[key]],
                label: key.1.iter().map(|&(key, str)| Label { key, str }).collect(),
            })
            .collect();
        sample.sort_by_key(|s| std::cmp::Reverse(s.value[0]));
        let message = PbProfile {
            sample_type: vec![ValueType {
                r#type: samples_s,
                unit: count_s,
            }],
            sample,
            location: self.locations,
            function: self.functions,
            string_table: self.strings,
            duration_nanos: self.duration_nanos,
            period_type: Some(ValueType {
                r#type: cpu_s,
                unit: ns_s,
            }),
            period: self.period.max(1),
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&message.encode_to_vec())?;
        gz.finish()
    }
}

/// Every stack of the CCT with samples: (locations leaf first, import-phase
/// samples, run-phase samples).
fn stacks(
    node: &CctNode,
    location_of: &[u64],
    path: &mut Vec<u64>,
    out: &mut Vec<(Vec<u64>, u64, u64)>,
) {
    if let Some(f) = node.frame {
        path.push(location_of.get(f).copied().unwrap_or(0));
    }
    if node.self_samples > 0 && !path.is_empty() {
        // pprof lists the leaf first.
        let leaf_first = path.iter().rev().copied().collect();
        let import = node.import_self.min(node.self_samples);
        out.push((leaf_first, import, node.self_samples - import));
    }
    for child in &node.children {
        stacks(child, location_of, path, out);
    }
    if node.frame.is_some() {
        path.pop();
    }
}

/// The labels of one profile: `function` (the handler file's stem) and `host`.
pub fn profile_labels(profile: &Profile) -> [(&'static str, String); 2] {
    [
        (
            "function",
            crate::fleet::function_of(&profile.meta.command, &Default::default()),
        ),
        ("host", profile.meta.host.clone()),
    ]
}

/// The gzipped `profile.proto` of a profile, with its labels.
pub fn encode(profile: &Profile) -> std::io::Result<Vec<u8>> {
    let labels = profile_labels(profile);
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut builder = PprofBuilder::new();
    builder.add(profile, &labels);
    builder.encode()
}

impl Exporter for Pprof {
    fn write(&self, profile: &Profile, _: &Analysis, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(&encode(profile)?)
    }
}
