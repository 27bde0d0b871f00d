//! pprof (`profile.proto`, gzipped), for `go tool pprof`, Pyroscope, Parca.
//! The few messages needed are declared here with prost (no protoc).

use super::{stacks, Exporter};
use crate::analysis::Analysis;
use crate::model::profile::Profile;
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

/// The gzipped `profile.proto` of a profile.
pub fn encode(profile: &Profile) -> std::io::Result<Vec<u8>> {
    let mut strings: Vec<String> = vec![String::new()];
    let mut string_ids: HashMap<String, i64> = HashMap::new();
    let mut intern = |s: &str| -> i64 {
        if let Some(&id) = string_ids.get(s) {
            return id;
        }
        strings.push(s.to_string());
        let id = strings.len() as i64 - 1;
        string_ids.insert(s.to_string(), id);
        id
    };
    let samples_s = intern("samples");
    let count_s = intern("count");
    let cpu_s = intern("cpu");
    let ns_s = intern("nanoseconds");
    let mut functions: Vec<Function> = Vec::new();
    let mut function_ids: HashMap<(String, String), u64> = HashMap::new();
    let mut locations = Vec::with_capacity(profile.cct.frames.len());
    for (i, frame) in profile.cct.frames.iter().enumerate() {
        let key = (frame.shown_name().to_string(), frame.file.clone());
        let function_id = match function_ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = functions.len() as u64 + 1;
                let name = intern(frame.shown_name());
                let filename = intern(&frame.file);
                functions.push(Function {
                    id,
                    name,
                    system_name: name,
                    filename,
                });
                function_ids.insert(key, id);
                id
            }
        };
        locations.push(Location {
            id: i as u64 + 1,
            line: vec![Line {
                function_id,
                line: frame.line as i64,
            }],
        });
    }
    let sample = stacks::stacks(profile)
        .into_iter()
        .map(|(path, count)| Sample {
            // pprof lists the leaf first.
            location_id: path.iter().rev().map(|&f| f as u64 + 1).collect(),
            value: vec![count as i64],
        })
        .collect();
    let period = 1_000_000_000 / profile.meta.sample_hz.max(1) as i64;
    let message = PbProfile {
        sample_type: vec![ValueType {
            r#type: samples_s,
            unit: count_s,
        }],
        sample,
        location: locations,
        function: functions,
        string_table: strings,
        duration_nanos: profile.meta.duration_us as i64 * 1000,
        period_type: Some(ValueType {
            r#type: cpu_s,
            unit: ns_s,
        }),
        period,
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&message.encode_to_vec())?;
    gz.finish()
}

impl Exporter for Pprof {
    fn write(&self, profile: &Profile, _: &Analysis, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(&encode(profile)?)
    }
}
