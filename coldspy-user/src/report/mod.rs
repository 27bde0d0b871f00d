//! `coldspy report` and `coldspy diff`: read profiles, analyse them, write
//! a format. Also the entry points `record` uses at its end.

pub mod diff;

pub use diff::DiffArgs;

use crate::analysis::{Analysis, ScoreKind};
use crate::export::stacks::{SampleFilter, StackFilter};
use crate::export::{terminal, ExportError, Format, Report, View};
use crate::model::profile::Profile;
use anyhow::Context as _;
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `coldspy report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The profile file.
    pub profile: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Terminal)]
    pub format: Format,
    /// Write to this file instead of standard output (created readable by you only).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which samples count as use: `runtime` (outside imports) or `classic` (all, the original method).
    #[arg(long, value_enum, default_value_t = ScoreKind::RunTime)]
    pub score: ScoreKind,
    /// Show the calling-context tree of the samples through this module (terminal: implies --cct).
    #[arg(long, value_name = "NAME")]
    pub module: Option<String>,
    /// With --module: its sub-modules by dot count too.
    #[arg(long, requires = "module")]
    pub children: bool,
    /// Keep only run-time samples (outside imports) in the CCT-based outputs.
    #[arg(long, conflicts_with = "only_import_samples")]
    pub hide_import_samples: bool,
    /// Keep only import samples in the CCT-based outputs.
    #[arg(long)]
    pub only_import_samples: bool,
    /// Terminal: show the calling-context tree instead of the ranked table.
    #[arg(long)]
    pub cct: bool,
    /// Terminal: how many top-level packages to list.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// Terminal: list every package.
    #[arg(long, conflicts_with = "top")]
    pub all: bool,
    /// Terminal: levels of the module tree to show (1: top-level packages).
    #[arg(long, default_value_t = 1, value_name = "LEVELS")]
    pub depth: usize,
    /// Terminal CCT: fold callees under this percentage of the shown samples.
    #[arg(long, default_value_t = 1.0, value_name = "PERCENT")]
    pub min_percent: f64,
}

impl ReportArgs {
    /// The view these arguments ask for.
    pub fn view(&self) -> View {
        let samples = if self.hide_import_samples {
            SampleFilter::HideImport
        } else if self.only_import_samples {
            SampleFilter::OnlyImport
        } else {
            SampleFilter::All
        };
        View {
            filter: StackFilter {
                module: self.module.clone(),
                children: self.children,
                samples,
            },
            cct: self.cct,
            top: (!self.all).then_some(self.top),
            depth: self.depth.max(1),
            min_percent: self.min_percent.max(0.0),
        }
    }
}

/// Runs `coldspy report`.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let profile = Profile::read(&args.profile)?;
    let analysis = Analysis::of(&profile, args.score);
    let view = args.view();
    let report = Report {
        profile: &profile,
        analysis: &analysis,
        view: &view,
    };
    write_output(args.output.as_deref(), args.format.is_binary(), |out| {
        args.format.exporter().write(&report, out)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `coldspy diff`.
pub fn run_diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let before = Profile::read(&args.before)?;
    let after = Profile::read(&args.after)?;
    let diff = diff::ProfileDiff::of(
        &Analysis::of(&before, args.score),
        &Analysis::of(&after, args.score),
    );
    write_output(args.output.as_deref(), false, |out| {
        diff.write(
            args.format,
            args.top_limit(),
            &args.before,
            &args.after,
            out,
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Writes to `path` (mode 0600) or to standard output; a closed pipe
/// (`coldspy report … | head`) is not an error.
fn write_output(
    path: Option<&Path>,
    binary: bool,
    write: impl FnOnce(&mut dyn Write) -> Result<(), ExportError>,
) -> anyhow::Result<()> {
    let result = match path {
        Some(path) => {
            let file = create_private(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            write(&mut out).and_then(|()| out.flush().map_err(ExportError::from))
        }
        None => {
            let stdout = std::io::stdout();
            if binary && stdout.is_terminal() {
                anyhow::bail!("this format is binary: write it to a file with --output FILE");
            }
            let mut out = std::io::BufWriter::new(stdout.lock());
            write(&mut out).and_then(|()| out.flush().map_err(ExportError::from))
        }
    };
    match result {
        Err(ExportError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Creates (or truncates) a file readable and writable by its owner only.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Prints the global stats, what to change and the ten highest-ranked
/// packages (run-time score): what `record` shows when it ends.
pub fn print_summary(profile: &Profile, out: &mut impl Write) -> Result<(), ExportError> {
    let analysis = Analysis::of(profile, ScoreKind::RunTime);
    terminal::write_stats(profile, &analysis, out)?;
    writeln!(out)?;
    terminal::write_actions(&analysis, out)?;
    terminal::write_table(&analysis, Some(10), 1, out)
}
