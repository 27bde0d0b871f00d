//! `coldspy bench`: start a function cold N times through coldspy's runner
//! and measure init, the first invocation and end-to-end time; compare
//! variants interleaved run by run (another handler, or the same one with
//! imports deferred: [`defer`]).

pub mod defer;

use crate::runner::{self, measure, RunnerError};
use crate::{plot, stats};

use anyhow::{bail, Context};
use clap::Args;
use measure::{Failure, Start};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `coldspy bench`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  coldspy bench --handler app.py:handler --event event.json\n  coldspy bench --handler eager/app.py:handler --compare lazy/app.py:handler --runs 50\n  sudo coldspy bench --prebaked /var/tmp/app.img --runs 200"
)]
pub struct BenchArgs {
    /// The handler: path/to/app.py:function or package.module:function.
    #[arg(long, required_unless_present = "prebaked")]
    pub handler: Option<String>,
    /// Compare vanilla starts, restores of this prebaked image (`coldspy
    /// prebake`) and fork-server starts instead, interleaved, in HTTP mode.
    #[arg(long, conflicts_with_all = ["handler", "compare", "defer", "event", "warmup", "plot", "html"])]
    pub prebaked: Option<PathBuf>,
    /// A second handler to compare with, started interleaved with the first.
    #[arg(long)]
    pub compare: Option<String>,
    /// Also start the handler with these modules' imports deferred
    /// (comma-separated, exact names: `pandas,scipy.stats`), its code
    /// unchanged, interleaved with the unchanged handler: init, exec and
    /// end-to-end change with 95 % CIs, whether the answers are identical,
    /// and whether the deferral is verified.
    #[arg(long, value_delimiter = ',', value_name = "MOD[,MOD…]")]
    pub defer: Vec<String>,
    /// The event passed to the handler (a JSON file; default `{}`).
    #[arg(long)]
    pub event: Option<PathBuf>,
    /// The interpreter that runs the handler.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Cold starts per variant.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(2..))]
    pub runs: u64,
    /// Starts run first and not counted (warm the page cache).
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Drop the page cache before each start (root): the truly cold disk case.
    #[arg(long)]
    pub drop_caches: bool,
    /// Kill a start that takes longer than this (seconds); it counts as failed.
    /// The start's whole process group is killed (its children too).
    #[arg(long, default_value_t = 30.0, value_parser = crate::sys::seconds::positive_seconds)]
    pub timeout: f64,
    /// Write every start and the summary as JSON here.
    #[arg(long)]
    pub export_json: Option<PathBuf>,
    /// Write the CDF plot (SVG) here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Write an HTML report (the summary and the CDF plot) here.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

/// The phases measured, in output order.
const PHASES: [&str; 3] = ["init", "exec", "end-to-end"];

fn phase(start: &Start, name: &str) -> f64 {
    match name {
        "init" => start.init_ms,
        "exec" => start.exec_ms,
        _ => start.end_to_end_ms,
    }
}

/// A start that failed: the variant, the counted run, and why.
pub type Failed = (usize, u64, Failure);

/// Runs `coldspy bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let handler = args.handler.clone().context("--handler is required")?;
    // Every output path is checked before the first start.
    let check = |path: &Option<PathBuf>| {
        path.as_deref()
            .map(crate::sys::OutputFile::create)
            .transpose()
    };
    let json_out = check(&args.export_json)?;
    let plots = Plots {
        plot: check(&args.plot)?,
        html: check(&args.html)?,
    };
    let python = crate::sys::resolve(&args.python)?;
    if let Some(event) = &args.event {
        std::fs::metadata(event).with_context(|| format!("event file {}", event.display()))?;
    }
    let (handlers, specs) = variants(&args, &handler, &python);
    let measured = measure_all(&Plan::of(&args), &specs, &Progress::bench())?;
    let (starts, failures) = (&measured.starts, &measured.failures);
    let mut text = Vec::new();
    let mut summary = summarize(&handlers, starts, failures, &mut text)?;
    let verified = !args.defer.is_empty();
    if verified {
        let v = defer::verdict(&args.defer.join(","), None, &args.defer, &measured, 1);
        defer::print(&v, &mut text)?;
        summary["verification"] = serde_json::to_value(&v)?;
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&text)?;
    if let Some(file) = json_out {
        let doc = json!({
            "schema": "coldspy-bench",
            "schema_version": 1,
            "python": python,
            "runs": args.runs,
            "drop_caches": args.drop_caches,
            "starts": starts,
            "failed": failures.iter().map(|(v, r, f)| json!({"variant": v, "run": r, "reason": f.to_string()})).collect::<Vec<_>>(),
            "summary": summary,
        });
        let path = file.commit(&serde_json::to_vec_pretty(&doc)?)?;
        writeln!(out, "wrote {}", path.display())?;
    }
    if plots.plot.is_some() || plots.html.is_some() {
        write_plots(plots, &handlers, starts, &text, &mut out)?;
    }
    let broken = verified && measured.stopped.iter().any(Option::is_some);
    Ok(if failures.is_empty() && !broken {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The variants: the handler, the handler with `--defer`'s modules
/// deferred, the `--compare` handler; their labels and runner specs. With
/// `--defer`, every variant reports its answers.
fn variants(
    args: &BenchArgs,
    handler: &str,
    python: &std::path::Path,
) -> (Vec<String>, Vec<runner::RunnerSpec>) {
    let answers = !args.defer.is_empty();
    let spec = |h: &str| {
        runner::RunnerSpec::new(python, h)
            .event(args.event.clone())
            .answers(answers)
    };
    let mut labels = vec![handler.to_string()];
    let mut specs = vec![spec(handler)];
    if answers {
        labels.push(format!("{handler} with {} deferred", args.defer.join(", ")));
        specs.push(spec(handler).defer(&args.defer));
    }
    if let Some(other) = &args.compare {
        labels.push(other.clone());
        specs.push(spec(other));
    }
    (labels, specs)
}

/// How many rounds, and how each start is made.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Counted rounds (one start of every variant each).
    pub runs: u64,
    /// Rounds run first and not counted.
    pub warmup: u64,
    /// Drop the page cache before each start.
    pub drop_caches: bool,
    /// A start running longer is killed and counted as failed.
    pub timeout: Duration,
}

impl Plan {
    fn of(args: &BenchArgs) -> Self {
        Plan {
            runs: args.runs,
            warmup: args.warmup,
            drop_caches: args.drop_caches,
            timeout: Duration::from_secs_f64(args.timeout),
        }
    }
}

/// How progress goes to stderr: a counter rewritten in place on a
/// terminal; elsewhere nothing, or (`lines`) one line per round.
pub struct Progress<'a> {
    /// The prefix, e.g. `coldspy bench`.
    pub label: &'a str,
    /// One line per round when stderr is not a terminal.
    pub lines: bool,
    /// Checked before each start: true stops the measurement (the rounds so
    /// far are kept).
    pub stop: &'a dyn Fn() -> bool,
}

impl Progress<'_> {
    fn bench() -> Progress<'static> {
        Progress {
            label: "coldspy bench",
            lines: false,
            stop: &|| false,
        }
    }
}

