//! The Rust side of coldspy's function runner (`runner/coldspy_runner.py`,
//! shipped inside the binary): where it is written, the command that runs a
//! handler with it, and the phase marks it reports over a pipe.

pub mod measure;

use crate::model::trace::PhaseMark;
use crate::model::verification::DeferredModule;
use crate::sys::pipe::pipe_inheriting;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The runner's source.
pub const RUNNER_SOURCE: &str = include_str!("../../runner/coldspy_runner.py");

/// Writes the runner to a private directory (once per content) and returns its path.
pub fn runner_path() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("coldspy-runner-{uid}"));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let meta = std::fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || std::os::unix::fs::MetadataExt::uid(&meta) != uid {
        return Err(std::io::Error::other(format!(
            "{} is not a directory owned by uid {uid}",
            dir.display()
        )));
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    let path = dir.join("coldspy_runner.py");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(RUNNER_SOURCE) {
        let tmp = dir.join(format!(".runner.{}", std::process::id()));
        std::fs::write(&tmp, RUNNER_SOURCE)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

/// How to run a handler.
#[derive(Debug, Clone)]
pub struct RunnerSpec {
    /// The interpreter.
    pub python: PathBuf,
    /// `path/to/app.py:function` or `package.module:function`.
    pub handler: String,
    /// The event (JSON file), or none for `{}`.
    pub event: Option<PathBuf>,
    /// Invocations after init.
    pub invocations: u32,
    /// HTTP mode on this loopback port.
    pub serve: Option<u16>,
    /// In HTTP mode: wait for the port on this inherited fd before binding
    /// (the snapshot for CRIU is taken while it waits).
    pub control_fd: Option<i32>,
    /// Modules the runner defers without changing the code (`--defer`).
    pub defer: Vec<String>,
    /// Report a digest of each answer (the return value as JSON).
    pub answers: bool,
    /// Report the modules the handler's top-level code names (`init_use`
    /// mark, after init): for recordings, not timed runs.
    pub init_use: bool,
}

impl RunnerSpec {
    /// Runs `handler` with `python` once, with the event `{}`, not in HTTP
    /// mode: the defaults every caller starts from.
    pub fn new(python: &Path, handler: &str) -> Self {
        Self {
            python: python.to_path_buf(),
            handler: handler.to_string(),
            event: None,
            invocations: 1,
            serve: None,
            control_fd: None,
            defer: Vec::new(),
            answers: false,
            init_use: false,
        }
    }

    /// Reports what the handler's top-level code names (`init_use` mark).
    pub fn init_use(mut self, init_use: bool) -> Self {
        self.init_use = init_use;
        self
    }

    /// Defers these modules' imports (none: the function unchanged).
    pub fn defer(mut self, modules: &[String]) -> Self {
        self.defer = modules.to_vec();
        self
    }

    /// Reports the sha256 of each answer (`answer` marks).
    pub fn answers(mut self, answers: bool) -> Self {
        self.answers = answers;
        self
    }

    /// The event file passed to the handler (none: `{}`).
    pub fn event(mut self, event: Option<PathBuf>) -> Self {
        self.event = event;
        self
    }

    /// Invocations after init.
    pub fn invocations(mut self, invocations: u32) -> Self {
        self.invocations = invocations;
        self
    }

    /// HTTP mode on this loopback port; with `control_fd`, the runner waits
    /// for the port on that inherited fd before binding (the CRIU snapshot
    /// is taken while it waits).
    pub fn serve(mut self, port: u16, control_fd: Option<i32>) -> Self {
        self.serve = Some(port);
        self.control_fd = control_fd;
        self
    }

    /// The argv (interpreter first) that runs the handler, marks to `marks_fd`.
    pub fn argv(&self, runner: &Path, marks_fd: i32) -> Vec<String> {
        let mut argv = vec![
            self.python.display().to_string(),
            runner.display().to_string(),
            "--handler".into(),
            self.handler.clone(),
            "--invocations".into(),
            self.invocations.to_string(),
            "--marks-fd".into(),
            marks_fd.to_string(),
        ];
        if let Some(event) = &self.event {
            argv.extend(["--event".into(), event.display().to_string()]);
        }
        if !self.defer.is_empty() {
            argv.extend(["--defer".into(), self.defer.join(",")]);
        }
        if self.answers {
            argv.push("--answers".into());
        }
        if self.init_use {
            argv.push("--init-use".into());
        }
        if let Some(port) = self.serve {
            argv.extend(["--serve".into(), port.to_string()]);
            if let Some(fd) = self.control_fd {
                argv.extend([
                    "--wait-before-bind".into(),
                    "--control-fd".into(),
                    fd.to_string(),
                ]);
            }
        }
        argv
    }

    /// A `Command` for the runner.
    pub fn command(&self, runner: &Path, marks_fd: i32) -> Command {
        let argv = self.argv(runner, marks_fd);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd
    }
}

/// A pipe for marks: the read end stays here, the write end is inherited by
/// the runner (no close-on-exec).
#[derive(Debug)]
pub struct MarksPipe {
    /// Read end (close-on-exec).
    pub read: OwnedFd,
    /// Write end (inheritable).
    pub write: OwnedFd,
}

impl MarksPipe {
    /// A new pipe.
    pub fn new() -> std::io::Result<Self> {
        let (read, write) = pipe_inheriting(false)?;
        Ok(Self { read, write })
    }

    /// The write end's number, to pass as `--marks-fd`.
    pub fn write_fd(&self) -> i32 {
        self.write.as_raw_fd()
    }
}

/// `path/to/app.py:function` with an absolute path (so that it still names
/// the same file from another working directory); module handlers and
/// missing files are returned as they are.
pub fn absolute_handler(handler: &str) -> String {
    match handler.rsplit_once(':') {
        Some((file, function)) if file.ends_with(".py") || file.contains('/') => {
            match std::fs::canonicalize(file) {
                Ok(path) => format!("{}:{function}", path.display()),
                Err(_) => handler.to_string(),
            }
        }
        _ => handler.to_string(),
    }
}

/// A failure the runner reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunnerError {
    /// `handler_missing`, `function_missing`, `init_raised`, `handler_raised`,
    /// `event_missing`, `event_not_json`, `usage`.
    pub kind: String,
    /// The runner's message.
    pub message: String,
}

impl std::fmt::Display for RunnerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind.as_str() {
            "handler_missing" => "handler not found",
            "function_missing" => "handler function not found",
            "init_raised" => "the handler module raised while importing",
            "handler_raised" => "the handler raised",
            "event_missing" => "event file not readable",
            "event_not_json" => "event is not JSON",
            _ => "runner error",
        };
        write!(f, "{what}: {}", self.message)
    }
}

