//! Collapsed stacks (`outer;…;inner count`, one line per distinct stack),
//! the input format of flame graph tools (inferno, Brendan Gregg's scripts).

use crate::export::stacks::{for_each_stack, StackFilter};
use crate::export::{ExportError, Exporter, Report};
use crate::model::profile::{Cct, Frame};
use std::io::Write;

/// The collapsed-stacks writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Collapsed;

impl Exporter for Collapsed {
    fn write(&self, report: &Report<'_>, out: &mut dyn Write) -> Result<(), ExportError> {
        for line in collapsed_lines(&report.profile.cct, &report.view.filter) {
            writeln!(out, "{line}")?;
        }
        Ok(())
    }
}

/// A frame as one collapsed-stack element: `function (file:line)`, without
/// the separator characters of the format.
pub fn frame_label(frame: &Frame) -> String {
    format!("{} ({}:{})", frame.function, frame.file, frame.line)
        .replace(';', ":")
        .replace(['\n', '\r'], " ")
}

/// The sorted lines (sorted so that equal profiles give equal files).
pub fn collapsed_lines(cct: &Cct, filter: &StackFilter) -> Vec<String> {
    let labels: Vec<String> = cct.frames.iter().map(frame_label).collect();
    let mut lines = Vec::new();
    for_each_stack(cct, filter, |stack, counts| {
        let mut line = String::new();
        for (i, &frame) in stack.iter().enumerate() {
            if i > 0 {
                line.push(';');
            }
            line.push_str(&labels[frame]);
        }
        line.push(' ');
        line.push_str(&counts.total().to_string());
        lines.push(line);
    });
    lines.sort_unstable();
    lines
}
