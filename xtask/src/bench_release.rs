//! `cargo xtask bench release`: the time from `coldspy record` invoked to
//! the command it starts running, per build, alternated round by round.
//! The command is `/bin/date +%s%N`: its first line is the time it ran, so
//! invocation → that line is coldspy's whole set-up before the release
//! (loading, verifying and attaching its programs) plus one exec.
//! `--baseline PATH` puts another build beside this tree's.

use anyhow::{bail, Context, Result};
use coldspy_core::stats::quantile_sorted;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Options of `cargo xtask bench release`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReleaseArgs {
    /// Rounds (one start of each build per round).
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Another coldspy binary to measure beside this tree's (e.g. an older build).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
}

/// Runs the time-to-release benchmark and prints each build's median,
/// quartiles (coldspy-core's interpolated quantiles) and extremes.
pub fn run(args: &ReleaseArgs) -> Result<()> {
    let mut builds = vec![(
        "this tree".to_string(),
        crate::util::build_release("bench")?,
    )];
    if let Some(baseline) = &args.baseline {
        builds.push((format!("baseline {}", baseline.display()), baseline.clone()));
    }
    let scratch =
        std::env::temp_dir().join(format!("coldspy-bench-release-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let profile = scratch.join("profile.json");
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); builds.len()];
    for round in 0..args.runs {
        for (i, (_, binary)) in builds.iter().enumerate() {
            times[i].push(time_to_release(binary, &profile)?);
        }
        eprint!("\rround {}/{}", round + 1, args.runs);
    }
    eprintln!();
    let _ = std::fs::remove_dir_all(&scratch);
    println!("invocation of `coldspy record -- /bin/date +%s%N` to the command's first line, ms ({} alternated rounds)", args.runs);
    println!(
        "{:<60} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "build", "median", "q1", "q3", "min", "max"
    );
    for ((name, _), mut t) in builds.iter().zip(times) {
        t.sort_by(f64::total_cmp);
        let at = |q: f64| quantile_sorted(&t, q);
        println!(
            "{name:<60} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            at(0.5),
            at(0.25),
            at(0.75),
            t[0],
            t[t.len() - 1]
        );
    }
    Ok(())
}

/// One `record` of `/bin/date +%s%N`: ms from just before spawning coldspy
/// to the time the command printed.
fn time_to_release(coldspy: &Path, profile: &Path) -> Result<f64> {
    let invoked = realtime_ns();
    let out = Command::new(coldspy)
        .args(["record", "-o"])
        .arg(profile)
        .args(["--", "/bin/date", "+%s%N"])
        .output()
        .with_context(|| format!("running {}", coldspy.display()))?;
    // `record` then exits 1 ("never ran a Python interpreter"): only the
    // command's line matters here.
    let Some(printed) = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u128>().ok())
    else {
        bail!(
            "{} record: the command never ran ({}): {}",
            coldspy.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    };
    Ok(printed.saturating_sub(invoked) as f64 / 1e6)
}

/// Wall-clock time, ns (the clock `date +%s%N` reads).
fn realtime_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
