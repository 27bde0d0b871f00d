//! `cargo xtask bench memory`: the resident memory of a long
//! `coldspy record --pid` on a busy multi-threaded target
//! (`tests/scripts/busy_threads.py`, five threads), read from
//! `/proc/PID/status` every `--every` seconds. Samples are grouped as they
//! come, so the figure must stay flat after the first minute (±5 %).
//! `--coldspy PATH` measures another build (e.g. an older one) the same way.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `cargo xtask bench memory`.
#[derive(Debug, Clone, clap::Args)]
pub struct MemoryArgs {
    /// How long to record.
    #[arg(long, default_value_t = 10)]
    pub minutes: u64,
    /// Seconds between two readings.
    #[arg(long, default_value_t = 30)]
    pub every: u64,
    /// Sampling rate, Hz per CPU.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// The coldspy binary to measure (default: this tree's, built in release).
    #[arg(long)]
    pub coldspy: Option<PathBuf>,
}

const PYTHON: &str = "/root/.pyenv/versions/3.12.1/bin/python3.12";

/// Runs the memory benchmark.
pub fn run(args: &MemoryArgs) -> Result<()> {
    let coldspy = match &args.coldspy {
        Some(path) => path.clone(),
        None => crate::util::build_release("bench")?,
    };
    let scratch = std::env::temp_dir().join(format!("coldspy-bench-memory-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let script = crate::util::repo_root().join("tests/scripts/busy_threads.py");
    let mut target = Command::new(PYTHON)
        .arg(&script)
        .args(["1e9", "4"])
        .stdout(Stdio::null())
        .spawn()
        .context("start the target")?;
    std::thread::sleep(Duration::from_secs(2));
    let profile = scratch.join("profile.json");
    let mut record = Command::new(&coldspy)
        .args(["record", "-q", "--rate", &args.rate.to_string(), "--pid"])
        .arg(target.id().to_string())
        .arg("-o")
        .arg(&profile)
        .spawn()
        .context("start coldspy record")?;
    let readings = measure(record.id(), args);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(record.id() as i32, libc::SIGINT) };
    let status = record.wait()?;
    let _ = target.kill();
    let _ = target.wait();
    let readings = readings?;
    if !status.success() {
        bail!("coldspy record failed ({status})");
    }
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&profile)?)?;
    let samples = written["stats"]["samples"].as_u64().unwrap_or(0)
        + written["stats"]["native_samples"].as_u64().unwrap_or(0);
    report(&readings, samples, args);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// (seconds since coldspy started, VmRSS in KiB), every `args.every` seconds.
fn measure(pid: u32, args: &MemoryArgs) -> Result<Vec<(u64, u64)>> {
    let started = Instant::now();
    let mut readings = Vec::new();
    let total = args.minutes * 60;
    let mut at = args.every.min(total);
    loop {
        let wait = Duration::from_secs(at).saturating_sub(started.elapsed());
        std::thread::sleep(wait);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .context("coldspy record exited early")?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        println!("[memory] {at:>4} s  {:>7.1} MB", rss_kib as f64 / 1024.0);
        readings.push((at, rss_kib));
        if at >= total {
            return Ok(readings);
        }
        at = (at + args.every).min(total);
    }
}

fn report(readings: &[(u64, u64)], samples: u64, args: &MemoryArgs) {
    let after_minute: Vec<u64> = readings
        .iter()
        .filter(|(t, _)| *t >= 60)
        .map(|r| r.1)
        .collect();
    let (Some(&first), Some(&last)) = (after_minute.first(), after_minute.last()) else {
        println!("[memory] record at least a minute for the verdict");
        return;
    };
    let (low, high) = (
        *after_minute.iter().min().unwrap(),
        *after_minute.iter().max().unwrap(),
    );
    let spread = |v: u64| 100.0 * (v as f64 - first as f64) / first as f64;
    let growth = (last as f64 - first as f64) * 1024.0;
    let end = readings.last().map_or(0, |r| r.0).max(1);
    let samples_after = samples as f64 * (end.saturating_sub(60)) as f64 / end as f64;
    println!(
        "[memory] {samples} samples in {} min at {} Hz; after the first minute RSS stays within {:+.1} % .. {:+.1} % of {:.1} MB (target ±5 %): {}",
        args.minutes,
        args.rate,
        spread(low),
        spread(high),
        first as f64 / 1024.0,
        if spread(low) >= -5.0 && spread(high) <= 5.0 { "flat" } else { "NOT flat" },
    );
    println!(
        "[memory] growth from 60 s to the end: {:.1} bytes per sample",
        growth / samples_after.max(1.0)
    );
}
