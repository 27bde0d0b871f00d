//! A flame graph SVG, drawn by inferno from the collapsed stacks.

use crate::export::collapsed::collapsed_lines;
use crate::export::{ExportError, Exporter, Report};
use inferno::flamegraph::{color::MultiPalette, Options, Palette};
use std::io::Write;

/// The flame graph writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flamegraph;

impl Exporter for Flamegraph {
    fn write(&self, report: &Report<'_>, out: &mut dyn Write) -> Result<(), ExportError> {
        let lines = collapsed_lines(&report.profile.cct, &report.view.filter);
        let mut options = Options::default();
        options.title = format!("coldspy: {}", report.profile.meta.command.join(" "));
        options.subtitle = Some(report.view.filter.describe());
        options.count_name = "samples".to_string();
        options.colors = Palette::Multi(MultiPalette::Python);
        // Colours from a hash of the name, not random: the same profile gives the same SVG.
        options.hash = true;
        options.deterministic = true;
        if lines.is_empty() {
            // inferno refuses empty input; an empty graph still says why.
            let placeholder = ["(no sample matches the filters) 1"];
            inferno::flamegraph::from_lines(&mut options, placeholder, out)?;
        } else {
            inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), out)?;
        }
        Ok(())
    }
}
