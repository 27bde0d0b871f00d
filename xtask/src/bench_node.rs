//! `cargo xtask bench node`: what `coldspy record --all` costs a FaaS node,
//! measured side by side in one run on cgroup v2 groups made for it.
//!
//! 1. A Python function instance's start, profiled (its cgroup is watched)
//!    vs not (a sibling cgroup the same daemon ignores), interleaved start
//!    by start: the ratio of medians and the paired ratio with its CI.
//! 2. Execs of a non-Python program (`/bin/true` from a shell loop) with
//!    the daemon watching the whole host vs no daemon, in alternating
//!    blocks: the per-exec cost of the kernel's exec hook.
//! 3. With `--soak-minutes M`: M minutes of instances started continuously
//!    (three functions, some through a pre-fork parent), the daemon's
//!    resident memory every 30 s, and whether every instance was profiled.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `cargo xtask bench node`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Python starts per variant (interleaved).
    #[arg(long, default_value_t = 30)]
    pub rounds: usize,
    /// Non-Python execs per variant.
    #[arg(long, default_value_t = 10_000)]
    pub execs: usize,
    /// Also soak the daemon this many minutes (0: no soak).
    #[arg(long, default_value_t = 0)]
    pub soak_minutes: u64,
    /// Sampling rate of the daemon, Hz.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
}

