//! Prebaked images: create (start, wait until initialized, dump), restore
//! (restore, tell the port, wait for the first answer) and the comparison
//! of vanilla starts with restores.
//!
//! PIDs: the runner is started as the init of its own PID namespace (through
//! util-linux's `unshare --pid --fork`), so CRIU dumps that namespace and
//! gives every restored copy a new one: the copies keep their PIDs inside and
//! get distinct host PIDs, and restores of one image can run concurrently.
//! Ports: the runner waits for its port on a control pipe before binding;
//! each restore hands the restored copy a fresh pipe in its place
//! (`criu restore --inherit-fd`) and writes the port into it. coldspy makes
//! itself a child subreaper, so the restored copies it stops are reaped.

use super::{criu, http};
use crate::runner::{absolute_handler, parse_marks, runner_path, MarksPipe, RunnerSpec};
use crate::stats;
use crate::sys::pipe::pipe_inheriting;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `IMAGE/manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `coldspy-prebake`.
    pub schema: String,
    /// 1.
    pub schema_version: u32,
    /// The interpreter (resolved path).
    pub python: PathBuf,
    /// The handler.
    pub handler: String,
    /// The warm-up event, if any.
    pub event: Option<PathBuf>,
    /// CRIU's version.
    pub criu_version: String,
    /// Time to dump.
    pub dump_ms: f64,
    /// Size of the CRIU image files.
    pub image_bytes: u64,
    /// The dumped process's host PID (gone after the dump; each restored
    /// copy gets a new one).
    pub pid: u32,
    /// The runner's descriptor that waits for the port.
    pub control_fd: i32,
    /// CRIU's name of the pipe behind it at dump time (`pipe:[INODE]`),
    /// replaced by a fresh pipe at each restore.
    pub control_pipe: String,
}

fn criu_dir(image: &Path) -> PathBuf {
    image.join("criu")
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn reap(pid: u32) {
    let mut status = 0;
    // SAFETY: waiting for a child of ours (or a reparented one).
    unsafe { libc::waitpid(pid as i32, &mut status, 0) };
}

fn kill_and_reap(pid: u32) {
    // SAFETY: killing a process we started or restored.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    reap(pid);
}

/// CRIU's name of a pipe descriptor: `pipe:[INODE]`.
fn pipe_name(fd: &OwnedFd) -> std::io::Result<String> {
    // SAFETY: fstat into a zeroed stat buffer, on a descriptor we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(format!("pipe:[{}]", st.st_ino))
}

/// The first child of `pid` (the init `unshare --fork` started).
fn first_child(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Starts the runner in HTTP mode as the init of a new PID namespace, waits
/// until the handler is initialized, and checkpoints it into `image`.
pub fn create(
    python: &Path,
    handler: &str,
    event: Option<&Path>,
    image: &Path,
) -> anyhow::Result<Manifest> {
    let criu = criu::find()?;
    let criu_version = criu::version(&criu)?;
    criu::check(&criu)?;
    if image.join("manifest.json").exists() {
        bail!(
            "{} already holds an image; remove it or choose another directory",
            image.display()
        );
    }
    std::fs::create_dir_all(criu_dir(image))
        .with_context(|| format!("cannot create the image directory {}", image.display()))?;
    let image = std::fs::canonicalize(image)?;
    let handler = &absolute_handler(handler);
    let event = event.map(|e| std::fs::canonicalize(e).unwrap_or_else(|_| e.to_path_buf()));
    let event = event.as_deref();
    let (control_read, control_write) = pipe_inheriting(true)?;
    let spec = RunnerSpec::new(python, handler)
        .event(event.map(Path::to_path_buf))
        .invocations(0)
        .serve(0, Some(control_read.as_raw_fd()));
    let pipe = MarksPipe::new()?;
    let mut argv = spec.argv(&runner_path()?, pipe.write_fd());
    if event.is_some() {
        argv.push("--warmup".into());
    }
    let mut unshare = spawn_in_pid_namespace(&argv)?;
    drop(pipe.write);
    drop(control_read);
    let (marks, error) = marks_until_ready(pipe.read);
    if let Some(error) = error {
        stop_unshare(&mut unshare);
        bail!("{handler}: {error}");
    }
    let pid = first_child(unshare.id());
    let (true, Some(pid)) = (marks.iter().any(|m| m.name == "ready_to_bind"), pid) else {
        stop_unshare(&mut unshare);
        bail!("{handler}: the runner exited before it was ready to be snapshotted");
    };
    let control_pipe = pipe_name(&control_write)?;
    let dumped = dump(&criu, pid, &image);
    stop_unshare(&mut unshare);
    drop(control_write);
    let manifest = Manifest {
        schema: "coldspy-prebake".into(),
        schema_version: 1,
        python: python.to_path_buf(),
        handler: handler.clone(),
        event: event.map(Path::to_path_buf),
        criu_version,
        dump_ms: dumped?,
        image_bytes: dir_size(&criu_dir(&image)),
        pid,
        control_fd: spec.control_fd.unwrap_or(-1),
        control_pipe,
    };
    std::fs::write(
        image.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    Ok(manifest)
}

/// Starts `argv` as the init of a new PID namespace. unshare forks the
/// runner's parent-to-be into the namespace; setsid makes the runner (PID 1
/// there) its own session leader, so CRIU has no terminal or outside
/// session to handle.
fn spawn_in_pid_namespace(argv: &[String]) -> anyhow::Result<std::process::Child> {
    Command::new("unshare")
        .args(["--pid", "--fork", "setsid"])
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the runner in a new PID namespace (util-linux's unshare)")
}

/// Reads marks until the runner waits for its port (or fails).
fn marks_until_ready(
    read: OwnedFd,
) -> (
    Vec<crate::model::trace::PhaseMark>,
    Option<crate::runner::RunnerError>,
) {
    let mut marks = String::new();
    let mut reader = std::io::BufReader::new(std::fs::File::from(read));
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        let done = line.starts_with("ready_to_bind") || line.starts_with("error");
        marks.push_str(&line);
        line.clear();
        if done {
            break;
        }
    }
    parse_marks(&marks)
}

/// Stops the runner (no parent-death signal: a restored copy would get it)
/// and the unshare process.
fn stop_unshare(unshare: &mut std::process::Child) {
    if let Some(runner) = first_child(unshare.id()) {
        // SAFETY: killing the runner we started.
        unsafe { libc::kill(runner as i32, libc::SIGKILL) };
    }
    let _ = unshare.kill();
    let _ = unshare.wait();
}

/// Checkpoints `pid` into the image; returns the time the dump took (ms).
fn dump(criu: &Path, pid: u32, image: &Path) -> anyhow::Result<f64> {
    let started = Instant::now();
    let out = Command::new(criu)
        .arg("dump")
        .args(["-t", &pid.to_string(), "-D"])
        .arg(criu_dir(image))
        .args(["-o", "dump.log", "-v2"])
        .output()?;
    let dump_ms = started.elapsed().as_secs_f64() * 1000.0;
    if !out.status.success() {
        let log = criu_dir(image).join("dump.log");
        match criu::log_reason(&log) {
            Some(reason) => bail!("criu dump failed: {reason} (see {})", log.display()),
            None => bail!("criu dump failed (see {})", log.display()),
        }
    }
    Ok(dump_ms)
}

/// A restored function, serving.
#[derive(Debug)]
pub struct Restored {
    /// Its PID.
    pub pid: u32,
    /// Its port.
    pub port: u16,
    /// Restore start until its first answer.
    pub ready_ms: f64,
    /// The first answer's body.
    pub first_answer: String,
}

impl Restored {
    /// Stops and reaps it.
    pub fn stop(self) {
        kill_and_reap(self.pid);
    }
}

/// Reads and checks an image's manifest.
pub fn manifest(image: &Path) -> anyhow::Result<Manifest> {
    let path = image.join("manifest.json");
    let bytes = std::fs::read(&path).map_err(|_| {
        anyhow::anyhow!(
            "{} is not a prebaked image (no manifest.json)",
            image.display()
        )
    })?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is corrupt", path.display()))?;
    if !manifest.python.exists() {
        bail!(
            "{} was made for {}, which is not on this host",
            image.display(),
            manifest.python.display()
        );
    }
    Ok(manifest)
}

/// `CRIU_FAULT` value that has CRIU stop restored tasks without hardware
/// breakpoints (`FI_NO_BREAKPOINTS` in its `fault-injection.h`).
const CRIU_NO_BREAKPOINTS: &str = "130";

/// A per-restore directory for CRIU's log and pidfile (restores of one image
/// may run concurrently), removed when the restore succeeds.
fn restore_work_dir() -> std::io::Result<PathBuf> {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("coldspy-restore-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Restores an image and waits until it answers; the function keeps serving.
/// Restores of one image may run concurrently, each on its own port.
pub fn restore(image: &Path, port: Option<u16>) -> anyhow::Result<Restored> {
    let criu = criu::find()?;
    let image = std::fs::canonicalize(image)
        .map_err(|_| anyhow::anyhow!("no image directory {}", image.display()))?;
    let manifest = manifest(&image)?;
    let port = match port {
        Some(p) if !http::is_free(p) => bail!("port {p} is already in use on 127.0.0.1"),
        Some(p) => p,
        None => http::free_port()?,
    };
    // Restored copies become our children, so we can reap them.
    // SAFETY: prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let work = restore_work_dir()?;
    let pidfile = work.join("restored.pid");
    let (control_read, control_write) = pipe_inheriting(true)?;
    let started = Instant::now();
    let out = Command::new(&criu)
        .arg("restore")
        // CRIU stops the restored task at its last step on a hardware
        // breakpoint; registering one took 8-12 ms in about one restore of
        // three on this machine kind (no-op function, 40 alternated
        // restores: p90 35.1 → 21.5 ms to the first answer without it).
        // CRIU's own switch for stepping to that syscall instead is its
        // fault-injection variable (FI_NO_BREAKPOINTS, 130 since CRIU 3.x),
        // which changes nothing else.
        .env("CRIU_FAULT", CRIU_NO_BREAKPOINTS)
        .arg("-D")
        .arg(criu_dir(&image))
        .arg("-W")
        .arg(&work)
        .args(["-d", "--pidfile"])
        .arg(&pidfile)
        .arg("--inherit-fd")
        .arg(format!(
            "fd[{}]:{}",
            control_read.as_raw_fd(),
            manifest.control_pipe
        ))
        .args(["-o", "restore.log"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .output()?;
    drop(control_read);
    if !out.status.success() {
        let log = work.join("restore.log");
        match criu::log_reason(&log) {
            Some(reason) => bail!("criu restore failed: {reason} (see {})", log.display()),
            None => bail!("criu restore failed (see {})", log.display()),
        }
    }
    let pid: u32 = std::fs::read_to_string(&pidfile)?.trim().parse()?;
    let body = event_body(&manifest)?;
    // Tell it its port; it binds and serves.
    let answer = std::fs::File::from(control_write)
        .write_all(format!("{port}\n").as_bytes())
        .and_then(|()| http::first_answer(port, &body, Duration::from_secs(30)));
    match answer {
        Ok((200, answer)) => {
            let _ = std::fs::remove_dir_all(&work);
            Ok(Restored {
                pid,
                port,
                ready_ms: started.elapsed().as_secs_f64() * 1000.0,
                first_answer: answer,
            })
        }
        Ok((status, _)) => {
            kill_and_reap(pid);
            bail!("the restored function answered HTTP {status}")
        }
        Err(e) => {
            kill_and_reap(pid);
            bail!("the restored function did not answer on port {port}: {e}")
        }
    }
}

fn event_body(manifest: &Manifest) -> anyhow::Result<String> {
    Ok(match &manifest.event {
        Some(path) => std::fs::read_to_string(path)?,
        None => "{}".to_string(),
    })
}

/// A vanilla start: the runner started afresh in HTTP mode on a free port
/// and timed until its first answer; killed when dropped.
struct VanillaStart {
    child: std::process::Child,
    port: u16,
    /// Spawn until the first answer (or until it failed).
    ms: f64,
    /// The first answer: HTTP status and body.
    answer: std::io::Result<(u16, String)>,
}

impl VanillaStart {
    fn run(manifest: &Manifest, body: &str) -> anyhow::Result<Self> {
        let port = http::free_port()?;
        let started = Instant::now();
        let pipe = MarksPipe::new()?;
        let child = RunnerSpec::new(&manifest.python, &manifest.handler)
            .invocations(0)
            .serve(port, None)
            .command(&runner_path()?, pipe.write_fd())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let answer = http::first_answer(port, body, Duration::from_secs(60));
        Ok(Self {
            child,
            port,
            ms: started.elapsed().as_secs_f64() * 1000.0,
            answer,
        })
    }
}

impl Drop for VanillaStart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A vanilla start in HTTP mode until the first answer; returns (ms, answer, pid).
pub fn vanilla(manifest: &Manifest) -> anyhow::Result<(f64, String, u32)> {
    let mut start = VanillaStart::run(manifest, &event_body(manifest)?)?;
    let pid = start.child.id();
    let ms = start.ms;
    let (status, body) = std::mem::replace(&mut start.answer, Ok((0, String::new())))?;
    drop(start);
    if status != 200 {
        bail!("the function answered HTTP {status}");
    }
    Ok((ms, body, pid))
}

/// A warm parent that forks a serving child per start (the fork-server baseline).
struct Zygote {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Zygote {
    fn start(manifest: &Manifest) -> anyhow::Result<Self> {
        let pipe = MarksPipe::new()?;
        let mut child = RunnerSpec::new(&manifest.python, &manifest.handler)
            .invocations(0)
            .command(&runner_path()?, pipe.write_fd())
            .arg("--zygote")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        drop(pipe);
        let stdout = child.stdout.take().context("zygote stdout")?;
        use std::io::BufRead;
        Ok(Self {
            child,
            lines: std::io::BufReader::new(stdout).lines(),
        })
    }

    /// Forks a server on `port`; returns (ms until its first answer, its pid).
    fn start_one(&mut self, port: u16, body: &str) -> anyhow::Result<(f64, u32)> {
        use std::io::Write;
        let started = Instant::now();
        writeln!(self.child.stdin.as_mut().context("zygote stdin")?, "{port}")?;
        let line = self.lines.next().context("the zygote exited")??;
        let pid: u32 = line.trim_start_matches("forked ").trim().parse()?;
        let (status, _) = http::first_answer(port, body, Duration::from_secs(30))?;
        if status != 200 {
            bail!("the forked function answered HTTP {status}");
        }
        Ok((started.elapsed().as_secs_f64() * 1000.0, pid))
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How `bench` compares the start-ups.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Starts per variant.
    pub runs: usize,
    /// Requests timed after each start (the response-time ECDF).
    pub requests: usize,
    /// Drop the page cache before every start (root).
    pub drop_caches: bool,
    /// Write every measurement as JSON here.
    pub export_json: Option<PathBuf>,
}

/// The variants `bench` compares, in output order.
const VARIANTS: [&str; 3] = ["vanilla start", "prebaked restore", "fork server"];

/// Times `count` requests to `port`, in ms.
fn time_requests(port: u16, body: &str, count: usize) -> anyhow::Result<Vec<f64>> {
    (0..count)
        .map(|_| {
            let t = Instant::now();
            let (status, _) = http::post(port, body)?;
            if status != 200 {
                bail!("the function answered HTTP {status}");
            }
            Ok(t.elapsed().as_secs_f64() * 1000.0)
        })
        .collect()
}

/// `--export-json` of `coldspy bench --prebaked` (schema
/// `coldspy-prebake-bench`, version 1): every start and request time of the
/// three variants, and the image they came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrebakeBenchReport {
    /// Always `coldspy-prebake-bench`.
    pub schema: String,
    /// 1.
    pub schema_version: u32,
    /// The image's manifest.
    pub manifest: Manifest,
    /// Starts per variant.
    pub runs: usize,
    /// Requests timed after each start.
    pub requests_per_start: usize,
    /// Whether the page cache was dropped before every start.
    pub drop_caches: bool,
    /// Vanilla start, prebaked restore, fork server: in this order.
    pub variants: Vec<VariantTimes>,
}

/// One variant's measurements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantTimes {
    /// `vanilla start`, `prebaked restore` or `fork server`.
    pub name: String,
    /// Each start, until its first answer (ms), in run order.
    pub start_ms: Vec<f64>,
    /// Each timed request after the starts (ms), in order.
    pub request_ms: Vec<f64>,
    /// The median of `start_ms`.
    pub start_median_ms: f64,
}

/// What the interleaved rounds measured, per variant (in [`VARIANTS`] order).
#[derive(Debug, Default)]
struct Measured {
    start_ms: [Vec<f64>; 3],
    request_ms: [Vec<f64>; 3],
}

/// Vanilla starts, restores and fork-server starts, interleaved; prints
/// medians with CIs, the speedups, and the ECDF of the first requests after
/// each start.
pub fn bench(image: &Path, options: &BenchOptions) -> anyhow::Result<()> {
    let image = std::fs::canonicalize(image)
        .map_err(|_| anyhow::anyhow!("no image directory {}", image.display()))?;
    let manifest = manifest(&image)?;
    let measured = measure_rounds(&image, &manifest, options)?;
    print_summary(&manifest, options, &measured);
    if let Some(path) = &options.export_json {
        let report = bench_report(manifest, options, measured);
        let file = crate::sys::OutputFile::create(path)?;
        file.commit(&serde_json::to_vec_pretty(&report)?)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `options.runs` rounds of one start of each variant, each start followed
/// by `options.requests` timed requests.
fn measure_rounds(
    image: &Path,
    manifest: &Manifest,
    options: &BenchOptions,
) -> anyhow::Result<Measured> {
    let body = event_body(manifest)?;
    let mut zygote = Zygote::start(manifest)?;
    let mut m = Measured::default();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let drop_caches = || -> anyhow::Result<()> {
        if options.drop_caches {
            crate::sys::cache::drop_caches()
                .context("dropping the page cache (--drop-caches needs root)")?;
        }
        Ok(())
    };
    for run in 0..options.runs {
        drop_caches()?;
        let vanilla = VanillaStart::run(manifest, &body)?;
        m.start_ms[0].push(vanilla.ms);
        let timed = match &vanilla.answer {
            Ok(_) => time_requests(vanilla.port, &body, options.requests),
            Err(e) => Err(anyhow::anyhow!("{e}")),
        };
        drop(vanilla);
        m.request_ms[0].extend(timed?);
        drop_caches()?;
        let restored = restore(image, None)?;
        m.start_ms[1].push(restored.ready_ms);
        let timed = time_requests(restored.port, &body, options.requests);
        restored.stop();
        m.request_ms[1].extend(timed?);
        drop_caches()?;
        let port = http::free_port()?;
        let (ms, pid) = zygote.start_one(port, &body)?;
        m.start_ms[2].push(ms);
        let timed = time_requests(port, &body, options.requests);
        // SAFETY: killing the forked server (the zygote reaps it).
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        m.request_ms[2].extend(timed?);
        if tty {
            eprint!(
                "\r[coldspy prebake bench] {}/{} rounds",
                run + 1,
                options.runs
            );
        }
    }
    if tty {
        eprintln!();
    }
    Ok(m)
}

/// Medians with CIs, the speedups, and the request-time ECDF, on stdout.
fn print_summary(manifest: &Manifest, options: &BenchOptions, m: &Measured) {
    println!(
        "{}: {} interleaved starts per variant{} (start = until the first answer)",
        manifest.handler,
        options.runs,
        if options.drop_caches {
            ", page cache dropped before each"
        } else {
            ""
        }
    );
    for (name, v) in VARIANTS.iter().zip(&m.start_ms) {
        let (lo, hi) = stats::median_ci(v);
        println!(
            "  {name:<18} median {:8.1} ms  95% CI [{lo:.1}, {hi:.1}]  p90 {:8.1}",
            stats::median(v),
            stats::quantile(v, 0.9)
        );
    }
    let median = |v: &[f64]| stats::median(v);
    println!(
        "  speedup over vanilla: prebaked {:.2}x, fork server {:.2}x",
        median(&m.start_ms[0]) / median(&m.start_ms[1]),
        median(&m.start_ms[0]) / median(&m.start_ms[2])
    );
    if options.requests == 0 {
        return;
    }
    const QUANTILES: [f64; 6] = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99];
    println!(
        "first {} requests after each start, ECDF (ms):\n  {:<18} {}",
        options.requests,
        "",
        QUANTILES
            .map(|q| format!("{:>7}", format!("p{}", (q * 100.0) as u32)))
            .join(" ")
    );
    for (name, v) in VARIANTS.iter().zip(&m.request_ms) {
        let row = QUANTILES.map(|q| format!("{:7.2}", stats::quantile(v, q)));
        println!("  {name:<18} {}", row.join(" "));
    }
    println!(
        "  prebaked vs vanilla: ECDF distance D = {:.3}, Mann-Whitney p = {:.3}",
        stats::ecdf_distance(&m.request_ms[0], &m.request_ms[1]),
        stats::mann_whitney(&m.request_ms[0], &m.request_ms[1]).p
    );
}

/// The `--export-json` document of a bench.
fn bench_report(manifest: Manifest, options: &BenchOptions, m: Measured) -> PrebakeBenchReport {
    let variants = VARIANTS
        .iter()
        .zip(m.start_ms)
        .zip(m.request_ms)
        .map(|((name, start_ms), request_ms)| VariantTimes {
            name: name.to_string(),
            start_median_ms: stats::median(&start_ms),
            start_ms,
            request_ms,
        })
        .collect();
    PrebakeBenchReport {
        schema: "coldspy-prebake-bench".into(),
        schema_version: 1,
        manifest,
        runs: options.runs,
        requests_per_start: options.requests,
        drop_caches: options.drop_caches,
        variants,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_report_keeps_its_field_names_and_variant_order() {
        let manifest = Manifest {
            schema: "coldspy-prebake".into(),
            schema_version: 1,
            python: "/usr/bin/python3".into(),
            handler: "app.py:handler".into(),
            event: None,
            criu_version: "4.0".into(),
            dump_ms: 12.5,
            image_bytes: 4096,
            pid: 42,
            control_fd: 3,
            control_pipe: "pipe:[7]".into(),
        };
        let options = BenchOptions {
            runs: 3,
            requests: 1,
            drop_caches: false,
            export_json: None,
        };
        let measured = Measured {
            start_ms: [
                vec![30.0, 10.0, 20.0],
                vec![5.0, 7.0, 6.0],
                vec![2.0, 2.0, 3.0],
            ],
            request_ms: [vec![1.0; 3], vec![1.5; 3], vec![0.5; 3]],
        };
        let value = serde_json::to_value(bench_report(manifest, &options, measured)).unwrap();
        assert_eq!(value["schema"], "coldspy-prebake-bench");
        assert_eq!(value["requests_per_start"], 1);
        let names: Vec<&str> = value["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, VARIANTS);
        assert_eq!(value["variants"][0]["start_median_ms"], 20.0);
        assert_eq!(value["variants"][1]["start_ms"][1], 7.0);
        assert_eq!(value["manifest"]["control_pipe"], "pipe:[7]");
        let back: PrebakeBenchReport = serde_json::from_value(value).unwrap();
        assert_eq!(back.variants[2].request_ms, vec![0.5; 3]);
    }
}
