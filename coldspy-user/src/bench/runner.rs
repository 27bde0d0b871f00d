//! The Rust side of coldspy's function runner: the Python script shipped in
//! the binary, the command that runs it under the target's interpreter, and
//! the marks it reports over an inherited pipe.
//!
//! Used by `coldspy bench` and by `coldspy record --handler … --event …`:
//! ```no_run
//! # fn main() -> Result<(), coldspy::bench::runner::RunnerError> {
//! use coldspy::bench::runner::{phase_marks, MarksPipe, RunnerScript, RunnerSpec};
//! let script = RunnerScript::install()?; // keep it alive while the runner runs
//! let spec = RunnerSpec::new("python3", "app.py:handler").with_event("event.json");
//! let pipe = MarksPipe::new()?;
//! let mut child = spec.command(script.path(), &pipe).spawn()?;
//! let marks = pipe.into_reader(); // closes coldspy's write end: EOF when the runner exits
//! let messages = marks.collect::<Result<Vec<_>, _>>()?;
//! child.wait()?;
//! let phases = phase_marks(&messages); // -> Trace::phases
//! # Ok(()) }
//! ```

use crate::model::trace::PhaseMark;
use serde::Deserialize;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
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
    /// After init, mark `ready_to_bind`, close the marks descriptor and
    /// wait for SIGUSR1 before binding (CRIU cannot dump a process holding a
    /// TCP socket on this kernel, nor a pipe to coldspy).
    pub wait_before_bind: bool,
    /// With `wait_before_bind`: read the port from this file once woken
    /// (each restored copy can be told its own port).
    pub port_file: Option<PathBuf>,
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
                if let Some(port_file) = &serve.port_file {
                    args.push("--port-file".into());
                    args.push(port_file.clone().into());
                }
            }
        }
        args
    }

    /// The whole command line, interpreter first: the script at `script`,
    /// marks to `marks_fd` if given (without, the same command for another
    /// tool to time, e.g. hyperfine).
    pub fn argv(&self, script: &Path, marks_fd: Option<RawFd>) -> Vec<OsString> {
        let mut argv = vec![self.interpreter.clone().into_os_string(), script.into()];
        argv.extend(self.runner_args());
        if let Some(fd) = marks_fd {
            argv.push("--marks-fd".into());
            argv.push(fd.to_string().into());
        }
        argv
    }

    /// The command that starts the runner at `script`, reporting to `marks`.
    /// The caller may add its own settings (stdio, process group, …); after
    /// spawning, [`MarksPipe::into_reader`] closes coldspy's write end.
    pub fn command(&self, script: &Path, marks: &MarksPipe) -> Command {
        let argv = self.argv(script, Some(marks.write_fd()));
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        command
    }
}

/// The pipe the runner reports marks on. The read end is close-on-exec; the
/// write end is inherited by the runner (and by any child spawned while the
/// pipe exists, so spawn one runner at a time, or hold the pipe only around
/// the runner's spawn).
#[derive(Debug)]
pub struct MarksPipe {
    /// coldspy's end.
    pub read: OwnedFd,
    /// The runner's end (`--marks-fd`).
    pub write: OwnedFd,
}

impl MarksPipe {
    /// A new pipe.
    pub fn new() -> Result<MarksPipe, RunnerError> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into `fds`.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(RunnerError::Pipe(std::io::Error::last_os_error()));
        }
        // SAFETY: both descriptors were just created and are owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on a descriptor we own; clears close-on-exec of the write end only.
        if unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFD, 0) } < 0 {
            return Err(RunnerError::Pipe(std::io::Error::last_os_error()));
        }
        Ok(MarksPipe { read, write })
    }

    /// The write end's number, for `--marks-fd`.
    pub fn write_fd(&self) -> RawFd {
        self.write.as_raw_fd()
    }

    /// Closes coldspy's copy of the write end (call it once the runner is
    /// spawned, so that reading ends when the runner exits) and returns the reader.
    pub fn into_reader(self) -> MarksReader {
        drop(self.write);
        MarksReader::new(File::from(self.read))
    }
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

impl std::fmt::Display for RunnerFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One message of the marks stream.
#[derive(Debug, Clone, PartialEq)]
pub enum RunnerMessage {
    /// A phase boundary: `runner_ready`, `init_end`, `invoke_start`,
    /// `invoke_end`, `ready_to_bind` (or `listening`, see [`RunnerMessage::Listening`]).
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

/// The first error a stream reports, if any.
pub fn runner_failure(messages: &[RunnerMessage]) -> Option<&RunnerFailure> {
    messages.iter().find_map(|message| match message {
        RunnerMessage::Error(failure) => Some(failure),
        _ => None,
    })
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
        let argv: Vec<String> = spec
            .argv(script.path(), Some(7))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(argv[0], "python3");
        assert!(argv[1].ends_with(RUNNER_FILE_NAME));
        assert_eq!(
            &argv[2..],
            [
                "--handler",
                "app.py:handler",
                "--event",
                "e.json",
                "--invocations",
                "3",
                "--marks-fd",
                "7"
            ]
        );
        spec.serve = Some(ServeSpec {
            port: 0,
            warm_up: true,
            wait_before_bind: true,
            port_file: Some("port".into()),
        });
        assert_eq!(
            spec.runner_args(),
            [
                "--handler",
                "app.py:handler",
                "--event",
                "e.json",
                "--serve",
                "0",
                "--warm-up",
                "--wait-before-bind",
                "--port-file",
                "port"
            ]
            .map(OsString::from)
        );
        assert_eq!(
            std::fs::read_to_string(script.path()).unwrap(),
            RUNNER_SOURCE
        );
    }

    #[test]
    fn the_runner_reports_through_the_pipe() {
        let script = RunnerScript::install().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("app.py"),
            "def handler(event):\n    return event\n",
        )
        .unwrap();
        let handler = format!("{}:handler", dir.path().join("app.py").display());
        let pipe = MarksPipe::new().unwrap();
        let mut child = RunnerSpec::new("python3", handler)
            .command(script.path(), &pipe)
            .spawn()
            .unwrap();
        let messages: Vec<RunnerMessage> = pipe.into_reader().map(Result::unwrap).collect();
        assert!(child.wait().unwrap().success());
        let names: Vec<String> = phase_marks(&messages).into_iter().map(|m| m.name).collect();
        assert_eq!(
            names,
            ["runner_ready", "init_end", "invoke_start", "invoke_end"]
        );
        assert!(runner_failure(&messages).is_none());
    }
}
