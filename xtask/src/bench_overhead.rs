//! `cargo xtask bench overhead`: how much a profiler slows a cold start,
//! coldspy beside py-spy and `-X importtime`, all variants interleaved run
//! by run in one run.
//!
//! The target (`examples/bench/self_timed.py`: ten standard-library
//! imports and a short loop) times itself from its first line, so what is
//! compared is what each profiler costs the program while it runs, not
//! the profiler's own start-up before it releases the command. The kernel
//! also times each interpreter from its `exec` to its exit (a bpftrace
//! script on `sched_process_exec` / `sched_process_exit`): the whole
//! process, holds before the first line included.

use crate::bench::{median, median_ci};
use crate::setup::{self, SetupArgs};
use crate::util::repo_root;
use anyhow::{bail, Context, Result};
use coldspy_core::stats::quantile;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How a variant starts the target.
enum Launch {
    /// The interpreter alone, with these options before the script.
    Python(&'static [&'static str]),
    /// `coldspy record` (the binary under test) with these options.
    Coldspy(&'static [&'static str]),
    /// The same with the binary named by `COLDSPY_BENCH_BASELINE`.
    Baseline(&'static [&'static str]),
    /// `py-spy record` with these options.
    PySpy(&'static [&'static str]),
    /// An empty bpftrace `profile` probe at this rate: what sampling on the
    /// target's CPU costs before any program does any work (the timer
    /// interrupts alone), the floor of every in-kernel sampler.
    EmptySampler(u32),
}

/// One way of starting the target.
struct Variant {
    name: &'static str,
    launch: Launch,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "plain",
        launch: Launch::Python(&[]),
    },
    Variant {
        name: "python -X importtime",
        launch: Launch::Python(&["-X", "importtime"]),
    },
    Variant {
        name: "py-spy 100 Hz",
        launch: Launch::PySpy(&["--rate", "100"]),
    },
    Variant {
        name: "py-spy 1000 Hz --nonblocking",
        launch: Launch::PySpy(&["--rate", "1000", "--nonblocking"]),
    },
    Variant {
        name: "empty kernel sampler 200 Hz",
        launch: Launch::EmptySampler(200),
    },
    Variant {
        name: "empty kernel sampler 1000 Hz",
        launch: Launch::EmptySampler(1000),
    },
    Variant {
        name: "coldspy 200 Hz",
        launch: Launch::Coldspy(&["--rate", "200"]),
    },
    Variant {
        name: "coldspy 1000 Hz",
        launch: Launch::Coldspy(&["--rate", "1000"]),
    },
    Variant {
        name: "coldspy 200 Hz, no imports",
        launch: Launch::Coldspy(&["--rate", "200", "--no-imports"]),
    },
    Variant {
        name: "baseline coldspy 200 Hz",
        launch: Launch::Baseline(&["--rate", "200"]),
    },
    Variant {
        name: "baseline coldspy 1000 Hz",
        launch: Launch::Baseline(&["--rate", "1000"]),
    },
];

/// What the variants run.
struct Tools {
    python: PathBuf,
    script: PathBuf,
    coldspy: PathBuf,
    baseline: Option<PathBuf>,
    py_spy: PathBuf,
    scratch: PathBuf,
}

/// One start: the interpreter's pid and its self-timed µs.
type Start = Option<(u32, u64)>;