/// Runs the node benchmark.
pub fn run(args: &NodeArgs) -> Result<()> {
    let coldspy = crate::util::build_release("bench")?;
    let python = std::env::var("COLDSPY_BENCH_PYTHON").unwrap_or_else(|_| {
        crate::setup::python_of("pyenv-3.12")
            .expect("pyenv-3.12 is a set-up interpreter")
            .display()
            .to_string()
    });
    let script = crate::util::repo_root().join("tests/scripts/faas_instance.py");
    let tree = Tree::new()?;
    let watched = tree.group("watched")?;
    let ignored = tree.group("ignored")?;
    let scratch = std::env::temp_dir().join(format!("coldspy-bench-node-{}", std::process::id()));
    println!(
        "[bench node] {} interleaved Python starts per variant ({python} {})",
        args.rounds,
        script.display()
    );
    let daemon = Daemon::start(
        &coldspy,
        &scratch.join("starts"),
        &["--cgroup", watched.to_str().unwrap()],
        args.rate,
    )?;
    let mut plain = Vec::new();
    let mut profiled = Vec::new();
    for round in 0..args.rounds {
        // Alternate which goes first, so neither always follows the other.
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for watched_first in order {
            let group = if watched_first { &watched } else { &ignored };
            let ms = time_start(group, &python, &script)?;
            if watched_first {
                profiled.push(ms)
            } else {
                plain.push(ms)
            }
        }
    }
    let status = daemon.stop()?;
    report_pair(
        "Python instance start, exec to exit (ms)",
        "not watched",
        &plain,
        "profiled",
        &profiled,
    );
    println!("daemon status after the starts: {}", status.trim());

    const BLOCKS: usize = 10;
    println!(
        "\n[bench node] {} execs of /bin/true per variant, in {BLOCKS} alternating blocks",
        args.execs
    );
    let block = (args.execs / BLOCKS).max(1);
    let (mut without, mut with) = (Vec::new(), Vec::new());
    // The kernel's own per-program statistics: the hooks' cost measured in
    // the kernel, whatever the rest of the machine does.
    let stats_flag = Path::new("/proc/sys/kernel/bpf_stats_enabled");
    let stats_before = std::fs::read_to_string(stats_flag).unwrap_or_default();
    let _ = std::fs::write(stats_flag, "1");
    let mut hooks: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for _ in 0..BLOCKS {
        without.push(exec_loop(block)? / block as f64);
        let dir = scratch.join("execs");
        let daemon = Daemon::start(&coldspy, &dir, &[], args.rate)?;
        // A daemon sees sh and /bin/true for the first time once: held for
        // the verdict (ms), which a long-running daemon pays once per file.
        exec_loop(10)?;
        with.push(exec_loop(block)? / block as f64);
        daemon.stop()?;
        let status: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("status.json"))?)?;
        for (name, program) in status["programs"].as_object().into_iter().flatten() {
            let entry = hooks.entry(name.clone()).or_default();
            entry.0 += program["runs"].as_u64().unwrap_or(0);
            entry.1 += program["ns"].as_u64().unwrap_or(0);
        }
    }
    let _ = std::fs::write(stats_flag, stats_before.trim());
    report_pair(
        "per exec of /bin/true (µs)",
        "no daemon",
        &without,
        "record --all",
        &with,
    );
    report_hooks(&hooks, crate::bench::median(&without));
    if args.soak_minutes > 0 {
        soak(&coldspy, &tree, &python, &script, &scratch, args)?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// Prints the kernel-measured cost of every program of the daemon during
/// the exec blocks, per exec'd process, against the per-exec time without
/// the daemon.
fn report_hooks(hooks: &std::collections::BTreeMap<String, (u64, u64)>, per_exec_us: f64) {
    let execs = hooks
        .get("coldspy_exec")
        .map_or(1, |(runs, _)| (*runs).max(1));
    println!("  in the kernel (bpf_stats), during the --all blocks:");
    let mut total_ns = 0u64;
    for (name, (runs, ns)) in hooks {
        total_ns += ns;
        println!(
            "    {name:<22} {runs:>8} runs {:>8.0} ns per run",
            *ns as f64 / (*runs).max(1) as f64
        );
    }
    let per_process_us = total_ns as f64 / execs as f64 / 1000.0;
    let share = per_process_us / per_exec_us;
    println!(
        "  all programs: {per_process_us:.2} µs per exec'd process, {share:.4} of a /bin/true fork+exec ({per_exec_us:.0} µs): ratio {:.4}",
        1.0 + share
    );
}

/// Prints two variants' medians, their ratio and the paired ratio with a 95 % CI.
fn report_pair(what: &str, base_name: &str, base: &[f64], name: &str, values: &[f64]) {
    let ratios: Vec<f64> = base.iter().zip(values).map(|(b, v)| v / b).collect();
    let (lo, hi) = crate::bench::median_ci(&ratios);
    println!("{what}:");
    println!(
        "  {base_name:<14} n={:<5} median {:>9.3}",
        base.len(),
        crate::bench::median(base)
    );
    println!(
        "  {name:<14} n={:<5} median {:>9.3}",
        values.len(),
        crate::bench::median(values)
    );
    println!(
        "  ratio of medians {:.3}; paired ratio {:.3} [95% CI {lo:.3}, {hi:.3}]",
        crate::bench::median(values) / crate::bench::median(base),
        crate::bench::median(&ratios)
    );
}

/// Starts one instance in `group` and times it from spawn to exit, in ms.
fn time_start(group: &Path, python: &str, script: &Path) -> Result<f64> {
    let begun = Instant::now();
    let status = spawn_in(group, &[], &[python, script.to_str().unwrap()])?.wait()?;
    if !status.success() {
        bail!("an instance failed: {status}");
    }
    Ok(begun.elapsed().as_secs_f64() * 1000.0)
}

/// Runs `/bin/true` `n` times from one shell; returns the total in µs.
fn exec_loop(n: usize) -> Result<f64> {
    let begun = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "i=0; while [ $i -lt {n} ]; do /bin/true; i=$((i+1)); done"
        ))
        .status()?;
    if !status.success() {
        bail!("the exec loop failed");
    }
    Ok(begun.elapsed().as_secs_f64() * 1e6)
}