/// What the rounds measured.
#[derive(Debug, Default)]
pub struct Measured {
    /// Every counted start that completed.
    pub starts: Vec<Start>,
    /// Counted starts that failed (timeout, crash).
    pub failures: Vec<Failed>,
    /// Per variant: the runner error that stopped a deferred variant (the
    /// handler raised with its imports deferred).
    pub stopped: Vec<Option<RunnerError>>,
    /// Per variant: its first start deferred nothing, so it was not started again.
    pub nothing_deferred: Vec<bool>,
    /// Counted rounds begun.
    pub rounds: u64,
    /// The measurement was stopped early ([`Progress::stop`]).
    pub interrupted: bool,
}

/// Starts every variant interleaved, the order reversed every other round
/// (A B, B A, …: a drift of the machine's load hits both alike), warm-up
/// rounds first. A runner error of a variant without deferred imports
/// (deterministic: every start would fail the same way) stops the bench; a
/// variant with deferred imports stops there, and also after a first start
/// that deferred nothing (another start would measure nothing new).
pub fn measure_all(
    plan: &Plan,
    specs: &[runner::RunnerSpec],
    progress: &Progress,
) -> anyhow::Result<Measured> {
    let tty = std::io::stderr().is_terminal();
    let mut m = Measured {
        stopped: vec![None; specs.len()],
        nothing_deferred: vec![false; specs.len()],
        ..Measured::default()
    };
    let total = (plan.warmup + plan.runs) * specs.len() as u64;
    let mut done = 0;
    let began = std::time::Instant::now();
    'rounds: for round in 0..plan.warmup + plan.runs {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..specs.len()).collect()
        } else {
            (0..specs.len()).rev().collect()
        };
        for variant in order {
            done += 1;
            if m.stopped[variant].is_some() || m.nothing_deferred[variant] {
                continue;
            }
            if (progress.stop)() {
                m.interrupted = true;
                break 'rounds;
            }
            let spec = &specs[variant];
            if plan.drop_caches {
                crate::sys::cache::drop_caches()
                    .context("dropping the page cache (--drop-caches needs root)")?;
            }
            let result = measure::start_once(spec, variant, plan.timeout)?;
            if tty {
                eprint!("\r[{}] {done}/{total} starts", progress.label);
            }
            match result {
                Err(Failure::Runner(e)) if spec.defer.is_empty() => bail!("{}: {e}", spec.handler),
                Err(Failure::Runner(e)) => m.stopped[variant] = Some(e),
                Ok(start) => {
                    m.nothing_deferred[variant] = start
                        .deferral
                        .as_ref()
                        .is_some_and(|d| d.modules.iter().all(|x| x.state != "deferred"));
                    // Kept even from a warm-up round when it deferred nothing:
                    // it is the one start that says why.
                    if round >= plan.warmup || m.nothing_deferred[variant] {
                        m.starts.push(start);
                    }
                }
                Err(_) if round < plan.warmup => {}
                Err(other) => m.failures.push((variant, round - plan.warmup, other)),
            }
        }
        if round >= plan.warmup {
            m.rounds += 1;
        }
        if progress.lines && !tty {
            let rounds = plan.warmup + plan.runs;
            let spent = began.elapsed().as_secs_f64();
            let left = spent / (round + 1) as f64 * (rounds - round - 1) as f64;
            eprintln!(
                "[{}] round {}/{rounds} ({spent:.0} s, about {left:.0} s to go)",
                progress.label,
                round + 1,
            );
        }
    }
    if tty {
        eprintln!();
    }
    Ok(m)
}