/// Runs the bench: `runs` interleaved rounds of every variant.
pub fn run(runs: usize) -> Result<()> {
    setup::run(&SetupArgs { core: true })?;
    let scratch = std::env::temp_dir().join(format!("coldspy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let tools = Tools {
        python: setup::venv_dir("pyenv-3.12").join("bin/python"),
        script: repo_root().join("examples/bench/self_timed.py"),
        coldspy: crate::util::build_release("bench")?,
        baseline: std::env::var_os("COLDSPY_BENCH_BASELINE").map(PathBuf::from),
        py_spy: setup::py_spy()?,
        scratch,
    };
    let variants: Vec<&Variant> = VARIANTS
        .iter()
        .filter(|v| tools.baseline.is_some() || !matches!(v.launch, Launch::Baseline(_)))
        .collect();
    let lifetimes = tools.scratch.join("lifetimes.txt");
    let mut tracer = start_tracer(&lifetimes)?;
    println!(
        "[bench] {runs} interleaved starts of each of {} variants",
        variants.len()
    );
    let mut starts: Vec<Vec<Start>> = vec![Vec::new(); variants.len()];
    for round in 0..runs {
        for (i, variant) in variants.iter().enumerate() {
            starts[i].push(start_once(variant, &tools)?);
        }
        if (round + 1) % 10 == 0 {
            println!("[bench] {} / {runs} rounds", round + 1);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = tracer.kill();
    let _ = tracer.wait();
    let by_pid = read_lifetimes(&lifetimes)?;
    report(&variants, &starts, &by_pid)?;
    program_costs(&tools)?;
    let _ = std::fs::remove_dir_all(&tools.scratch);
    Ok(())
}

/// One more start under coldspy at 200 Hz with `--program-costs`: what its
/// kernel programs cost in a start, program by program.
fn program_costs(tools: &Tools) -> Result<()> {
    println!("\none more start under coldspy 200 Hz, `--program-costs`:");
    let status = Command::new(&tools.coldspy)
        .args(["record", "-q", "--program-costs", "--rate", "200", "-o"])
        .arg(tools.scratch.join("profile"))
        .arg("--")
        .arg(&tools.python)
        .arg(&tools.script)
        .env(
            "COLDSPY_BENCH_SELF_TIMED",
            tools.scratch.join("self_timed.txt"),
        )
        .stdout(Stdio::null())
        .status()
        .context("starting coldspy --program-costs")?;
    if !status.success() {
        bail!("coldspy --program-costs failed ({status})");
    }
    Ok(())
}

/// Prints the table: self-timed medians and ratios, and the whole process's paired ratio.
fn report(variants: &[&Variant], starts: &[Vec<Start>], by_pid: &HashMap<u32, u64>) -> Result<()> {
    let self_ms = |v: usize, round: usize| starts[v][round].map(|(_, us)| us as f64 / 1000.0);
    let whole_ms = |v: usize, round: usize| {
        let (pid, _) = starts[v][round]?;
        by_pid.get(&pid).map(|us| *us as f64 / 1000.0)
    };
    let rounds = starts[0].len();
    let all = |v: usize| -> Vec<f64> { (0..rounds).filter_map(|r| self_ms(v, r)).collect() };
    let base = median(&all(0));
    println!("\nexamples/bench/self_timed.py (pyenv 3.12: ten stdlib imports and a loop), timed from its first line:");
    println!(
        "{:<30} {:>4} {:>10} {:>19} {:>7} {:>25} {:>25}",
        "variant", "n", "median ms", "IQR ms", "ratio", "paired [95% CI]", "whole process [95% CI]"
    );
    for (i, variant) in variants.iter().enumerate() {
        let ms = all(i);
        if ms.len() < rounds / 2 {
            bail!(
                "only {} of {rounds} starts of '{}' timed themselves",
                ms.len(),
                variant.name
            );
        }
        // Each start against the plain start of the same round (adjacent in
        // time): slow drifts of a shared machine cancel out.
        let paired = |time: &dyn Fn(usize, usize) -> Option<f64>| -> String {
            let ratios: Vec<f64> = (0..rounds)
                .filter_map(|r| Some(time(i, r)? / time(0, r)?))
                .collect();
            if ratios.is_empty() {
                return "-".into();
            }
            let (lo, hi) = median_ci(&ratios);
            format!("{:.3} [{lo:.3}, {hi:.3}]", median(&ratios))
        };
        println!(
            "{:<30} {:>4} {:>10.1} {:>8.1} – {:<8.1} {:>7.3} {:>25} {:>25}",
            variant.name,
            ms.len(),
            median(&ms),
            quantile(&ms, 0.25),
            quantile(&ms, 0.75),
            median(&ms) / base,
            paired(&self_ms),
            paired(&whole_ms),
        );
    }
    println!(
        "ratio = median of the variant / median of plain; paired = median over rounds of variant /\n\
         plain in the same round (95% CI: percentile bootstrap, 2,000 resamples); whole process =\n\
         the same for exec to exit (coldspy's holds at exec and entry included); variants\n\
         interleaved run by run."
    );
    Ok(())
}

/// Starts the target once under `variant`; its pid and self-timed µs
/// (`None` if it did not report them).
fn start_once(variant: &Variant, tools: &Tools) -> Result<Start> {
    let report = tools.scratch.join("self_timed.txt");
    let _ = std::fs::remove_file(&report);
    let profile = tools.scratch.join("profile");
    let mut command = match &variant.launch {
        Launch::Python(options) => {
            let mut c = Command::new(&tools.python);
            c.args(*options);
            c
        }
        Launch::Coldspy(options) | Launch::Baseline(options) => {
            let binary = match (&variant.launch, &tools.baseline) {
                (Launch::Baseline(_), Some(baseline)) => baseline,
                _ => &tools.coldspy,
            };
            let mut c = Command::new(binary);
            c.args(["record", "-q", "-o"]).arg(&profile).args(*options);
            c.arg("--").arg(&tools.python);
            c
        }
        Launch::PySpy(options) => {
            let mut c = Command::new(&tools.py_spy);
            c.args(["record", "-o"]).arg(&profile).args(*options);
            c.arg("--").arg(&tools.python);
            c
        }
        Launch::EmptySampler(hz) => {
            // bpftrace takes the command as one string; the script's path
            // has no spaces (the repository's).
            let mut c = Command::new("bpftrace");
            c.arg("-e")
                .arg(format!("profile:hz:{hz} {{ }}"))
                .arg("-c")
                .arg(format!(
                    "{} {}",
                    tools.python.display(),
                    tools.script.display()
                ));
            c
        }
    };
    if !matches!(variant.launch, Launch::EmptySampler(_)) {
        command.arg(&tools.script);
    }
    let status = command
        .env("COLDSPY_BENCH_SELF_TIMED", &report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("starting '{}'", variant.name))?;
    if !status.success() {
        // A peer's own failure (py-spy 0.4.3 panics in about one start of
        // 30 at 1 kHz `--nonblocking`) drops that start from its row (the
        // table's n); coldspy's or the interpreter's ends the bench.
        if matches!(variant.launch, Launch::PySpy(_)) {
            println!(
                "[bench] '{}' failed ({status}): start not counted",
                variant.name
            );
            return Ok(None);
        }
        bail!("'{}' failed ({status})", variant.name);
    }
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let mut fields = text.split_whitespace().map(str::parse::<u64>);
    Ok(match (fields.next(), fields.next()) {
        (Some(Ok(pid)), Some(Ok(us))) => Some((pid as u32, us)),
        _ => None,
    })
}

/// Starts bpftrace printing `pid lifetime_us` for every exec'd process that exits.
fn start_tracer(out: &Path) -> Result<std::process::Child> {
    let program = "tracepoint:sched:sched_process_exec { @start[pid] = nsecs; } \
        tracepoint:sched:sched_process_exit /@start[pid] && args->group_dead/ { \
        printf(\"%d %d\\n\", pid, (nsecs - @start[pid]) / 1000); delete(@start[pid]); }";
    let file = std::fs::File::create(out)?;
    let child = Command::new("bpftrace")
        .args(["-e", program])
        .stdout(file)
        .stderr(Stdio::null())
        .spawn()
        .context("starting bpftrace (cargo xtask setup installs it)")?;
    // bpftrace needs a moment to attach.
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let _ = Command::new("true").status();
        if std::fs::metadata(out).map(|m| m.len() > 0).unwrap_or(false) {
            return Ok(child);
        }
    }
    bail!("bpftrace did not start tracing within 10 s")
}

fn read_lifetimes(path: &Path) -> Result<HashMap<u32, u64>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect())
}
