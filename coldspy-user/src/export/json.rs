//! The JSON profile with the analysis fields of every module row filled.

use crate::export::{ExportError, Exporter, Report};
use std::io::Write;

/// The JSON writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Exporter for Json {
    fn write(&self, report: &Report<'_>, out: &mut dyn Write) -> Result<(), ExportError> {
        let mut profile = report.profile.clone();
        report.analysis.fill(&mut profile);
        serde_json::to_writer_pretty(&mut *out, &profile)?;
        writeln!(out)?;
        Ok(())
    }
}
