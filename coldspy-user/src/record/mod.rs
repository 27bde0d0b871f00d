//! `coldspy record`: start or attach to a Python process, collect samples,
//! file opens and imports in the kernel, and write a profile.
//!
//! The launch path holds the child before `exec` ([`launch`]); the kernel
//! stops it again at `exec` and, for a shared libpython, at the executable's
//! entry point, so that its layout is in the map before any Python runs
//! ([`session`]).

pub mod all;
pub(crate) mod handler_watch;
mod launch;
mod prearm;
pub(crate) mod preflight;
mod session;
pub mod statements;
mod summary;
pub mod verify;
mod warm;

use crate::sys::output::commit_or_fallback;
use crate::sys::{resolve, OutputFile};

use anyhow::Context as _;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `coldspy record`.
#[derive(Debug, Args)]
#[command(
    after_help = "Signals: SIGINT, SIGTERM and SIGHUP stop the recording and are passed on to a started command; one that has not exited 5 s later is killed with SIGKILL. The profile recorded so far is written in every case.\n\nExamples:\n  sudo coldspy record -o app.json -- python3 app.py\n  sudo coldspy record --pid 1234 --duration 10"
)]
pub struct RecordArgs {
    /// Where to write the profile (JSON); `-` = standard output (the
    /// summary then goes to stderr). A device or FIFO is written into, never
    /// replaced. Checked before the target starts; if writing fails after
    /// recording, the profile goes to $TMPDIR/coldspy-PID-TIME-profile.json
    /// and that path is printed.
    #[arg(short, long, default_value = "coldspy.profile.json")]
    pub output: PathBuf,
    /// Sampling frequency per CPU, in Hz (200 = the 5 ms interval of the original method).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub rate: u64,
    /// Attach to this running process instead of starting a command.
    #[arg(long, conflicts_with = "command")]
    pub pid: Option<u32>,
    /// With --pid: also profile the process's existing descendants (at any
    /// depth) and every process it forks or execs afterwards. Without it,
    /// --pid covers that one process only.
    #[arg(long, requires = "pid")]
    pub subprocesses: bool,
    /// Stop recording after this many seconds. An attached process (--pid)
    /// keeps running. A started command keeps running too: the profile is
    /// written when the time is up, then coldspy waits for the command and
    /// exits with its status (Ctrl-C is passed on to it: see below).
    #[arg(long, value_parser = crate::sys::seconds::positive_seconds)]
    pub duration: Option<f64>,
    /// Also write the raw symbolized trace (a replayable fixture) here.
    #[arg(long)]
    pub save_trace: Option<PathBuf>,
    /// Do not time imports (lower overhead; CPU samples and files only).
    #[arg(long)]
    pub no_imports: bool,
    /// Do not record file opens.
    #[arg(long)]
    pub no_files: bool,
    /// Do not print the summary at the end.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print what each of coldspy's kernel programs cost during the
    /// recording (runs, mean and total run time, counted by the kernel:
    /// every run, on every process and CPU; the traps around them are not
    /// included). Adds ≈ 20 ns to every run of every BPF program on the
    /// host while recording.
    #[arg(long)]
    pub program_costs: bool,
    /// Profile a function instead of a command: path/to/app.py:function or
    /// package.module:function, loaded by coldspy's runner like a FaaS
    /// runtime; phases (init, each invocation) are then exact.
    #[arg(long, conflicts_with_all = ["pid", "command"])]
    pub handler: Option<String>,
    /// With --handler: the event (a JSON file; default `{}`).
    #[arg(long, requires = "handler")]
    pub event: Option<PathBuf>,
    /// How many invocations: with --handler, the runner makes them after
    /// init (default 1); with a FaaS runtime coldspy recognizes
    /// (awslambdaric, functions-framework, OpenFaaS; --pid: a warm
    /// awslambdaric), recording stops once the runtime has made this many
    /// handler calls.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub invocations: Option<u32>,
    /// With --handler: the interpreter.
    #[arg(long, default_value = "python3", requires = "handler")]
    pub python: String,
    /// With --handler: after recording, verify the top findings (at most 3,
    /// those with a module to defer) by experiment: cold starts with the
    /// module's import deferred by coldspy's runner (no code change),
    /// interleaved with the unchanged function; the report shows
    /// "verified: …" or "not verified: …" beside each finding.
    #[arg(long, requires = "handler")]
    pub verify: bool,
    /// With --verify: rounds, each one cold start of the unchanged function
    /// and one of each finding's deferred variant.
    #[arg(long, default_value_t = 10, requires = "verify", value_parser = clap::value_parser!(u64).range(2..=1000))]
    pub verify_rounds: u64,
    /// The command to start and profile (after `--`).
    #[arg(last = true, required_unless_present_any = ["pid", "handler", "all"])]
    pub command: Vec<String>,
    /// System-wide recording.
    #[command(flatten)]
    pub system_wide: all::AllArgs,
}

