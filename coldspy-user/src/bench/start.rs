//! One cold start of a function: spawn the runner, collect its marks, time
//! init / first exec / end-to-end, reap it with its peak RSS, and kill it if
//! it outlives the timeout.
//!
//! Times are CLOCK_MONOTONIC differences from the instant just before the
//! spawn (fork + exec of the interpreter), the same interval hyperfine starts
//! from; end-to-end ends when the process is reaped (direct mode) or when the
//! first HTTP answer has been read (`--serve` mode).

use super::runner::{
    monotonic_ns, runner_failure, MarksPipe, RunnerErrorKind, RunnerMessage, RunnerScript,
    RunnerSpec,
};
use super::BenchError;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Most bytes of a failed start's stderr kept for the report.
const STDERR_TAIL_BYTES: usize = 2048;

/// How to start.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Kill the start (its whole process group) after this long.
    pub timeout: Duration,
    /// Drop the page cache before the start (root).
    pub drop_caches: bool,
    /// The event sent as the first request's body (`--serve` mode).
    pub event_body: Vec<u8>,
}

/// What one successful start measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartMeasurement {
    /// Spawn → `runner_ready`: the interpreter's own start (plus the runner's few lines).
    pub interpreter_start_ms: f64,
    /// Spawn → `init_end`: the handler module is imported.
    pub init_ms: f64,
    /// The first invocation: `invoke_start` → `invoke_end`.
    pub exec_ms: f64,
    /// Spawn → process reaped (direct mode), or → first HTTP answer read (`--serve`).
    pub end_to_end_ms: f64,
    /// The process's peak resident set size (`ru_maxrss` from wait4), KiB.
    pub peak_rss_kib: u64,
}

/// Why a start failed; failed starts are counted, never averaged in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StartFailure {
    /// The start outlived `--timeout` and was killed.
    Timeout {
        /// The timeout, ms.
        after_ms: f64,
    },
    /// The runner reported an error (bad handler, handler raised, …).
    Runner {
        /// What kind.
        kind: RunnerErrorKind,
        /// The runner's one-line message.
        message: String,
    },
    /// The process ended without the marks of a complete start.
    Exit {
        /// How it ended (`exit status 1`, `signal 9`).
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// The HTTP request of `--serve` mode failed.
    Http {
        /// What went wrong.
        message: String,
    },
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartFailure::Timeout { after_ms } => {
                write!(f, "timed out after {}", super::format::duration(*after_ms))
            }
            StartFailure::Runner { message, .. } => f.write_str(message),
            StartFailure::Exit { status, stderr } => {
                let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
                match last {
                    Some(line) => write!(f, "the runner ended with {status}: {}", line.trim()),
                    None => write!(f, "the runner ended with {status}"),
                }
            }
            StartFailure::Http { message } => write!(f, "HTTP request failed: {message}"),
        }
    }
}

/// Messages from the helper threads of one start.
enum Event {
    Message(RunnerMessage),
    MarksBroken(String),
    Exited {
        wait_status: i32,
        peak_rss_kib: u64,
        ts_ns: u64,
    },
}

