//! Prebaked images: create (start, wait until initialized, dump), restore
//! (restore, tell the port, wait for the first answer) and the comparison
//! of vanilla starts with restores.
//!
//! PIDs: a restored process gets its original PID back, so that PID must be
//! free: the dumped original is reaped before `create` returns, and each
//! restored copy is stopped and reaped before the next restore (coldspy makes
//! itself a child subreaper so restored copies are its children). Restores
//! of one image therefore run one at a time. Ports: the runner waits for
//! SIGUSR1 before binding and then reads its port from `IMAGE/port`, which
//! `restore` writes first; the image must stay at the path it was created at.

use super::{criu, http};
use crate::bench::runner::{parse_marks, runner_path, MarksPipe, RunnerSpec};
use crate::bench::stats;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::os::unix::process::CommandExt;
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
    /// The dumped process's PID (restored with the same PID).
    pub pid: u32,
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

/// Starts the runner in HTTP mode, waits until the handler is initialized,
/// and checkpoints it into `image`.
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
    let spec = RunnerSpec {
        python: python.to_path_buf(),
        handler: handler.to_string(),
        event: event.map(Path::to_path_buf),
        invocations: 0,
        serve: Some(0),
        wait_before_bind: true,
    };
    let pipe = MarksPipe::new()?;
    let mut argv = spec.argv(&runner_path()?, pipe.write_fd());
    argv.extend([
        "--port-file".into(),
        image.join("port").display().to_string(),
    ]);
    if event.is_some() {
        argv.push("--warmup".into());
    }
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; its own session means no
    // controlling terminal for CRIU to handle (no --shell-job).
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", python.display()))?;
    drop(pipe.write);
    let pid = child.id();
    // The runner closes its end of the pipe once it waits: read to EOF.
    let mut marks = String::new();
    let _ = std::fs::File::from(pipe.read).read_to_string(&mut marks);
    let (marks, error) = parse_marks(&marks);
    if let Some(error) = error {
        reap(pid);
        bail!("{handler}: {error}");
    }
    if !marks.iter().any(|m| m.name == "ready_to_bind") {
        kill_and_reap(pid);
        bail!("{handler}: the runner exited before it was ready to be snapshotted");
    }
    let started = Instant::now();
    let out = Command::new(&criu)
        .arg("dump")
        .args(["-t", &pid.to_string(), "-D"])
        .arg(criu_dir(&image))
        .args(["-o", "dump.log", "-v2"])
        .output()?;
    let dump_ms = started.elapsed().as_secs_f64() * 1000.0;
    if !out.status.success() {
        kill_and_reap(pid);
        bail!(
            "criu dump failed (see {})",
            criu_dir(&image).join("dump.log").display()
        );
    }
    reap(pid);
    let manifest = Manifest {
        schema: "coldspy-prebake".into(),
        schema_version: 1,
        python: python.to_path_buf(),
        handler: handler.to_string(),
        event: event.map(Path::to_path_buf),
        criu_version,
        dump_ms,
        image_bytes: dir_size(&criu_dir(&image)),
        pid,
    };
    std::fs::write(
        image.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    Ok(manifest)
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

/// Restores an image and waits until it answers; the function keeps serving.
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
    if Path::new(&format!("/proc/{}", manifest.pid)).exists() {
        bail!(
            "pid {} (the prebaked process's) is in use: stop the previous copy or wait for it to exit",
            manifest.pid
        );
    }
    // Restored copies become our children, so we can reap them.
    // SAFETY: prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    std::fs::write(image.join("port"), port.to_string())?;
    let pidfile = image.join("restored.pid");
    let _ = std::fs::remove_file(&pidfile);
    let started = Instant::now();
    let out = Command::new(&criu)
        .arg("restore")
        .arg("-D")
        .arg(criu_dir(&image))
        .args(["-d", "--pidfile"])
        .arg(&pidfile)
        .args(["-o", "restore.log"])
        .output()?;
    if !out.status.success() {
        bail!(
            "criu restore failed (see {})",
            criu_dir(&image).join("restore.log").display()
        );
    }
    let pid: u32 = std::fs::read_to_string(&pidfile)?.trim().parse()?;
    // SAFETY: signalling the process we just restored.
    unsafe { libc::kill(pid as i32, libc::SIGUSR1) };
    let body = event_body(&manifest)?;
    match http::first_answer(port, &body, Duration::from_secs(30)) {
        Ok((200, answer)) => Ok(Restored {
            pid,
            port,
            ready_ms: started.elapsed().as_secs_f64() * 1000.0,
            first_answer: answer,
        }),
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

/// A vanilla start in HTTP mode until the first answer; returns (ms, answer, pid).
pub fn vanilla(manifest: &Manifest) -> anyhow::Result<(f64, String, u32)> {
    let port = http::free_port()?;
    let spec = RunnerSpec {
        python: manifest.python.clone(),
        handler: manifest.handler.clone(),
        event: None,
        invocations: 0,
        serve: Some(port),
        wait_before_bind: false,
    };
    let pipe = MarksPipe::new()?;
    let started = Instant::now();
    let mut child = spec
        .command(&runner_path()?, pipe.write_fd())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    drop(pipe);
    let answer = http::first_answer(port, &event_body(manifest)?, Duration::from_secs(60));
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let pid = child.id();
    let _ = child.kill();
    let _ = child.wait();
    let (status, body) = answer?;
    if status != 200 {
        bail!("the function answered HTTP {status}");
    }
    Ok((ms, body, pid))
}

/// Vanilla starts vs restores, interleaved; prints medians with CIs and the speedup.
pub fn bench(image: &Path, runs: usize) -> anyhow::Result<()> {
    let image = std::fs::canonicalize(image)
        .map_err(|_| anyhow::anyhow!("no image directory {}", image.display()))?;
    let manifest = manifest(&image)?;
    let (mut vanilla_ms, mut restore_ms, mut first_ms) =
        (Vec::new(), Vec::new(), [Vec::new(), Vec::new()]);
    let body = event_body(&manifest)?;
    for _ in 0..runs {
        let (ms, _, _) = vanilla(&manifest)?;
        vanilla_ms.push(ms);
        let restored = restore(&image, None)?;
        restore_ms.push(restored.ready_ms);
        // The request after start, timed alone.
        let t = Instant::now();
        http::post(restored.port, &body)?;
        first_ms[1].push(t.elapsed().as_secs_f64() * 1000.0);
        restored.stop();
    }
    // First requests after a vanilla start, for the same comparison.
    for _ in 0..runs.min(10) {
        let port = http::free_port()?;
        let spec = RunnerSpec {
            python: manifest.python.clone(),
            handler: manifest.handler.clone(),
            event: None,
            invocations: 0,
            serve: Some(port),
            wait_before_bind: false,
        };
        let pipe = MarksPipe::new()?;
        let mut child = spec
            .command(&runner_path()?, pipe.write_fd())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        drop(pipe);
        http::first_answer(port, &body, Duration::from_secs(60))?;
        let t = Instant::now();
        http::post(port, &body)?;
        first_ms[0].push(t.elapsed().as_secs_f64() * 1000.0);
        let _ = child.kill();
        let _ = child.wait();
    }
    let show = |name: &str, v: &[f64]| {
        let (lo, hi) = stats::median_ci(v);
        println!(
            "  {name:<28} median {:8.1} ms  95% CI [{lo:.1}, {hi:.1}]  p90 {:8.1}",
            stats::median(v),
            stats::quantile(v, 0.9)
        );
    };
    println!(
        "{}: {runs} interleaved starts per variant (start = until the first answer)",
        manifest.handler
    );
    show("vanilla start", &vanilla_ms);
    show("prebaked restore", &restore_ms);
    println!(
        "  speedup (median vanilla / median restore): {:.2}x",
        stats::median(&vanilla_ms) / stats::median(&restore_ms)
    );
    show("next request after vanilla", &first_ms[0]);
    show("next request after restore", &first_ms[1]);
    let test = stats::mann_whitney(&first_ms[0], &first_ms[1]);
    println!(
        "  next-request times differ: p = {:.3} (Mann-Whitney U)",
        test.p
    );
    Ok(())
}