/// What to record.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start this command (resolved program, argv).
    Launch(PathBuf, Vec<String>),
    /// Attach to this process.
    Pid(u32),
}

/// Runs `coldspy record`.
pub fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    preflight::check_privileges()?;
    let (target, marks) = target_of(&args)?;
    preflight::check_tracefs()?;
    // Every output path is checked before the target starts.
    let output = OutputFile::create(&args.output)?;
    let trace_output = args
        .save_trace
        .as_deref()
        .map(OutputFile::create)
        .transpose()?;
    let options = session::Options {
        sample_hz: args.rate,
        duration: args.duration.map(std::time::Duration::from_secs_f64),
        track_imports: !args.no_imports,
        track_files: !args.no_files,
        marks,
        subprocesses: args.subprocesses,
        keep_samples: args.save_trace.is_some(),
        stop_after_invocations: args.invocations.filter(|_| args.handler.is_none()),
        program_costs: args.program_costs,
    };
    let recorded = session::record(&target, options)?;
    if args.program_costs {
        eprint!("{}", program_costs_table(&recorded.program_costs));
    }
    if let (true, Some(signal)) = (
        recorded.trace.meta.python_version.is_empty(),
        recorded.interrupted_by,
    ) {
        let what = match &target {
            Target::Launch(_, argv) => argv.join(" "),
            Target::Pid(pid) => format!("process {pid}"),
        };
        return Err(crate::error::SetupError::Interrupted { signal, what }.into());
    }
    if recorded.trace.meta.python_version.is_empty() {
        anyhow::bail!(
            "{} never ran a Python interpreter (no program it executed holds _PyRuntime); nothing recorded",
            args.command.join(" ")
        );
    }
    if let Some(error) = &recorded.runner_error {
        eprintln!(
            "coldspy: {}: {error}",
            args.handler.as_deref().unwrap_or("")
        );
    }
    let summary_to_stderr = output.is_stdout();
    let (profile, analysis, written, write_failed) =
        analyse_and_write(&args, &recorded, output, trace_output)?;
    if recorded.killed_after_grace {
        eprintln!(
            "coldspy: {} did not exit within 5 s of {}; killed it with SIGKILL",
            args.command.join(" "),
            recorded
                .interrupted_by
                .map(crate::error::signal_name)
                .unwrap_or_default()
        );
    }
    if !args.quiet {
        print_summary(&profile, &analysis, &written, summary_to_stderr)?;
    }
    let mut exit_code = recorded.exit_code;
    if let Some(held) = &recorded.still_running {
        if !args.quiet {
            eprintln!(
                "coldspy: --duration ended the recording; {} goes on and coldspy waits for it (its exit status becomes coldspy's)",
                args.command.join(" ")
            );
        }
        exit_code = session::wait_for_command(held);
    }
    if write_failed {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::from(exit_code.clamp(0, 255) as u8))
}