/// Parses the marks stream: marks in order, and the error if one was reported.
pub fn parse_marks(text: &str) -> (Vec<PhaseMark>, Option<RunnerError>) {
    let mut marks = Vec::new();
    let mut error = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(name), Some(ts)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(ts_ns) = ts.parse::<u64>() else {
            continue;
        };
        if name == "error" {
            let rest = parts.next().unwrap_or("");
            let (kind, message) = rest.split_once(' ').unwrap_or((rest, ""));
            error = Some(RunnerError {
                kind: kind.to_string(),
                message: message.to_string(),
            });
        } else {
            marks.push(PhaseMark {
                name: name.to_string(),
                ts_ns,
                detail: parts.next().unwrap_or("").to_string(),
                tid: None,
            });
        }
    }
    (marks, error)
}

/// What the runner did with `--defer`: how, and each module's fate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deferral {
    /// `lazy_loader` or `pep810`.
    pub method: String,
    /// Each deferred module: deferred, loaded at init anyway, not imported;
    /// and the invocation that first ran it.
    pub modules: Vec<DeferredModule>,
}

/// The `defer` marks of a run (`None` without `--defer`): `method M`,
/// `deferred NAME`, `loaded NAME SITE`, `not_imported NAME` after init, and
/// `used NAME SITE` after the invocation that first ran it.
pub fn deferral(marks: &[PhaseMark]) -> Option<Deferral> {
    let mut out: Option<Deferral> = None;
    let mut invocations = 0;
    for m in marks {
        if m.name == "invoke_end" {
            invocations += 1;
        }
        if m.name != "defer" {
            continue;
        }
        let d = out.get_or_insert_with(|| Deferral {
            method: String::new(),
            modules: Vec::new(),
        });
        let mut parts = m.detail.splitn(3, ' ');
        let (state, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let site = parts.next().map(str::to_string);
        match state {
            "method" => d.method = name.to_string(),
            "used" => {
                if let Some(module) = d.modules.iter_mut().find(|x| x.module == name) {
                    module.first_used_in = Some(invocations);
                    module.site = site;
                }
            }
            _ => d.modules.push(DeferredModule {
                module: name.to_string(),
                state: state.to_string(),
                site,
                first_used_in: None,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_errors_parse() {
        let (marks, error) = parse_marks("runner_ready 10\ninit_end 20\ninvoke_start 30\ninvoke_end 45\nerror 50 handler_raised ValueError: bad x\n");
        assert_eq!(marks.len(), 4);
        assert_eq!(
            marks[1],
            PhaseMark {
                name: "init_end".into(),
                ts_ns: 20,
                detail: String::new(),
                tid: None,
            }
        );
        let error = error.unwrap();
        assert_eq!(error.kind, "handler_raised");
        assert_eq!(error.message, "ValueError: bad x");
        assert!(error.to_string().starts_with("the handler raised"));
    }

    #[test]
    fn defer_marks_say_what_became_of_each_module() {
        let (marks, _) = parse_marks(
            "init_end 1\ndefer 2 method lazy_loader\ndefer 2 deferred pandas\ndefer 2 loaded rich /a b/app.py:12\ndefer 2 not_imported nope\ninvoke_start 3\ninvoke_end 4\ndefer 5 used pandas /app.py:30\n",
        );
        let d = deferral(&marks).unwrap();
        assert_eq!(d.method, "lazy_loader");
        assert_eq!(d.modules.len(), 3);
        assert_eq!(
            (d.modules[0].state.as_str(), d.modules[0].first_used_in),
            ("deferred", Some(1))
        );
        assert_eq!(d.modules[0].site.as_deref(), Some("/app.py:30"));
        assert_eq!(d.modules[1].site.as_deref(), Some("/a b/app.py:12"));
        assert_eq!(d.modules[2].state, "not_imported");
        assert!(deferral(&marks[..1]).is_none());
        let spec = RunnerSpec::new(Path::new("/py"), "a.py:h")
            .defer(&["pandas".into(), "scipy.stats".into()])
            .answers(true);
        let argv = spec.argv(Path::new("/r.py"), 5);
        assert!(argv
            .windows(2)
            .any(|w| w == ["--defer", "pandas,scipy.stats"]));
        assert!(argv.contains(&"--answers".to_string()));
    }

    #[test]
    fn exact_use_marks_keep_their_module_list() {
        let (marks, _) =
            parse_marks("invoke_end 45\nexact_use 46 handler markdown markdown.core\n");
        assert_eq!(marks[1].name, "exact_use");
        assert_eq!(marks[1].detail, "handler markdown markdown.core");
    }
}