/// Starts instances for `--soak-minutes`, printing the daemon's RSS.
fn soak(
    coldspy: &Path,
    tree: &Tree,
    python: &str,
    script: &Path,
    scratch: &Path,
    args: &NodeArgs,
) -> Result<()> {
    let groups = [
        tree.group("soak-a")?,
        tree.group("soak-b")?,
        tree.group("soak-c")?,
    ];
    let mut daemon_args: Vec<String> = Vec::new();
    for group in &groups {
        daemon_args.push("--cgroup".into());
        daemon_args.push(group.display().to_string());
    }
    let daemon_args: Vec<&str> = daemon_args.iter().map(String::as_str).collect();
    let out = scratch.join("soak");
    let daemon = Daemon::start(coldspy, &out, &daemon_args, args.rate)?;
    println!(
        "\n[bench node] soak: {} min of instances; daemon RSS every 30 s",
        args.soak_minutes
    );
    println!(
        "{:>8} {:>10} {:>10} {:>10}",
        "minute", "started", "profiled", "RSS MiB"
    );
    let begun = Instant::now();
    let mut started = 0u64;
    let mut running: Vec<Child> = Vec::new();
    let mut next_report = Duration::from_secs(30);
    while begun.elapsed() < Duration::from_secs(args.soak_minutes * 60) {
        let group = &groups[started as usize % groups.len()];
        let mut argv = vec![python, script.to_str().unwrap()];
        if started % 10 == 0 {
            argv.extend(["--workers", "2"]);
        }
        let function = ["resize", "render", "validate"][started as usize % 3];
        running.push(spawn_in(group, &[("K_SERVICE", function)], &argv)?);
        started += 1;
        running.retain_mut(|c| c.try_wait().map(|s| s.is_none()).unwrap_or(false));
        while running.len() >= 4 {
            std::thread::sleep(Duration::from_millis(10));
            running.retain_mut(|c| c.try_wait().map(|s| s.is_none()).unwrap_or(false));
        }
        if begun.elapsed() >= next_report {
            next_report += Duration::from_secs(30);
            let profiled = index_lines(&out);
            println!(
                "{:>8.1} {:>10} {:>10} {:>10.1}",
                begun.elapsed().as_secs_f64() / 60.0,
                started,
                profiled,
                daemon.rss_bytes() as f64 / (1 << 20) as f64
            );
        }
    }
    for mut child in running {
        let _ = child.wait();
    }
    std::thread::sleep(Duration::from_secs(2));
    let status = daemon.stop()?;
    println!(
        "soak: {started} instances started; {} index lines (the pre-fork workers add theirs)",
        index_lines(&out)
    );
    println!("daemon status: {}", status.trim());
    Ok(())
}

fn index_lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("index.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// `sh -c 'echo $$ > CG/cgroup.procs && exec "$@"'`.
fn spawn_in(group: &Path, env: &[(&str, &str)], argv: &[&str]) -> Result<Child> {
    Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$0\" && exec \"$@\"")
        .arg(group.join("cgroup.procs"))
        .args(argv)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting an instance")
}

/// A cgroup v2 subtree for the bench, removed at the end.
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new() -> Result<Self> {
        let mounts = std::fs::read_to_string("/proc/mounts")?;
        let mount = mounts
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
            })
            .context("no cgroup2 hierarchy mounted (see /proc/mounts)")?;
        let root = mount.join(format!("coldspy-bench-{}", std::process::id()));
        std::fs::create_dir_all(&root).context("creating a cgroup (run as root)")?;
        Ok(Self { root })
    }

    fn group(&self, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.flatten().filter(|e| e.path().is_dir()) {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
        let _ = std::fs::remove_dir(&self.root);
    }
}

/// A running `coldspy record --all`.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(coldspy: &Path, dir: &Path, extra: &[&str], rate: u32) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let log = dir.with_extension("log");
        let child = Command::new(coldspy)
            .args([
                "record",
                "--all",
                "--rate",
                &rate.to_string(),
                "--output-dir",
            ])
            .arg(dir)
            .args(extra)
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting coldspy record --all")?;
        let begun = Instant::now();
        while !std::fs::read_to_string(&log)?.contains("recording every Python process") {
            if begun.elapsed() > Duration::from_secs(60) {
                bail!(
                    "the daemon did not start: {}",
                    std::fs::read_to_string(&log)?
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self { child, log })
    }

    fn rss_bytes(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .map_or(0, |kb| kb * 1024)
    }

    /// SIGINT, wait; returns its last status line.
    fn stop(mut self) -> Result<String> {
        // SAFETY: plain kill(2) of our child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait()?;
        let log = std::fs::read_to_string(&self.log)?;
        if !status.success() {
            bail!("the daemon failed ({status}): {log}");
        }
        Ok(log
            .lines()
            .rev()
            .find(|l| l.contains("processes profiled"))
            .unwrap_or("")
            .to_string())
    }
}
