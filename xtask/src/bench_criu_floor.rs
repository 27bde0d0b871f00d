//! CRIU's floor, printed by `cargo xtask bench prebake`: restores of the
//! smallest process there is (a static `pause()` loop, an image of ≈ 100
//! KiB), with the same CRIU binary and options as coldspy's restores. No
//! prebaked function can restore faster than this, whatever its image; set
//! beside the fork server's start it bounds what prebaking can reach.

use anyhow::{bail, Context, Result};
use coldspy_core::stats::quantile_sorted;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The process restored: it only waits.
const PAUSE_SOURCE: &str = "#include <unistd.h>\nint main(void) { for (;;) pause(); }\n";

/// `CRIU_FAULT` as coldspy's restores set it (no hardware breakpoints).
const CRIU_NO_BREAKPOINTS: &str = "130";

/// Builds the static process, checkpoints it once, restores it `runs`
/// times (each copy killed before the next) and prints the restore times.
pub fn run(criu: &Path, scratch: &Path, runs: usize) -> Result<()> {
    let dir = scratch.join("criu-floor");
    let image = dir.join("image");
    std::fs::create_dir_all(&image)?;
    let source = dir.join("pause.c");
    let binary = dir.join("pause");
    std::fs::write(&source, PAUSE_SOURCE)?;
    crate::util::exec(
        Command::new("gcc")
            .args(["-O2", "-static", "-o"])
            .arg(&binary)
            .arg(&source),
    )?;
    let mut command = Command::new(&binary);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe. A session of its own and no
    // terminal is what CRIU checkpoints without `--shell-job`.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        })
    };
    let mut child = command
        .spawn()
        .context("starting the static pause() process")?;
    std::thread::sleep(Duration::from_millis(100));
    let dumped = Command::new(criu)
        .arg("dump")
        .args(["-t", &child.id().to_string()])
        .arg("-D")
        .arg(&image)
        .args(["-o", "dump.log"])
        .status()?;
    let _ = child.kill();
    let _ = child.wait();
    if !dumped.success() {
        bail!(
            "criu dump of the pause() process failed (see {})",
            image.join("dump.log").display()
        );
    }
    // Restored copies become our children (as coldspy's do), so each is
    // reaped before the next restore needs its pid again.
    // SAFETY: prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let pidfile = dir.join("restored.pid");
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let _ = std::fs::remove_file(&pidfile);
        let started = Instant::now();
        let status = Command::new(criu)
            .arg("restore")
            .env("CRIU_FAULT", CRIU_NO_BREAKPOINTS)
            .arg("-D")
            .arg(&image)
            .args(["-d", "--pidfile"])
            .arg(&pidfile)
            .args(["-o", "restore.log"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        if !status.success() {
            bail!(
                "criu restore of the pause() process failed (see {})",
                image.join("restore.log").display()
            );
        }
        ms.push(elapsed);
        kill_restored(&pidfile);
        std::thread::sleep(Duration::from_millis(20));
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| quantile_sorted(&ms, q);
    println!(
        "[bench] CRIU floor: restore of a static pause() process ({} KiB image), {runs} restores: \
         median {:.1} ms [q1 {:.1}, q3 {:.1}, min {:.1}, max {:.1}]",
        image_kib(&image),
        at(0.5),
        at(0.25),
        at(0.75),
        ms[0],
        ms[ms.len() - 1],
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Kills and reaps a restored copy (we are its subreaper).
fn kill_restored(pidfile: &Path) {
    let pid = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok());
    if let Some(pid) = pid {
        // SAFETY: a signal to the pid CRIU restored.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        // SAFETY: reaps our child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}

/// The image's size on disk, KiB.
fn image_kib(image: &Path) -> u64 {
    std::fs::read_dir(image)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
                / 1024
        })
        .unwrap_or(0)
}
