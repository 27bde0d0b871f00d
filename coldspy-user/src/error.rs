//! Errors a user can hit, and how they map to one line and an exit status.

use std::path::PathBuf;

/// Errors that stop a recording before it starts.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No such process.
    #[error("no process with pid {0}")]
    NoSuchProcess(u32),
    /// The process exists but cannot be profiled (a kernel thread, an
    /// unreadable memory map).
    #[error("process {pid} ({comm}) exists but {why}")]
    ProcessUnreadable {
        /// The process.
        pid: u32,
        /// Its command name.
        comm: String,
        /// Why it cannot be profiled.
        why: String,
    },
    /// The process is not a CPython interpreter.
    #[error("process {pid} ({exe}) is not a Python process: no _PyRuntime in its executable or libraries")]
    NotPython {
        /// The process.
        pid: u32,
        /// Its executable.
        exe: String,
    },
    /// The CPython version is not supported.
    #[error("CPython {found} ({binary}) is not supported; supported: {supported}")]
    UnsupportedPython {
        /// The version found.
        found: String,
        /// The interpreter binary.
        binary: String,
        /// The versions coldspy supports.
        supported: String,
    },
    /// Missing privileges.
    #[error("coldspy needs root (or CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE) to load eBPF programs; run it with sudo")]
    NoPrivileges,
    /// A kernel feature is missing.
    #[error("this kernel lacks {feature}: {hint}")]
    MissingKernelFeature {
        /// What is missing.
        feature: String,
        /// What to do.
        hint: String,
    },
    /// The command to record was not found.
    #[error("command not found: {0}")]
    CommandNotFound(String),
    /// SIGINT, SIGTERM or SIGHUP arrived before the target ran Python.
    #[error("interrupted by {} before {what} ran Python; nothing recorded", signal_name(*.signal))]
    Interrupted {
        /// The signal.
        signal: i32,
        /// The command or process.
        what: String,
    },
    /// The output path cannot be written.
    #[error("cannot write the profile to {path}: {source}")]
    OutputNotWritable {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// `SIGINT`, `SIGTERM`, or `signal N`.
pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

/// The first line of an error chain, joined with its causes: one line for stderr.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    shorten_verifier_log(&line, &std::env::temp_dir()).replace('\n', " ")
}

/// The kernel verifier's log (thousands of lines when it refuses a
/// program) goes to a file in `dir`; the line keeps its last words and
/// names the file.
fn shorten_verifier_log(line: &str, dir: &std::path::Path) -> String {
    const MARK: &str = "Verifier output:";
    let Some(at) = line.find(MARK) else {
        return line.to_string();
    };
    let log = line[at + MARK.len()..].trim();
    let last = log
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time")
        })
        .unwrap_or("");
    let path = dir.join(format!("coldspy-verifier-{}.log", std::process::id()));
    let saved = std::fs::write(&path, log.as_bytes()).is_ok();
    let mut short = format!("{}the kernel's verifier refused it: {last}", &line[..at]);
    if saved {
        short.push_str(&format!(
            " (its log, {} lines: {})",
            log.lines().count(),
            path.display()
        ));
    }
    short
}

/// Exit status for an error: 77 without privileges, 128 + N when signal N
/// interrupted set-up, 2 for usage and input errors, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err
        .downcast_ref::<crate::model::profile::ProfileReadError>()
        .is_some()
    {
        return 2;
    }
    match err.downcast_ref::<SetupError>() {
        Some(SetupError::NoPrivileges) => 77,
        // Like a shell: 128 + the signal.
        Some(SetupError::Interrupted { signal, .. }) => 128 + *signal as u8,
        Some(_) => 2,
        None => 1,
    }
}

#[cfg(test)]
mod verifier_tests {
    #[test]
    fn a_verifier_log_becomes_its_last_words_and_a_file() {
        let dir =
            std::env::temp_dir().join(format!("coldspy-verifier-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = "0: (b7) r0 = 0\n1: (85) call bpf_loop#181\nR1 type=scalar expected=fp\nprocessed 2 insns (limit 1000000)\n";
        let line = format!("cannot attach the CPU sampler: the BPF_PROG_LOAD syscall returned Permission denied (os error 13). Verifier output: {log}");
        let short = super::shorten_verifier_log(&line, &dir);
        assert!(short.starts_with("cannot attach the CPU sampler: the BPF_PROG_LOAD syscall returned Permission denied (os error 13). the kernel's verifier refused it: R1 type=scalar expected=fp"), "{short}");
        assert!(short.contains("4 lines"), "{short}");
        assert!(!short.contains("r0 = 0"), "{short}");
        let saved = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert_eq!(std::fs::read_to_string(saved).unwrap(), log.trim());
        assert_eq!(
            super::shorten_verifier_log("no log here", &dir),
            "no log here"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
