//! pprof: gzipped `profile.proto` (go tool pprof, Pyroscope, Parca).
//!
//! Each CCT node becomes up to two samples, labelled `phase=run_time` or
//! `phase=import` (`go tool pprof -tagfocus phase=import` keeps the import
//! samples); values are sample counts and CPU nanoseconds at the sampling period.

use crate::export::stacks::for_each_stack;
use crate::export::{ExportError, Exporter, Report};
use flate2::{write::GzEncoder, Compression};
use prost::Message;
use std::collections::HashMap;
use std::io::Write;

/// The pprof writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pprof;

/// The messages of pprof's `profile.proto` that coldspy writes (field
/// numbers as in github.com/google/pprof/proto/profile.proto).
pub mod proto {
    /// The whole profile.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        /// What each sample value is.
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        /// The samples.
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        /// Code locations.
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        /// Functions.
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        /// Interned strings; index 0 is "".
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        /// Wall-clock start (ns since the epoch).
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        /// Length of the recording.
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        /// What `period` measures.
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        /// The sampling period.
        #[prost(int64, tag = "12")]
        pub period: i64,
        /// Free-text comments (string indices).
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
    }

    /// A (type, unit) pair of string indices.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        /// e.g. "samples".
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        /// e.g. "count".
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    /// One stack with its values.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        /// Locations, leaf first.
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        /// One value per sample type.
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        /// Labels.
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    /// A string or numeric label.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        /// Key (string index).
        #[prost(int64, tag = "1")]
        pub key: i64,
        /// String value (string index).
        #[prost(int64, tag = "2")]
        pub str: i64,
    }

    /// A code location.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        /// Unique, non-zero.
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// The source lines at this location.
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }

    /// A source line in a function.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        /// The function's id.
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        /// Line number.
        #[prost(int64, tag = "2")]
        pub line: i64,
    }

    /// A function.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        /// Unique, non-zero.
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// Name (string index).
        #[prost(int64, tag = "2")]
        pub name: i64,
        /// System name (string index).
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        /// Source file (string index).
        #[prost(int64, tag = "4")]
        pub filename: i64,
    }
}

/// Interns strings for the string table.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Self::default();
        s.get("");
        s
    }

    fn get(&mut self, text: &str) -> i64 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(text.to_string());
        self.index.insert(text.to_string(), i);
        i
    }
}

/// Builds the (uncompressed) profile message.
pub fn build(report: &Report<'_>) -> proto::Profile {
    let profile = report.profile;
    let mut strings = Strings::new();
    let period_ns = match profile.meta.sample_hz {
        0 => 1,
        hz => 1_000_000_000 / i64::from(hz),
    };
    let sample_type = vec![
        proto::ValueType {
            r#type: strings.get("samples"),
            unit: strings.get("count"),
        },
        proto::ValueType {
            r#type: strings.get("cpu"),
            unit: strings.get("nanoseconds"),
        },
    ];
    let period_type = Some(proto::ValueType {
        r#type: strings.get("cpu"),
        unit: strings.get("nanoseconds"),
    });
    let phase_key = strings.get("phase");
    let run_time_value = strings.get("run_time");
    let import_value = strings.get("import");

    // One location per frame, one function per (name, file).
    let mut functions: Vec<proto::Function> = Vec::new();
    let mut function_ids: HashMap<(&str, &str), u64> = HashMap::new();
    let locations: Vec<proto::Location> = profile
        .cct
        .frames
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            let function_id = *function_ids
                .entry((&frame.function, &frame.file))
                .or_insert_with(|| {
                    let id = functions.len() as u64 + 1;
                    let name = strings.get(&frame.function);
                    functions.push(proto::Function {
                        id,
                        name,
                        system_name: name,
                        filename: strings.get(&frame.file),
                    });
                    id
                });
            proto::Location {
                id: i as u64 + 1,
                line: vec![proto::Line {
                    function_id,
                    line: i64::from(frame.line),
                }],
            }
        })
        .collect();

    let mut samples = Vec::new();
    for_each_stack(&profile.cct, &report.view.filter, |stack, counts| {
        let location_id: Vec<u64> = stack.iter().rev().map(|&f| f as u64 + 1).collect();
        for (n, phase) in [
            (counts.run_time, run_time_value),
            (counts.import, import_value),
        ] {
            if n > 0 {
                samples.push(proto::Sample {
                    location_id: location_id.clone(),
                    value: vec![n as i64, n as i64 * period_ns],
                    label: vec![proto::Label {
                        key: phase_key,
                        str: phase,
                    }],
                });
            }
        }
    });
    let time_nanos = humantime::parse_rfc3339_weak(&profile.meta.started_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let comment = vec![
        strings.get(&format!("coldspy: {}", profile.meta.command.join(" "))),
        strings.get(&report.view.filter.describe()),
    ];
    proto::Profile {
        sample_type,
        sample: samples,
        location: locations,
        function: functions,
        string_table: strings.table,
        time_nanos,
        duration_nanos: profile.meta.duration_us as i64 * 1000,
        period_type,
        period: period_ns,
        comment,
    }
}

impl Exporter for Pprof {
    fn write(&self, report: &Report<'_>, out: &mut dyn Write) -> Result<(), ExportError> {
        let bytes = build(report).encode_to_vec();
        let mut gz = GzEncoder::new(out, Compression::default());
        gz.write_all(&bytes)?;
        gz.finish()?;
        Ok(())
    }
}
