//! speedscope's file format (https://www.speedscope.app/file-format-schema.json):
//! one `sampled` profile of all samples, frames with file and line.

use super::{stacks, Exporter};
use crate::analysis::Analysis;
use crate::model::profile::Profile;
use serde_json::json;
use std::io::Write;

/// speedscope writer.
pub struct Speedscope;

/// The speedscope document of a profile.
pub fn document(profile: &Profile) -> serde_json::Value {
    let frames: Vec<serde_json::Value> = profile
        .cct
        .frames
        .iter()
        .map(|f| json!({"name": f.shown_name(), "file": f.file, "line": f.line}))
        .collect();
    let weighted = stacks::stacks(profile);
    let total: u64 = weighted.iter().map(|(_, n)| n).sum();
    let samples: Vec<&Vec<usize>> = weighted.iter().map(|(s, _)| s).collect();
    let weights: Vec<u64> = weighted.iter().map(|(_, n)| *n).collect();
    let name = format!(
        "CPython {} pid {}",
        profile.meta.python_version, profile.meta.pid
    );
    json!({
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": frames},
        "profiles": [{
            "type": "sampled",
            "name": name,
            "unit": "none",
            "startValue": 0,
            "endValue": total,
            "samples": samples,
            "weights": weights,
        }],
        "name": name,
        "activeProfileIndex": 0,
        "exporter": format!("coldspy {}", env!("CARGO_PKG_VERSION")),
    })
}

impl Exporter for Speedscope {
    fn write(&self, profile: &Profile, _: &Analysis, out: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &document(profile))?;
        writeln!(out)
    }
}
