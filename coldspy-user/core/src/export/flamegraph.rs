//! Flame graph SVG from the collapsed stacks, drawn by the renderer the
//! caller gives ([`super::FlameRenderer`]: inferno's, from the system crate).

use super::{collapsed, Exporter, FlameRenderer};
use crate::analysis::Analysis;
use crate::model::profile::Profile;
use std::io::Write;

/// Flame graph writer.
pub struct Flamegraph {
    /// Draws the SVG.
    pub render: FlameRenderer,
}

/// The flame graph SVG of a profile, drawn by `render`.
pub fn svg(profile: &Profile, render: FlameRenderer) -> std::io::Result<Vec<u8>> {
    let lines = collapsed::lines(profile);
    if lines.is_empty() {
        return Ok(br#"<svg xmlns="http://www.w3.org/2000/svg" width="600" height="40"><text x="10" y="25">no samples</text></svg>"#.to_vec());
    }
    let title = format!(
        "coldspy: CPython {} pid {}",
        profile.meta.python_version, profile.meta.pid
    );
    render(&title, &lines)
}

impl Exporter for Flamegraph {
    fn write(&self, profile: &Profile, _: &Analysis, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(&svg(profile, self.render)?)
    }
}