/// `--plot` and `--html`, checked before the first start.
struct Plots {
    plot: Option<crate::sys::OutputFile>,
    html: Option<crate::sys::OutputFile>,
}

/// The CDF plot (`--plot`) and the HTML page (`--html`).
fn write_plots(
    plots: Plots,
    handlers: &[String],
    starts: &[Start],
    text: &[u8],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut series = Vec::new();
    for (v, handler) in handlers.iter().enumerate() {
        for name in ["init", "end-to-end"] {
            series.push((format!("{name}: {handler}"), values_of(starts, v, name)));
        }
    }
    let svg = plot::cdf_svg("cold starts: CDF of init and end-to-end time", &series);
    if let Some(file) = plots.plot {
        let path = file.commit(svg.as_bytes())?;
        writeln!(out, "wrote {}", path.display())?;
    }
    if let Some(file) = plots.html {
        let title = format!("coldspy bench: {}", handlers.join(" vs "));
        let page = plot::html_page(&title, &String::from_utf8_lossy(text), &svg);
        let path = file.commit(page.as_bytes())?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(())
}

/// One phase's times (ms) of one variant's starts.
fn values_of(starts: &[Start], variant: usize, name: &str) -> Vec<f64> {
    starts
        .iter()
        .filter(|s| s.variant == variant)
        .map(|s| phase(s, name))
        .collect()
}

fn summarize(
    handlers: &[String],
    starts: &[Start],
    failures: &[Failed],
    out: &mut dyn Write,
) -> anyhow::Result<serde_json::Value> {
    let mut variants = Vec::new();
    for (v, handler) in handlers.iter().enumerate() {
        variants.push(summarize_variant(v, handler, starts, failures, out)?);
    }
    // `comparison`: the second variant against the first (schema version 1);
    // `comparisons`: every other variant against the first.
    let mut comparisons = Vec::new();
    for v in 1..handlers.len() {
        comparisons.push(compare_with_first(handlers, v, starts, out)?);
    }
    let comparison = comparisons.first().cloned().unwrap_or_default();
    let mut summary = json!({"variants": variants, "comparison": comparison});
    if comparisons.len() > 1 {
        summary["comparisons"] = json!(comparisons);
    }
    Ok(summary)
}

/// One variant's counts, phase statistics and peak RSS, printed and as JSON.
fn summarize_variant(
    v: usize,
    handler: &str,
    starts: &[Start],
    failures: &[Failed],
    out: &mut dyn Write,
) -> anyhow::Result<serde_json::Value> {
    let mine: Vec<&Start> = starts.iter().filter(|s| s.variant == v).collect();
    let failed = failures.iter().filter(|f| f.0 == v).count();
    writeln!(out, "{handler}: {} starts, {failed} failed", mine.len())?;
    for (_, _, failure) in failures.iter().filter(|f| f.0 == v).take(3) {
        writeln!(out, "  failed: {failure}")?;
    }
    let mut phases = serde_json::Map::new();
    for name in PHASES {
        let values = values_of(starts, v, name);
        if values.is_empty() {
            continue;
        }
        let (lo, hi) = stats::median_ci(&values);
        let median = stats::median(&values);
        let (p90, p99) = (
            stats::quantile(&values, 0.9),
            stats::quantile(&values, 0.99),
        );
        writeln!(
            out,
            "  {name:<11} median {median:8.2} ms  95% CI [{lo:.2}, {hi:.2}]  p90 {p90:8.2}  p99 {p99:8.2}"
        )?;
        phases.insert(
            name.to_string(),
            json!({"median_ms": median, "ci95_ms": [lo, hi], "p90_ms": p90, "p99_ms": p99}),
        );
    }
    let rss: Vec<f64> = mine
        .iter()
        .map(|s| s.peak_rss_kib as f64 / 1024.0)
        .collect();
    if !rss.is_empty() {
        writeln!(
            out,
            "  {:<11} median {:8.1} MiB",
            "peak RSS",
            stats::median(&rss)
        )?;
    }
    Ok(json!({"handler": handler, "starts": mine.len(), "failed": failed, "phases": phases}))
}

/// Variant `v` against the first, phase by phase.
fn compare_with_first(
    handlers: &[String],
    v: usize,
    starts: &[Start],
    out: &mut dyn Write,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut comparison = serde_json::Map::new();
    writeln!(
        out,
        "{} vs {} (difference of medians with bootstrap 95% CI; two-sided Mann-Whitney U):",
        handlers[v], handlers[0]
    )?;
    for name in PHASES {
        let a = values_of(starts, 0, name);
        let b = values_of(starts, v, name);
        if a.len() < 2 || b.len() < 2 {
            continue;
        }
        let diff = stats::median(&b) - stats::median(&a);
        let (lo, hi) = stats::median_difference_ci(&a, &b);
        let test = stats::mann_whitney(&a, &b);
        let pct = 100.0 * diff / stats::median(&a);
        let verdict = if test.p < 0.05 {
            "significant"
        } else {
            "no significant difference"
        };
        writeln!(
            out,
            "  {name:<11} {diff:+8.1} ms ({pct:+.1} %)  95% CI [{lo:+.1}, {hi:+.1}]  p = {:.3e}  {verdict}",
            test.p
        )?;
        comparison.insert(
            name.to_string(),
            json!({"difference_ms": diff, "difference_pct": pct, "ci95_ms": [lo, hi], "mann_whitney_u": test.u, "p_value": test.p, "significant": test.p < 0.05}),
        );
    }
    Ok(comparison)
}
