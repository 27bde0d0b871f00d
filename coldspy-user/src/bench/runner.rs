//! The Rust side of coldspy's function runner: the Python script shipped in
//! the binary, the command that runs it under the target's interpreter, and
//! the marks it reports over an inherited pipe.
//!
//! Used by `coldspy bench` and by `coldspy record --handler … --event …`:
//! ```no_run
//! # fn main() -> Result<(), coldspy::bench::runner::RunnerError> {
//! use coldspy::bench::runner::{RunnerScript, RunnerSpec};
//! let script = RunnerScript::install()?;
//! let spec = RunnerSpec::new("python3", "app.py:handler").with_event("event.json");
//! let (mut command, marks) = spec.command(&script)?;
//! let mut child = command.spawn()?;
//! drop(command); // closes coldspy's copy of the pipe's write end: EOF when the runner exits
//! for message in marks {
//!     println!("{:?}", message?);
//! }
//! child.wait()?;
//! # Ok(()) }
//! ```

use crate::model::trace::PhaseMark;
use serde::Deserialize;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The runner script, embedded in the binary.
pub const RUNNER_SOURCE: &str = include_str!("../../runner/coldspy_runner.py");

/// File name of the runner script once written out.
pub const RUNNER_FILE_NAME: &str = "coldspy_runner.py";

/// Exit status of the runner for a usage error.
pub const EXIT_USAGE: i32 = 3;
/// Exit status of the runner for a handler or event error found before the first call.
pub const EXIT_SETUP: i32 = 4;
/// Exit status of the runner when the handler raised.
pub const EXIT_HANDLER_ERROR: i32 = 5;

