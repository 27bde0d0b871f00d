//! The short summary `record` prints: counts, lost records, the hottest
//! functions and the files opened.

use crate::model::profile::{CctNode, Profile};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// How many hottest functions to list.
const TOP_FUNCTIONS: usize = 10;

/// Prints the summary of a freshly written profile.
pub(super) fn print(
    profile: &Profile,
    written: &Path,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let s = &profile.stats;
    let m = &profile.meta;
    writeln!(out, "coldspy: wrote {}", written.display())?;
    writeln!(
        out,
        "  target: pid {} CPython {} ({}), {:.1} s at {} Hz",
        m.pid,
        if m.python_version.is_empty() {
            "?"
        } else {
            &m.python_version
        },
        m.python_executable,
        m.duration_us as f64 / 1e6,
        m.sample_hz
    )?;
    writeln!(
        out,
        "  samples: {} with Python frames ({} during imports), {} native/idle, {} lost",
        s.samples, s.import_samples, s.native_samples, m.lost_samples
    )?;
    if m.lost_samples > 0 || m.lost_events > 0 {
        writeln!(
            out,
            "  warning: {} samples and {} events were lost (ring buffer full)",
            m.lost_samples, m.lost_events
        )?;
    }
    if s.unsymbolized_frames > 0 {
        writeln!(
            out,
            "  note: {} frames could not be symbolized (code freed before it was read)",
            s.unsymbolized_frames
        )?;
    }
    let mut self_by_function: HashMap<usize, u64> = HashMap::new();
    fn walk(node: &CctNode, acc: &mut HashMap<usize, u64>) {
        if let Some(f) = node.frame {
            if node.self_samples > 0 {
                *acc.entry(f).or_default() += node.self_samples;
            }
        }
        for child in &node.children {
            walk(child, acc);
        }
    }
    walk(&profile.cct.root, &mut self_by_function);
    let mut by_name: HashMap<(String, String), u64> = HashMap::new();
    for (frame, count) in self_by_function {
        let f = &profile.cct.frames[frame];
        *by_name
            .entry((f.shown_name().to_string(), f.file.clone()))
            .or_default() += count;
    }
    let mut hottest: Vec<_> = by_name.into_iter().collect();
    hottest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if !hottest.is_empty() {
        writeln!(out, "  hottest functions (self samples):")?;
        for ((function, file), count) in hottest.iter().take(TOP_FUNCTIONS) {
            let pct = 100.0 * *count as f64 / s.samples.max(1) as f64;
            writeln!(out, "    {count:>7} {pct:5.1}%  {function}  ({file})")?;
        }
    }
    let failed = profile.files.iter().filter(|f| !f.ok).count();
    writeln!(
        out,
        "  files opened: {} ({} failed)",
        profile.files.len(),
        failed
    )?;
    Ok(())
}
