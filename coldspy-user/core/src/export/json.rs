//! The profile JSON, with the analysis fields of `modules` filled.

use super::Exporter;
use crate::analysis::Analysis;
use crate::model::profile::Profile;
use std::io::Write;

/// JSON writer.
pub struct Json;

impl Exporter for Json {
    fn write(
        &self,
        profile: &Profile,
        _analysis: &Analysis,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, profile)?;
        writeln!(out)
    }
}
