//! Writers of an analysed profile, one file per format behind [`Exporter`].

pub mod collapsed;
pub mod escape;
pub mod flamegraph;
pub mod html;
pub mod json;
pub mod pprof;
pub mod speedscope;
pub mod stacks;
pub mod terminal;
pub mod timeline;

use crate::analysis::Analysis;
use crate::model::profile::Profile;
use std::io::Write;

/// Writes an analysed profile in one format.
pub trait Exporter {
    /// Writes `profile` (with its `analysis`) to `out`.
    fn write(
        &self,
        profile: &Profile,
        analysis: &Analysis,
        out: &mut dyn Write,
    ) -> std::io::Result<()>;
}

/// The formats `coldspy report --format` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The ranked table for a terminal.
    #[default]
    Terminal,
    /// The profile JSON with the analysis fields filled.
    Json,
    /// One self-contained HTML page (works offline).
    Html,
    /// Collapsed stacks (flame graph input).
    Collapsed,
    /// Flame graph SVG.
    Flamegraph,
    /// speedscope JSON.
    Speedscope,
    /// pprof `profile.proto`, gzipped.
    Pprof,
}

/// Draws a flame graph SVG of collapsed stacks (`frame;frame count` lines)
/// under a title. The core draws none itself: the system crate gives
/// inferno's (`coldspy::flame::inferno_svg`), whose hasher pulls in libc,
/// which the pure core must not depend on.
pub type FlameRenderer = fn(title: &str, lines: &[String]) -> std::io::Result<Vec<u8>>;

impl Format {
    /// The writer of this format; `flame` draws the flame graphs (the
    /// flame graph format and the one in the HTML report).
    pub fn exporter(self, flame: FlameRenderer) -> Box<dyn Exporter> {
        match self {
            Format::Terminal => Box::new(terminal::Terminal::default()),
            Format::Json => Box::new(json::Json),
            Format::Html => Box::new(html::Html { flame }),
            Format::Collapsed => Box::new(collapsed::Collapsed),
            Format::Flamegraph => Box::new(flamegraph::Flamegraph { render: flame }),
            Format::Speedscope => Box::new(speedscope::Speedscope),
            Format::Pprof => Box::new(pprof::Pprof),
        }
    }
}
