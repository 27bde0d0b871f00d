//! Collapsed ("folded") stacks: `outer;…;inner count`, one line per stack,
//! the input of flame graph tools (inferno, Brendan Gregg's flamegraph.pl).

use super::{stacks, Exporter};
use crate::analysis::Analysis;
use crate::model::profile::Profile;
use std::io::Write;

/// Collapsed-stacks writer.
pub struct Collapsed;

/// The collapsed lines of a profile.
pub fn lines(profile: &Profile) -> Vec<String> {
    let frames = &profile.cct.frames;
    let mut lines: Vec<String> = stacks::stacks(profile)
        .into_iter()
        .map(|(path, count)| {
            let names: Vec<String> = path.iter().map(|&f| stacks::label(&frames[f])).collect();
            format!("{} {count}", names.join(";"))
        })
        .collect();
    lines.sort();
    lines
}

impl Exporter for Collapsed {
    fn write(&self, profile: &Profile, _: &Analysis, out: &mut dyn Write) -> std::io::Result<()> {
        for line in lines(profile) {
            writeln!(out, "{line}")?;
        }
        Ok(())
    }
}