/// The target named by the arguments (old CPython versions and thread ids
/// resolved before anything is loaded) and, with --handler, the marks pipe.
fn target_of(args: &RecordArgs) -> anyhow::Result<(Target, Option<crate::runner::MarksPipe>)> {
    let mut marks = None;
    let target = match (&args.pid, &args.handler) {
        (Some(pid), _) => Target::Pid(preflight::check_pid(*pid)?),
        (None, Some(handler)) => {
            if let Some(event) = &args.event {
                std::fs::metadata(event)
                    .with_context(|| format!("event file {}", event.display()))?;
            }
            let python = resolve(&args.python)?;
            let real = std::fs::canonicalize(&python).unwrap_or_else(|_| python.clone());
            preflight::check_not_old_cpython([python.as_path(), real.as_path()])?;
            let spec = crate::runner::RunnerSpec::new(&python, handler)
                .event(args.event.clone())
                .invocations(args.invocations.unwrap_or(1))
                .init_use(true);
            let pipe = crate::runner::MarksPipe::new()?;
            let argv = spec.argv(&crate::runner::runner_path()?, pipe.write_fd());
            marks = Some(pipe);
            Target::Launch(spec.python.clone(), argv)
        }
        (None, None) => {
            let program = resolve(&args.command[0])?;
            let real = std::fs::canonicalize(&program).unwrap_or_else(|_| program.clone());
            preflight::check_not_old_cpython([program.as_path(), real.as_path()])?;
            Target::Launch(program, args.command.clone())
        }
    };
    Ok((target, marks))
}

/// Builds and analyses the profile and writes it (and the trace); with
/// `--verify`, runs the experiment and writes the profile again with its
/// results. Returns the profile, its analysis, where it went and whether a
/// write failed.
fn analyse_and_write(
    args: &RecordArgs,
    recorded: &session::Recorded,
    output: OutputFile,
    trace_output: Option<OutputFile>,
) -> anyhow::Result<(
    crate::model::profile::Profile,
    crate::analysis::Analysis,
    PathBuf,
    bool,
)> {
    let mut profile = crate::model::build::build_profile(&recorded.trace);
    statements::fill(&mut profile, recorded.trace.meta.pid);
    let analysis = crate::analysis::analyze(&mut profile, crate::analysis::ScoreKind::Runtime);
    let to_stdout = output.is_stdout();
    let verify = verify_options(args, recorded)?;
    let candidates = verify::candidates(&profile, &analysis);
    // The profile first: whatever fails after recording, it is written
    // somewhere and that path is printed. It is written again with the
    // verifications (on standard output, only once: after them).
    if let (Some(options), true) = (&verify, to_stdout) {
        profile.verifications = verify::run(options, &candidates);
    }
    let (written, mut write_failed) = write_outputs(output, trace_output, &profile, recorded)?;
    if let (Some(options), false) = (&verify, to_stdout) {
        profile.verifications = verify::run(options, &candidates);
        write_failed |= rewrite(&written, &profile);
    }
    Ok((profile, analysis, written, write_failed))
}

/// With `--verify`, what the experiment needs; `None` without it, or when
/// the recording was interrupted or the handler failed (said on stderr).
fn verify_options(
    args: &RecordArgs,
    recorded: &session::Recorded,
) -> anyhow::Result<Option<verify::VerifyOptions>> {
    let Some(handler) = args.handler.as_deref().filter(|_| args.verify) else {
        return Ok(None);
    };
    if recorded.interrupted_by.is_some() || recorded.runner_error.is_some() {
        eprintln!("coldspy: --verify skipped: the recording did not complete");
        return Ok(None);
    }
    Ok(Some(verify::VerifyOptions {
        python: resolve(&args.python)?,
        handler: handler.to_string(),
        event: args.event.clone(),
        rounds: args.verify_rounds,
    }))
}

