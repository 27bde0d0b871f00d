//! One cold start of a handler through coldspy's runner: init, first
//! invocation, end-to-end, peak RSS, or the reason it failed.

use super::{parse_marks, runner_path, MarksPipe, RunnerError, RunnerSpec};
use std::io::{Read, Seek};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::time::Duration;

/// What one start measured (milliseconds).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Start {
    /// Which variant (0 = the first handler).
    pub variant: usize,
    /// Process start until the handler module is imported and found.
    pub init_ms: f64,
    /// The first invocation.
    pub exec_ms: f64,
    /// Process start until it exited.
    pub end_to_end_ms: f64,
    /// Peak resident set size.
    pub peak_rss_kib: u64,
    /// With answers asked for: the sha256 of each invocation's return value
    /// as JSON (`unserializable …` when it is not JSON).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<String>,
    /// With modules deferred: what became of each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deferral: Option<super::Deferral>,
}

/// Why a start failed.
#[derive(Debug, Clone, serde::Serialize)]
pub enum Failure {
    /// The runner reported an error.
    Runner(RunnerError),
    /// It ran longer than `--timeout` and was killed.
    Timeout,
    /// It exited without the marks of a finished run.
    Crashed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Runner(e) => write!(f, "{e}"),
            Failure::Timeout => write!(f, "timed out and was killed"),
            Failure::Crashed(why) => write!(f, "{why}"),
        }
    }
}

fn monotonic_ns() -> u64 {
    crate::sys::monotonic_ns()
}

/// The runner's own stderr, kept in an unlinked file (no pipe to drain,
/// nothing left behind) so that a failed start can say why.
fn stderr_capture() -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(std::env::temp_dir())
}

/// A start that ended without its marks: how it ended, and the runner's
/// (or the interpreter's) own last words.
fn exited_early(status: i32, stderr_file: &mut std::fs::File) -> Failure {
    let how = if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("wait status {status:#x}")
    };
    Failure::Crashed(match last_line(stderr_file) {
        Some(line) => format!("runner exited early ({how}): {line}"),
        None => format!("runner exited early ({how})"),
    })
}

/// The last non-empty line the runner wrote to stderr (its own message),
/// control characters shown escaped.
fn last_line(file: &mut std::fs::File) -> Option<String> {
    let len = file.metadata().ok()?.len();
    file.seek(std::io::SeekFrom::Start(len.saturating_sub(4096)))
        .ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    let text = String::from_utf8_lossy(&tail);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    Some(crate::export::escape::control_chars(line.trim()).into_owned())
}

/// Starts the handler once and measures it.
pub fn start_once(
    spec: &RunnerSpec,
    variant: usize,
    timeout: Duration,
) -> std::io::Result<Result<Start, Failure>> {
    let runner = runner_path()?;
    let pipe = MarksPipe::new()?;
    let mut cmd = spec.command(&runner, pipe.write_fd());
    let mut stderr_file = stderr_capture()?;
    // Its own process group, so that --timeout kills its children too.
    cmd.stdout(std::process::Stdio::null())
        .stderr(stderr_file.try_clone()?)
        .process_group(0);
    let started_ns = monotonic_ns();
    let child = cmd.spawn()?;
    drop(pipe.write);
    let pid = child.id() as i32;
    // A watchdog kills a start that outlives the timeout.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(timeout).is_err() {
            // SAFETY: killing our own child's process group (the child is
            // still unreaped, so the group id is ours).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            return true;
        }
        false
    });
    let mut marks_text = String::new();
    let mut reader = std::fs::File::from(pipe.read);
    let _ = reader.read_to_string(&mut marks_text);
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let ended_ns = monotonic_ns();
    let _ = done_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    drop(child);
    if timed_out {
        // Grandchildren that outlived the runner go with it.
        // SAFETY: the group was created for this start.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    if timed_out {
        return Ok(Err(Failure::Timeout));
    }
    if waited != pid {
        return Ok(Err(Failure::Crashed(
            "could not wait for the runner".into(),
        )));
    }
    let (marks, error) = parse_marks(&marks_text);
    if let Some(error) = error {
        return Ok(Err(Failure::Runner(error)));
    }
    let at = |name: &str| marks.iter().find(|m| m.name == name).map(|m| m.ts_ns);
    let (Some(init_end), Some(invoke_start), Some(invoke_end)) =
        (at("init_end"), at("invoke_start"), at("invoke_end"))
    else {
        return Ok(Err(exited_early(status, &mut stderr_file)));
    };
    let ms = |ns: u64| ns as f64 / 1e6;
    Ok(Ok(Start {
        variant,
        init_ms: ms(init_end.saturating_sub(started_ns)),
        exec_ms: ms(invoke_end.saturating_sub(invoke_start)),
        end_to_end_ms: ms(ended_ns.saturating_sub(started_ns)),
        peak_rss_kib: usage.ru_maxrss as u64,
        answers: marks
            .iter()
            .filter(|m| m.name == "answer")
            .map(|m| m.detail.clone())
            .collect(),
        deferral: super::deferral(&marks),
    }))
}