/// Runs one cold start. `Err` only for problems of coldspy or of the set-up
/// (interpreter not found, page cache not droppable); a failing function is
/// `Ok(Err(failure))`.
pub fn cold_start(
    spec: &RunnerSpec,
    script: &RunnerScript,
    options: &StartOptions,
) -> Result<Result<StartMeasurement, StartFailure>, BenchError> {
    if options.drop_caches {
        drop_page_cache()?;
    }
    let pipe = MarksPipe::new()?;
    let mut command = spec.command(script.path(), &pipe);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let spawn_ns = monotonic_ns();
    let spawned = command.spawn();
    let marks = pipe.into_reader();
    let mut child = spawned.map_err(|source| BenchError::Spawn {
        interpreter: spec.interpreter.clone(),
        source,
    })?;
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + options.timeout;

    let (sender, events) = mpsc::channel();
    let marks_sender = sender.clone();
    let marks_thread = std::thread::spawn(move || {
        for message in marks {
            let event = match message {
                Ok(message) => Event::Message(message),
                Err(error) => Event::MarksBroken(error.to_string()),
            };
            if marks_sender.send(event).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take();
    let stderr_thread = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.read_to_end(&mut text);
        }
        let start = text.len().saturating_sub(STDERR_TAIL_BYTES);
        String::from_utf8_lossy(&text[start..]).into_owned()
    });
    std::thread::spawn(move || {
        let (wait_status, peak_rss_kib) = wait4(pid);
        let ts_ns = monotonic_ns();
        let _ = sender.send(Event::Exited {
            wait_status,
            peak_rss_kib,
            ts_ns,
        });
    });

    let mut messages = Vec::new();
    let mut answered: Option<Result<u64, String>> = None;
    let mut timed_out = false;
    let mut broken_marks = None;
    let (wait_status, peak_rss_kib, exit_ns) = loop {
        let event = if timed_out {
            events.recv().ok()
        } else {
            match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(event) => Some(event),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    timed_out = true;
                    kill_group(pid, libc::SIGKILL);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => None,
            }
        };
        match event {
            Some(Event::Message(message)) => {
                if let RunnerMessage::Listening { port, .. } = &message {
                    if answered.is_none() {
                        let result = http_post(*port, &options.event_body, deadline)
                            .map(|()| monotonic_ns());
                        answered = Some(result);
                        kill_group(pid, libc::SIGTERM);
                    }
                }
                messages.push(message);
            }
            Some(Event::MarksBroken(reason)) => broken_marks = Some(reason),
            Some(Event::Exited {
                wait_status,
                peak_rss_kib,
                ts_ns,
            }) => break (wait_status, peak_rss_kib, ts_ns),
            None => unreachable!("the waiter thread always reports the exit"),
        }
    };
    // Whatever the runner left behind in its process group goes with it.
    kill_group(pid, libc::SIGKILL);
    let _ = marks_thread.join();
    let stderr_tail = stderr_thread.join().unwrap_or_default();
    messages.extend(events.try_iter().filter_map(|event| match event {
        Event::Message(message) => Some(message),
        _ => None,
    }));

    if timed_out {
        return Ok(Err(StartFailure::Timeout {
            after_ms: options.timeout.as_secs_f64() * 1e3,
        }));
    }
    if let Some(failure) = runner_failure(&messages) {
        return Ok(Err(StartFailure::Runner {
            kind: failure.kind,
            message: failure.message.clone(),
        }));
    }
    if let Some(Err(message)) = answered {
        return Ok(Err(StartFailure::Http { message }));
    }
    let serving = spec.serve.is_some();
    let clean_exit = if serving {
        answered.is_some()
    } else {
        libc::WIFEXITED(wait_status) && libc::WEXITSTATUS(wait_status) == 0
    };
    let mark = |name: &str| {
        messages
            .iter()
            .filter_map(RunnerMessage::phase_mark)
            .find(|mark| mark.name == name)
            .map(|mark| mark.ts_ns)
    };
    let marks = (
        mark("runner_ready"),
        mark("init_end"),
        mark("invoke_start"),
        mark("invoke_end"),
    );
    let (Some(ready_ns), Some(init_ns), Some(invoke_start_ns), Some(invoke_end_ns), true) =
        (marks.0, marks.1, marks.2, marks.3, clean_exit)
    else {
        let mut stderr = stderr_tail;
        if let Some(reason) = broken_marks {
            stderr.push_str(&reason);
        }
        return Ok(Err(StartFailure::Exit {
            status: describe_wait_status(wait_status),
            stderr,
        }));
    };
    let end_ns = match answered {
        Some(Ok(answer_ns)) => answer_ns,
        _ => exit_ns,
    };
    let ms = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1e6;
    Ok(Ok(StartMeasurement {
        interpreter_start_ms: ms(spawn_ns, ready_ns),
        init_ms: ms(spawn_ns, init_ns),
        exec_ms: ms(invoke_start_ns, invoke_end_ns),
        end_to_end_ms: ms(spawn_ns, end_ns),
        peak_rss_kib,
    }))
}

/// Reaps `pid`: its raw wait status and peak RSS (KiB).
fn wait4(pid: libc::pid_t) -> (i32, u64) {
    let mut status = 0;
    // SAFETY: rusage is plain old data; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 writes the status and the rusage we pass.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return (status, usage.ru_maxrss.max(0) as u64);
        }
        if reaped < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return (status, 0);
        }
    }
}

/// Sends a signal to the process group led by `pid` (gone already is fine).
fn kill_group(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory effects.
    unsafe { libc::kill(-pid, signal) };
}

fn describe_wait_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("wait status {status:#x}")
    }
}

/// Writes back dirty pages and drops the page cache, dentries and inodes.
fn drop_page_cache() -> Result<(), BenchError> {
    // SAFETY: sync(2) has no arguments and cannot fail.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3\n").map_err(BenchError::DropCaches)
}

/// POSTs `body` to 127.0.0.1:`port` and reads the whole answer (HTTP/1.1,
/// `Connection: close`); Ok when the status is 200.
fn http_post(port: u16, body: &[u8], deadline: Instant) -> Result<(), String> {
    let remaining = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, remaining())
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    stream
        .set_read_timeout(Some(remaining()))
        .and_then(|()| stream.set_write_timeout(Some(remaining())))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("no complete answer: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    let status_line = text.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("the function answered {status_line:?}"))
    }
}