/// Writes the profile again, with its verifications, where it was written;
/// true when that failed (the first profile stays).
fn rewrite(written: &std::path::Path, profile: &crate::model::profile::Profile) -> bool {
    let result = serde_json::to_vec_pretty(profile)
        .map_err(anyhow::Error::from)
        .and_then(|bytes| Ok(OutputFile::create(written)?.commit(&bytes)?));
    match result {
        Ok(_) => false,
        Err(e) => {
            eprintln!(
                "coldspy: the verifications were not added to {}: {e:#}",
                written.display()
            );
            true
        }
    }
}

/// Writes the profile (and the trace), each to its path or to the
/// fallback; returns where the profile went and whether anything failed.
fn write_outputs(
    output: OutputFile,
    trace_output: Option<OutputFile>,
    profile: &crate::model::profile::Profile,
    recorded: &session::Recorded,
) -> anyhow::Result<(PathBuf, bool)> {
    let mut write_failed = false;
    let profile_bytes = serde_json::to_vec_pretty(&profile)?;
    let written = match commit_or_fallback(output, "profile", &profile_bytes) {
        Ok((path, None)) => path,
        Ok((path, Some(first))) => {
            eprintln!(
                "coldspy: {first}; the profile was written to {} instead",
                path.display()
            );
            write_failed = true;
            path
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(trace_out) = trace_output {
        let bytes = match &recorded.kept_samples {
            // The samples one by one (format 1): a fixture for any builder.
            Some(samples) => serde_json::to_vec(&crate::model::trace::Trace {
                format: None,
                samples: samples.clone(),
                sample_table: None,
                ..recorded.trace.clone()
            })?,
            None => serde_json::to_vec(&recorded.trace)?,
        };
        match commit_or_fallback(trace_out, "trace", &bytes) {
            Ok((_, None)) => {}
            Ok((path, Some(first))) => {
                eprintln!(
                    "coldspy: {first}; the trace was written to {} instead",
                    path.display()
                );
                write_failed = true;
            }
            Err(e) => {
                eprintln!("coldspy: the trace was not saved: {e}");
                write_failed = true;
            }
        }
    }
    Ok((written, write_failed))
}

/// The summary and the ranked table, control characters escaped; a closed
/// terminal (SIGHUP) does not turn a written profile into an error.
fn print_summary(
    profile: &crate::model::profile::Profile,
    analysis: &crate::analysis::Analysis,
    written: &std::path::Path,
    to_stderr: bool,
) -> anyhow::Result<()> {
    let mut text = Vec::new();
    summary::print(profile, written, &mut text)?;
    writeln!(text)?;
    crate::export::terminal::Terminal { top: 10 }.write_to(profile, analysis, &mut text)?;
    let text = crate::export::escape::terminal_text(&String::from_utf8_lossy(&text)).into_owned();
    let _ = if to_stderr {
        std::io::stderr().write_all(text.as_bytes())
    } else {
        std::io::stdout().write_all(text.as_bytes())
    };
    Ok(())
}

/// The `--program-costs` table: one line per program that ran.
fn program_costs_table(costs: &[crate::loader::ProgramCost]) -> String {
    let mut text = String::from(
        "coldspy: kernel programs during the recording (every run, every process and CPU):\n\
         program                              runs    mean us   total ms\n",
    );
    for cost in costs {
        text.push_str(&format!(
            "{:<32} {:>8} {:>10.2} {:>10.3}\n",
            cost.name,
            cost.runs,
            cost.total_ns as f64 / cost.runs as f64 / 1000.0,
            cost.total_ns as f64 / 1e6,
        ));
    }
    let total: u64 = costs.iter().map(|c| c.total_ns).sum();
    text.push_str(&format!(
        "{:<32} {:>8} {:>10} {:>10.3}\n",
        "all",
        "",
        "",
        total as f64 / 1e6
    ));
    text
}
