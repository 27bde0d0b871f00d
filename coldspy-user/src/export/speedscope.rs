//! speedscope's file format (a "sampled" profile): frames shared, one stack
//! per CCT node with its sample count as weight, in milliseconds of CPU.

use crate::export::stacks::for_each_stack;
use crate::export::{ExportError, Exporter, Report};
use serde::Serialize;
use std::io::Write;

/// The speedscope writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Speedscope;

/// The schema URL speedscope expects in `$schema`.
pub const SCHEMA_URL: &str = "https://www.speedscope.app/file-format-schema.json";

#[derive(Serialize)]
struct File<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    shared: Shared<'a>,
    profiles: Vec<SampledProfile>,
    name: String,
    #[serde(rename = "activeProfileIndex")]
    active_profile_index: u32,
    exporter: String,
}

#[derive(Serialize)]
struct Shared<'a> {
    frames: Vec<SpeedscopeFrame<'a>>,
}

#[derive(Serialize)]
struct SpeedscopeFrame<'a> {
    name: &'a str,
    file: &'a str,
    line: u32,
}

#[derive(Serialize)]
struct SampledProfile {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    unit: &'static str,
    #[serde(rename = "startValue")]
    start_value: f64,
    #[serde(rename = "endValue")]
    end_value: f64,
    samples: Vec<Vec<usize>>,
    weights: Vec<f64>,
}

impl Exporter for Speedscope {
    fn write(&self, report: &Report<'_>, out: &mut dyn Write) -> Result<(), ExportError> {
        let profile = report.profile;
        let (unit, per_sample) = match profile.meta.sample_hz {
            0 => ("none", 1.0),
            hz => ("milliseconds", 1000.0 / f64::from(hz)),
        };
        let mut samples = Vec::new();
        let mut weights = Vec::new();
        for_each_stack(&profile.cct, &report.view.filter, |stack, counts| {
            samples.push(stack.to_vec());
            weights.push(counts.total() as f64 * per_sample);
        });
        let end_value = weights.iter().sum();
        let name = format!("coldspy: {}", profile.meta.command.join(" "));
        let file = File {
            schema: SCHEMA_URL,
            shared: Shared {
                frames: profile
                    .cct
                    .frames
                    .iter()
                    .map(|f| SpeedscopeFrame {
                        name: &f.function,
                        file: &f.file,
                        line: f.line,
                    })
                    .collect(),
            },
            profiles: vec![SampledProfile {
                kind: "sampled",
                name: format!("{} ({})", name, report.view.filter.describe()),
                unit,
                start_value: 0.0,
                end_value,
                samples,
                weights,
            }],
            name,
            active_profile_index: 0,
            exporter: format!("coldspy {}", env!("CARGO_PKG_VERSION")),
        };
        serde_json::to_writer(&mut *out, &file)?;
        writeln!(out)?;
        Ok(())
    }
}
