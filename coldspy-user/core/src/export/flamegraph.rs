//! Flame graph SVG, drawn by inferno from the collapsed stacks.

use super::{collapsed, Exporter};
use crate::analysis::Analysis;
use crate::model::profile::Profile;
use std::io::Write;

/// Flame graph writer.
pub struct Flamegraph;

/// The flame graph SVG of a profile.
pub fn svg(profile: &Profile) -> std::io::Result<Vec<u8>> {
    let lines = collapsed::lines(profile);
    let mut options = inferno::flamegraph::Options::default();
    options.title = format!(
        "coldspy: CPython {} pid {}",
        profile.meta.python_version, profile.meta.pid
    );
    options.count_name = "samples".to_string();
    let mut out = Vec::new();
    if lines.is_empty() {
        return Ok(br#"<svg xmlns="http://www.w3.org/2000/svg" width="600" height="40"><text x="10" y="25">no samples</text></svg>"#.to_vec());
    }
    inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut out)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(out)
}

impl Exporter for Flamegraph {
    fn write(&self, profile: &Profile, _: &Analysis, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(&svg(profile)?)
    }
}
