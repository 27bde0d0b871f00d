//! Writers: one file per output format behind [`Exporter`]. Every writer is a
//! pure function of the profile, its analysis and the view options, so its
//! output can be checked against stored snapshots.

pub mod cct_text;
pub mod collapsed;
pub mod flamegraph;
pub mod html;
pub mod json;
pub mod pprof;
pub mod speedscope;
pub mod stacks;
pub mod terminal;
pub mod text;

use crate::analysis::Analysis;
use crate::model::profile::Profile;
use stacks::StackFilter;
use std::io::Write;

/// The output formats of `coldspy report --format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Global stats and the ranked table (or the CCT view), for a terminal.
    #[default]
    Terminal,
    /// The profile itself with the analysis fields filled.
    Json,
    /// One self-contained HTML file (table, CCT explorer, flame graph, import waterfall).
    Html,
    /// speedscope's file format (<https://www.speedscope.app>).
    Speedscope,
    /// Collapsed stacks (`frame;frame;frame count`), for flame graph tools.
    Collapsed,
    /// A flame graph SVG (inferno).
    Flamegraph,
    /// pprof's gzipped `profile.proto` (go tool pprof, Pyroscope, Parca).
    Pprof,
}

impl Format {
    /// The writer of this format.
    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Terminal => Box::new(terminal::Terminal),
            Format::Json => Box::new(json::Json),
            Format::Html => Box::new(html::Html),
            Format::Speedscope => Box::new(speedscope::Speedscope),
            Format::Collapsed => Box::new(collapsed::Collapsed),
            Format::Flamegraph => Box::new(flamegraph::Flamegraph),
            Format::Pprof => Box::new(pprof::Pprof),
        }
    }

    /// Whether the output is binary (not for a terminal).
    pub fn is_binary(self) -> bool {
        self == Format::Pprof
    }
}

/// What to show: the CCT filters and the table's extent.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Which samples and frames the CCT-based outputs keep.
    pub filter: StackFilter,
    /// Terminal: show the CCT instead of the ranked table.
    pub cct: bool,
    /// Terminal: top-level packages shown (`None`: all).
    pub top: Option<usize>,
    /// Terminal: levels of the module tree shown (1: top-level packages only).
    pub depth: usize,
    /// Terminal CCT: hide nodes under this percentage of the shown samples.
    pub min_percent: f64,
}

impl Default for View {
    fn default() -> Self {
        Self {
            filter: StackFilter::default(),
            cct: false,
            top: Some(20),
            depth: 1,
            min_percent: 1.0,
        }
    }
}

/// Everything a writer needs.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The profile.
    pub profile: &'a Profile,
    /// Its analysis.
    pub analysis: &'a Analysis,
    /// The view options.
    pub view: &'a View,
}

/// A writer of one output format.
pub trait Exporter {
    /// Writes the report.
    fn write(&self, report: &Report<'_>, out: &mut dyn Write) -> Result<(), ExportError>;
}

/// Errors while writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output could not be written.
    #[error("cannot write the report: {0}")]
    Io(#[from] std::io::Error),
    /// JSON serialization failed.
    #[error("cannot encode the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
}