/// Errors of the runner plumbing.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The private directory or the script could not be written.
    #[error("cannot write coldspy's function runner to {path}: {source}")]
    Install {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The marks pipe could not be created.
    #[error("cannot create the pipe for the runner's marks: {0}")]
    Pipe(std::io::Error),
    /// Reading the marks pipe failed.
    #[error("cannot read the runner's marks: {0}")]
    Read(#[from] std::io::Error),
    /// A line of the marks stream is not a mark.
    #[error("malformed runner mark {line:?}: {reason}")]
    Malformed {
        /// The line.
        line: String,
        /// Why it did not parse.
        reason: String,
    },
}

/// The runner script written to a private directory (mode 0700), removed on drop.
#[derive(Debug)]
pub struct RunnerScript {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl RunnerScript {
    /// Writes the embedded runner to a fresh private temporary directory.
    pub fn install() -> Result<RunnerScript, RunnerError> {
        let dir = tempfile::Builder::new()
            .prefix("coldspy-runner-")
            .tempdir()
            .map_err(|source| RunnerError::Install {
                path: std::env::temp_dir(),
                source,
            })?;
        let path = dir.path().join(RUNNER_FILE_NAME);
        std::fs::write(&path, RUNNER_SOURCE).map_err(|source| RunnerError::Install {
            path: path.clone(),
            source,
        })?;
        Ok(RunnerScript { dir, path })
    }

    /// Path of the script.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The private directory holding the script.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The runner's HTTP mode (`--serve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSpec {
    /// Port on 127.0.0.1; 0 = any free port (reported in the `listening` mark).
    pub port: u16,
    /// Invoke the handler once with the event before serving.
    pub warm_up: bool,
    /// Report `waiting` and block until SIGUSR1 before binding the socket
    /// (CRIU cannot dump a process holding a TCP socket on this kernel).
    pub wait_before_bind: bool,
}

/// What to run: an interpreter, a handler, an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerSpec {
    /// The Python interpreter (a path, or a name looked up in `PATH`).
    pub interpreter: PathBuf,
    /// `path/to/app.py:function` or `package.module:function`.
    pub handler: String,
    /// JSON event file; none = `{}`.
    pub event: Option<PathBuf>,
    /// Handler calls after init (direct mode).
    pub invocations: u32,
    /// HTTP mode instead of direct calls.
    pub serve: Option<ServeSpec>,
}

impl RunnerSpec {
    /// A spec for one direct invocation with an empty event.
    pub fn new(interpreter: impl Into<PathBuf>, handler: impl Into<String>) -> RunnerSpec {
        RunnerSpec {
            interpreter: interpreter.into(),
            handler: handler.into(),
            event: None,
            invocations: 1,
            serve: None,
        }
    }

    /// The same spec with an event file.
    pub fn with_event(mut self, event: impl Into<PathBuf>) -> RunnerSpec {
        self.event = Some(event.into());
        self
    }

    /// The runner's arguments after the script path, without `--marks-fd`.
    pub fn runner_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--handler".into(), self.handler.clone().into()];
        if let Some(event) = &self.event {
            args.push("--event".into());
            args.push(event.clone().into());
        }
        match &self.serve {
            None => {
                args.push("--invocations".into());
                args.push(self.invocations.to_string().into());
            }
            Some(serve) => {
                args.push("--serve".into());
                args.push(serve.port.to_string().into());
                if serve.warm_up {
                    args.push("--warm-up".into());
                }
                if serve.wait_before_bind {
                    args.push("--wait-before-bind".into());
                }
            }
        }
        args
    }

    /// The whole command line without marks (for display, or for timing the
    /// same command with another tool such as hyperfine).
    pub fn command_line(&self, script: &RunnerScript) -> Vec<OsString> {
        let mut line = vec![
            self.interpreter.clone().into_os_string(),
            script.path().into(),
        ];
        line.extend(self.runner_args());
        line
    }

    /// The command that starts the runner, and the read end of its marks pipe.
    ///
    /// The pipe's write end is passed as `--marks-fd N` and is owned by the
    /// returned command: **drop the command after spawning** so that the
    /// reader sees end-of-file when the runner exits. The caller may still
    /// add its own settings (stdio, environment, its own `pre_exec`).
    pub fn command(&self, script: &RunnerScript) -> Result<(Command, MarksReader), RunnerError> {
        let (read_end, write_end) = cloexec_pipe().map_err(RunnerError::Pipe)?;
        let write_fd = write_end.as_raw_fd();
        let mut command = Command::new(&self.interpreter);
        command
            .arg(script.path())
            .args(self.runner_args())
            .arg("--marks-fd")
            .arg(write_fd.to_string());
        // SAFETY: the closure only calls fcntl(2), which is async-signal-safe,
        // on a descriptor the closure itself keeps open.
        unsafe {
            command.pre_exec(move || {
                // Both pipe ends are close-on-exec in coldspy (so no other child
                // inherits them); only this child keeps the write end.
                let fd = write_end.as_raw_fd();
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok((command, MarksReader::new(File::from(read_end))))
    }
}

/// A pipe whose two ends are close-on-exec: (read end, write end).
fn cloexec_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`, which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The kind of an error the runner reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunnerErrorKind {
    /// Bad runner arguments (or a port that cannot be bound).
    Usage,
    /// The handler file or module does not exist.
    HandlerNotFound,
    /// Importing the handler module raised.
    InitError,
    /// The module has no such function.
    FunctionMissing,
    /// The event file cannot be read.
    EventNotFound,
    /// The event is not JSON.
    EventInvalid,
    /// The handler raised during an invocation.
    HandlerError,
    /// A kind this coldspy does not know.
    #[serde(other)]
    Other,
}

impl RunnerErrorKind {
    /// True for errors that every start of the same function will hit
    /// (bad handler, module, function or event), as opposed to a failure of
    /// one invocation.
    pub fn is_setup_error(self) -> bool {
        !matches!(self, RunnerErrorKind::HandlerError | RunnerErrorKind::Other)
    }
}

/// An error reported by the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerFailure {
    /// What kind.
    pub kind: RunnerErrorKind,
    /// One line for the user.
    pub message: String,
    /// CLOCK_MONOTONIC (ns) when it was reported.
    pub ts_ns: u64,
}

/// One message of the marks stream.
#[derive(Debug, Clone, PartialEq)]
pub enum RunnerMessage {
    /// A phase boundary: `runner_ready`, `init_end`, `invoke_start`,
    /// `invoke_end`, `waiting` (or `listening`, see [`RunnerMessage::Listening`]).
    Mark(PhaseMark),
    /// HTTP mode: the socket is bound (its mark is named `listening`).
    Listening {
        /// The mark.
        mark: PhaseMark,
        /// The bound port.
        port: u16,
    },
    /// An error the runner reports.
    Error(RunnerFailure),
}

impl RunnerMessage {
    /// The phase mark this message carries (errors carry none).
    pub fn phase_mark(&self) -> Option<&PhaseMark> {
        match self {
            RunnerMessage::Mark(mark) | RunnerMessage::Listening { mark, .. } => Some(mark),
            RunnerMessage::Error(_) => None,
        }
    }
}

/// One line of the stream, as JSON.
#[derive(Debug, Deserialize)]
struct WireMark {
    name: String,
    ts_ns: u64,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    kind: Option<RunnerErrorKind>,
    #[serde(default)]
    message: Option<String>,
}

/// Parses one line of the marks stream.
pub fn parse_mark_line(line: &str) -> Result<RunnerMessage, RunnerError> {
    let malformed = |reason: String| RunnerError::Malformed {
        line: line.to_owned(),
        reason,
    };
    let wire: WireMark = serde_json::from_str(line).map_err(|e| malformed(e.to_string()))?;
    let mark = PhaseMark {
        name: wire.name,
        ts_ns: wire.ts_ns,
    };
    Ok(match mark.name.as_str() {
        "error" => RunnerMessage::Error(RunnerFailure {
            kind: wire.kind.unwrap_or(RunnerErrorKind::Other),
            message: wire.message.unwrap_or_default(),
            ts_ns: mark.ts_ns,
        }),
        "listening" => RunnerMessage::Listening {
            port: wire
                .port
                .ok_or_else(|| malformed("a listening mark without a port".into()))?,
            mark,
        },
        _ => RunnerMessage::Mark(mark),
    })
}

/// Parses a whole marks stream (JSON lines; blank lines are skipped).
pub fn parse_marks(text: &str) -> Result<Vec<RunnerMessage>, RunnerError> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(parse_mark_line)
        .collect()
}

/// The phase marks of a stream, in order, for [`crate::model::trace::Trace::phases`].
pub fn phase_marks(messages: &[RunnerMessage]) -> Vec<PhaseMark> {
    messages
        .iter()
        .filter_map(RunnerMessage::phase_mark)
        .cloned()
        .collect()
}

/// Reads marks from the pipe as they arrive; ends at end-of-file.
#[derive(Debug)]
pub struct MarksReader {
    reader: BufReader<File>,
}

impl MarksReader {
    fn new(file: File) -> MarksReader {
        MarksReader {
            reader: BufReader::new(file),
        }
    }

    /// Blocks for the next message; `None` at end-of-file.
    pub fn next_message(&mut self) -> Result<Option<RunnerMessage>, RunnerError> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            if !line.trim().is_empty() {
                return parse_mark_line(line.trim_end()).map(Some);
            }
        }
    }
}

impl Iterator for MarksReader {
    type Item = Result<RunnerMessage, RunnerError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_message().transpose()
    }
}

/// CLOCK_MONOTONIC now, in ns: the clock of the runner's marks and of the
/// kernel's `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `now` is.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_marks_stream() {
        let text = "{\"name\":\"runner_ready\",\"ts_ns\":10}\n\n\
                    {\"name\":\"init_end\",\"ts_ns\":20}\n\
                    {\"name\":\"listening\",\"ts_ns\":25,\"port\":8080}\n\
                    {\"name\":\"error\",\"ts_ns\":30,\"kind\":\"function_missing\",\"message\":\"no f\"}\n\
                    {\"name\":\"error\",\"ts_ns\":31,\"kind\":\"from_the_future\",\"message\":\"?\"}\n";
        let messages = parse_marks(text).unwrap();
        assert_eq!(messages.len(), 5);
        assert_eq!(
            phase_marks(&messages),
            vec![
                PhaseMark {
                    name: "runner_ready".into(),
                    ts_ns: 10
                },
                PhaseMark {
                    name: "init_end".into(),
                    ts_ns: 20
                },
                PhaseMark {
                    name: "listening".into(),
                    ts_ns: 25
                },
            ]
        );
        assert!(matches!(
            messages[2],
            RunnerMessage::Listening { port: 8080, .. }
        ));
        assert_eq!(
            messages[3],
            RunnerMessage::Error(RunnerFailure {
                kind: RunnerErrorKind::FunctionMissing,
                message: "no f".into(),
                ts_ns: 30
            })
        );
        assert!(matches!(
            &messages[4],
            RunnerMessage::Error(RunnerFailure {
                kind: RunnerErrorKind::Other,
                ..
            })
        ));
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(matches!(
            parse_marks("not json\n"),
            Err(RunnerError::Malformed { .. })
        ));
        assert!(parse_mark_line("{\"name\":\"listening\",\"ts_ns\":1}").is_err());
    }

    #[test]
    fn command_line_of_each_mode() {
        let script = RunnerScript::install().unwrap();
        let mut spec = RunnerSpec::new("python3", "app.py:handler").with_event("e.json");
        spec.invocations = 3;
        let line: Vec<String> = spec
            .command_line(&script)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(line[0], "python3");
        assert!(line[1].ends_with(RUNNER_FILE_NAME));
        assert_eq!(
            &line[2..],
            [
                "--handler",
                "app.py:handler",
                "--event",
                "e.json",
                "--invocations",
                "3"
            ]
        );
        spec.serve = Some(ServeSpec {
            port: 0,
            warm_up: true,
            wait_before_bind: true,
        });
        let args: Vec<OsString> = spec.runner_args();
        assert_eq!(
            args,
            [
                "--handler",
                "app.py:handler",
                "--event",
                "e.json",
                "--serve",
                "0",
                "--warm-up",
                "--wait-before-bind"
            ]
            .map(OsString::from)
        );
        assert_eq!(
            std::fs::read_to_string(script.path()).unwrap(),
            RUNNER_SOURCE
        );
    }
}
