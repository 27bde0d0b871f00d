//! `coldspy bench`: start a function cold N times with coldspy's own runner,
//! measure interpreter start, init, first exec, end-to-end and peak RSS of
//! each start, and compare variants run interleaved.
//!
//! The flow: [`BenchArgs`] → [`Variant`]s → the interleaved run loop (one
//! [`start::cold_start`] per run) → [`report::BenchReport`] → the terminal
//! ([`terminal`]), JSON and a CDF plot ([`plot`]).

pub mod format;
pub mod plot;
pub mod report;
pub mod runner;
pub mod start;
pub mod stats;
pub mod terminal;

use clap::Args;
use report::{BenchConfig, BenchReport, RunRecord};
use runner::{RunnerScript, RunnerSpec, ServeSpec};
use start::{StartFailure, StartOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `coldspy bench`.
///
/// Options given once apply to every variant; `--handler`, `--event`,
/// `--python` and `--name` given once per variant (in order) make variants:
/// `coldspy bench --handler a.py:h --event e.json --compare --handler b.py:h`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The function: FILE.py:FUNCTION or MODULE:FUNCTION (repeat to compare variants).
    #[arg(long, value_name = "HANDLER", required = true)]
    pub handler: Vec<String>,
    /// JSON event file given to the handler (default: {}).
    #[arg(long, value_name = "FILE")]
    pub event: Vec<PathBuf>,
    /// Python interpreter that runs the function (e.g. a virtualenv's bin/python).
    #[arg(long, value_name = "PYTHON")]
    pub python: Vec<PathBuf>,
    /// Name of a variant in the output (default: its handler).
    #[arg(long)]
    pub name: Vec<String>,
    /// Where the second variant's options begin (readability only: two
    /// `--handler`, `--event`, `--python` always make two variants).
    #[arg(long)]
    pub compare: bool,
    /// Cold starts per variant.
    #[arg(long, short = 'r', default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Unmeasured starts per variant before the measured ones.
    #[arg(long, short = 'w', default_value_t = 0)]
    pub warmup: u32,
    /// Drop the page cache before each start: the truly cold disk case (root).
    #[arg(long)]
    pub drop_caches: bool,
    /// Kill a start that takes longer than this (e.g. 500ms, 30s); it counts as failed.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Handler invocations per start (the first one is measured as "first exec").
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub invocations: u32,
    /// HTTP mode: the runner serves on 127.0.0.1 and end-to-end ends at the
    /// first answer (the event is POSTed as the request body).
    #[arg(long)]
    pub serve: bool,
    /// Write every run and the summary as JSON to this file.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the CDF plots (init, first exec, end-to-end) as SVG to this file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// Errors that stop a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The options do not describe a benchmark.
    #[error("{0}")]
    Usage(String),
    /// The event file cannot be read.
    #[error("cannot read event file {path}: {source}")]
    EventUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The event file is not JSON.
    #[error("event file {path} is not valid JSON: {reason}")]
    EventInvalid {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// The interpreter cannot be started.
    #[error("cannot start the Python interpreter {}: {source}", interpreter.display())]
    Spawn {
        /// The interpreter.
        interpreter: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The page cache cannot be dropped.
    #[error("--drop-caches needs root: cannot write /proc/sys/vm/drop_caches: {0}")]
    DropCaches(std::io::Error),
    /// The runner plumbing failed.
    #[error(transparent)]
    Runner(#[from] runner::RunnerError),
    /// The function cannot start at all (bad handler, function, or event).
    #[error("{variant}: {message}")]
    Function {
        /// The variant.
        variant: String,
        /// The runner's message.
        message: String,
    },
    /// Every run of a variant failed.
    #[error("all {runs} runs of {variant} failed; the first: {first}")]
    AllFailed {
        /// The variant.
        variant: String,
        /// How many runs.
        runs: usize,
        /// The first failure.
        first: String,
    },
    /// An output file cannot be written.
    #[error("cannot write {path}: {reason}")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// One function configuration under test.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Its name in the output.
    pub name: String,
    /// What the runner runs.
    pub spec: RunnerSpec,
    /// The event's bytes (`{}` without an event file).
    pub event_body: Vec<u8>,
}

/// Runs `coldspy bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let variants = variants(&args)?;
    let script = RunnerScript::install()?;
    let config = BenchConfig {
        runs: args.runs,
        warmup: args.warmup,
        drop_caches: args.drop_caches,
        timeout_ms: args.timeout.as_secs_f64() * 1e3,
        invocations: args.invocations,
        mode: if args.serve { "http" } else { "direct" }.to_owned(),
    };
    let records = run_all(&variants, &script, &args)?;
    let report = BenchReport::new(config, &variants, &script, records);
    terminal::print_report(&report);
    if let Some(path) = &args.output {
        report.write_json(path)?;
    }
    if let Some(path) = &args.plot {
        plot::write_cdf_svg(&report, path)?;
    }
    report.check_all_failed()?;
    Ok(ExitCode::SUCCESS)
}

/// Builds the variants: each of `--handler`, `--event`, `--python`, `--name`
/// is given once (shared) or once per variant.
pub fn variants(args: &BenchArgs) -> Result<Vec<Variant>, BenchError> {
    let count = [
        args.handler.len(),
        args.event.len(),
        args.python.len(),
        args.name.len(),
    ]
    .into_iter()
    .max()
    .unwrap_or(1)
    .max(1);
    let pick = |option: &str, given: usize| -> Result<(), BenchError> {
        if given > 1 && given != count {
            return Err(BenchError::Usage(format!(
                "--{option} was given {given} times for {count} variants; give it once (shared by all) or once per variant"
            )));
        }
        Ok(())
    };
    pick("handler", args.handler.len())?;
    pick("event", args.event.len())?;
    pick("python", args.python.len())?;
    pick("name", args.name.len())?;
    let nth = |list: &[PathBuf], index: usize| list.get(index).or(list.first()).cloned();
    let mut variants = Vec::with_capacity(count);
    for index in 0..count {
        let handler = args.handler.get(index).unwrap_or(&args.handler[0]).clone();
        let event = nth(&args.event, index);
        let event_body = match &event {
            Some(path) => read_event(path)?,
            None => b"{}".to_vec(),
        };
        let interpreter = nth(&args.python, index).unwrap_or_else(|| PathBuf::from("python3"));
        let name = match args.name.get(index) {
            Some(name) if args.name.len() == count => name.clone(),
            _ => default_name(args, index, &handler, &interpreter),
        };
        variants.push(Variant {
            name,
            spec: RunnerSpec {
                interpreter,
                handler,
                event,
                invocations: args.invocations,
                serve: args.serve.then_some(ServeSpec {
                    port: 0,
                    warm_up: false,
                    wait_before_bind: false,
                    port_file: None,
                }),
            },
            event_body,
        });
    }
    if let Some(duplicate) = variants
        .iter()
        .enumerate()
        .find(|(i, v)| variants[..*i].iter().any(|w| w.name == v.name))
    {
        return Err(BenchError::Usage(format!(
            "two variants are named {:?}; name them with --name",
            duplicate.1.name
        )));
    }
    Ok(variants)
}

/// A variant's default name: its handler, or what tells it apart.
fn default_name(
    args: &BenchArgs,
    index: usize,
    handler: &str,
    interpreter: &std::path::Path,
) -> String {
    if args.handler.len() > 1 || (args.python.len() <= 1 && args.event.len() <= 1) {
        handler.to_owned()
    } else if args.python.len() > 1 {
        format!("{handler} ({})", interpreter.display())
    } else {
        format!("{handler} (event {})", args.event[index].display())
    }
}

/// Reads an event file and checks that it is JSON.
fn read_event(path: &std::path::Path) -> Result<Vec<u8>, BenchError> {
    let body = std::fs::read(path).map_err(|source| BenchError::EventUnreadable {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice::<serde_json::Value>(&body).map_err(|e| BenchError::EventInvalid {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(body)
}

/// Warm-up, then `runs` rounds; within a round every variant starts once, in
/// an order reversed every other round (ABBA…), so drifts of the machine hit
/// all variants alike. Returns the records per variant.
fn run_all(
    variants: &[Variant],
    script: &RunnerScript,
    args: &BenchArgs,
) -> Result<Vec<Vec<RunRecord>>, BenchError> {
    let options = |variant: &Variant| StartOptions {
        timeout: args.timeout,
        drop_caches: args.drop_caches,
        event_body: variant.event_body.clone(),
    };
    let total = u64::from(args.runs + args.warmup) * variants.len() as u64;
    let progress = terminal::progress_bar(total);
    for _ in 0..args.warmup {
        for variant in variants {
            progress.set_message(format!("warm-up: {}", variant.name));
            if let Err(failure) = start::cold_start(&variant.spec, script, &options(variant))? {
                abort_on_setup_error(variant, &failure)?;
            }
            progress.inc(1);
        }
    }
    let mut records: Vec<Vec<RunRecord>> = vec![Vec::new(); variants.len()];
    let mut order = 0;
    for round in 0..args.runs as usize {
        let mut indices: Vec<usize> = (0..variants.len()).collect();
        if round % 2 == 1 {
            indices.reverse();
        }
        for index in indices {
            let variant = &variants[index];
            progress.set_message(variant.name.clone());
            let outcome = start::cold_start(&variant.spec, script, &options(variant))?;
            if let Err(failure) = &outcome {
                abort_on_setup_error(variant, failure)?;
                progress.println(format!(
                    "  run {} of {} failed: {failure}",
                    round + 1,
                    variant.name
                ));
            }
            records[index].push(RunRecord::new(order, round, outcome));
            order += 1;
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    Ok(records)
}

/// Stops the benchmark when the function cannot start at all: every other
/// start would fail the same way.
fn abort_on_setup_error(variant: &Variant, failure: &StartFailure) -> Result<(), BenchError> {
    match failure {
        StartFailure::Runner { kind, message } if kind.is_setup_error() => {
            Err(BenchError::Function {
                variant: variant.name.clone(),
                message: message.clone(),
            })
        }
        _ => Ok(()),
    }
}
