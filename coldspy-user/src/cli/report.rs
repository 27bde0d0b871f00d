//! `coldspy report` and `coldspy diff`: read profiles, analyse them, write a
//! format, show the calling-context tree.

use crate::analysis::{self, ScoreKind};
use crate::export::Format;
use crate::model::profile::Profile;
use crate::report::{cct_view, diff, CctFilter, SampleKind};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `--format`: the formats `coldspy report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// The ranked table for a terminal.
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

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Terminal => Format::Terminal,
            FormatArg::Json => Format::Json,
            FormatArg::Html => Format::Html,
            FormatArg::Collapsed => Format::Collapsed,
            FormatArg::Flamegraph => Format::Flamegraph,
            FormatArg::Speedscope => Format::Speedscope,
            FormatArg::Pprof => Format::Pprof,
        }
    }
}

/// `--score`: which inefficiency score ranks the packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScoreArg {
    /// Use = run-time (non-import) samples touching the package.
    Runtime,
    /// The original method: use = any sample touching the package.
    Classic,
}

impl From<ScoreArg> for ScoreKind {
    fn from(arg: ScoreArg) -> Self {
        match arg {
            ScoreArg::Runtime => ScoreKind::Runtime,
            ScoreArg::Classic => ScoreKind::Classic,
        }
    }
}

/// Arguments of `coldspy report`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  coldspy report app.json\n  coldspy report app.json --format json -o analysed.json\n  coldspy report app.json --module botocore --children --hide-import-samples"
)]
pub struct ReportArgs {
    /// The profile file.
    pub profile: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Terminal)]
    pub format: FormatArg,
    /// Which inefficiency score ranks the packages.
    #[arg(long, value_enum, default_value_t = ScoreArg::Runtime)]
    pub score: ScoreArg,
    /// How many packages the terminal table shows.
    #[arg(long, default_value_t = 15)]
    pub top: usize,
    /// Write to this file instead of standard output (`-` = standard
    /// output). A device or FIFO is written into, never replaced.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Show the calling-context tree of the samples touching this module.
    #[arg(long)]
    pub module: Option<String>,
    /// With --module: include its sub-modules (by dot).
    #[arg(long, requires = "module")]
    pub children: bool,
    /// In the CCT view: count only run-time samples.
    #[arg(long, conflicts_with = "only_import_samples")]
    pub hide_import_samples: bool,
    /// In the CCT view: count only samples taken during imports.
    #[arg(long)]
    pub only_import_samples: bool,
}

/// Arguments of `coldspy diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The profile before the change.
    pub before: PathBuf,
    /// The profile after the change.
    pub after: PathBuf,
    /// How many packages to show.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
}

/// Runs `coldspy report`.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    if let Some(merged) = read_merged(&args.profile)? {
        return run_merged(&args, &merged);
    }
    // The output path is checked before any work (a directory fails here).
    let output = args
        .output
        .as_deref()
        .map(crate::sys::OutputFile::create)
        .transpose()?;
    let mut profile = Profile::read(&args.profile)?;
    let analysis = analysis::analyze(&mut profile, args.score.into());
    let mut buffer: Vec<u8> = Vec::new();
    if let Some(module) = &args.module {
        let kind = if args.hide_import_samples {
            SampleKind::RunTime
        } else if args.only_import_samples {
            SampleKind::Import
        } else {
            SampleKind::All
        };
        let filter = CctFilter {
            module: module.clone(),
            children: args.children,
            kind,
        };
        cct_view::write(&profile, &filter, &mut buffer)?;
        buffer = for_terminal(&buffer);
    } else {
        match Format::from(args.format) {
            Format::Terminal => crate::export::terminal::Terminal { top: args.top }.write_to(
                &profile,
                &analysis,
                &mut buffer,
            )?,
            other => {
                other
                    .exporter(crate::flame::inferno_svg)
                    .write(&profile, &analysis, &mut buffer)?
            }
        }
    }
    match output {
        Some(out) => {
            out.commit(&buffer)?;
        }
        None => std::io::stdout().write_all(&buffer)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A merged file (`coldspy merge -o`), or `None` when the file is something else.
fn read_merged(path: &std::path::Path) -> anyhow::Result<Option<coldspy_core::fleet::Merged>> {
    use coldspy_core::fleet::Merged;
    // Too large to be either: Profile::read refuses it from its size,
    // without reading it.
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > crate::model::profile::MAX_PROFILE_BYTES {
        return Ok(None);
    }
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(None); // Profile::read tells why.
    };
    if !Merged::is_merged(&bytes) {
        return Ok(None);
    }
    Merged::from_json(&bytes)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `coldspy report merged.json`: the fleet report (terminal, HTML or JSON).
fn run_merged(args: &ReportArgs, merged: &coldspy_core::fleet::Merged) -> anyhow::Result<ExitCode> {
    use coldspy_core::fleet::render;
    let mut buffer: Vec<u8> = Vec::new();
    match args.format {
        FormatArg::Terminal => render::terminal(merged, args.top, &mut buffer)?,
        FormatArg::Html => render::html(merged, &mut buffer)?,
        FormatArg::Json => buffer = serde_json::to_vec_pretty(merged)?,
        other => anyhow::bail!(
            "a merged file has no stacks for --format {other:?}: use `coldspy merge --pprof` for one pprof of the fleet"
        ),
    }
    match &args.output {
        Some(path) => {
            crate::sys::OutputFile::create(path)?.commit(&buffer)?;
        }
        None => std::io::stdout().write_all(&buffer)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Text for a terminal: the control characters a target put in its names
/// shown escaped (`\x1b`), never sent.
fn for_terminal(text: &[u8]) -> Vec<u8> {
    crate::export::escape::terminal_text(&String::from_utf8_lossy(text))
        .into_owned()
        .into_bytes()
}

/// Runs `coldspy diff`.
pub fn run_diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let mut before = Profile::read(&args.before)?;
    let mut after = Profile::read(&args.after)?;
    let mut buffer = Vec::new();
    diff::write(&mut before, &mut after, args.top, &mut buffer)?;
    std::io::stdout().write_all(&for_terminal(&buffer))?;
    Ok(ExitCode::SUCCESS)
}
