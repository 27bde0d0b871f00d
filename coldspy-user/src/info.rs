//! `coldspy info --pid PID`: what coldspy finds about a Python process —
//! version, build, binary, where the struct layout comes from, how imports
//! are timed, its threads. The first thing to run when a recording looks
//! wrong. Reads the target's files and memory only; loads no eBPF.

use crate::python::elf::path_in_process;
use crate::python::interpreter::{FindError, Interpreter};
use clap::Args;
use std::fmt::Write as _;
use std::process::ExitCode;

/// Python thread states listed at most.
const MAX_LISTED_THREADS: usize = 256;

/// Arguments of `coldspy info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The process to inspect.
    #[arg(long)]
    pub pid: u32,
}

/// Runs `coldspy info`.
pub fn run(args: InfoArgs) -> anyhow::Result<ExitCode> {
    let interpreter = Interpreter::find(args.pid).map_err(FindError::into_user_error)?;
    print!("{}", describe(&interpreter));
    Ok(ExitCode::SUCCESS)
}

/// The report, one `key: value` line each.
pub fn describe(interpreter: &Interpreter) -> String {
    let pid = interpreter.pid;
    let mut out = String::new();
    let mut line = |key: &str, value: String| {
        let _ = writeln!(out, "{key:<16} {value}");
    };
    line("pid:", pid.to_string());
    line("python:", format!("CPython {}", interpreter.version));
    line(
        "build:",
        format!(
            "{} ({})",
            interpreter.build,
            if interpreter.elf.has_symtab {
                "with symbols"
            } else {
                "stripped: exported symbols only"
            }
        ),
    );
    line("executable:", interpreter.executable.display().to_string());
    line("binary:", interpreter.binary.display().to_string());
    let root = std::fs::read_link(format!("/proc/{pid}/root"))
        .unwrap_or_else(|_| std::path::PathBuf::from("/"));
    if root != std::path::Path::new("/") {
        line(
            "root:",
            format!(
                "{} (chroot or mount namespace; binary read as {})",
                root.display(),
                path_in_process(pid, &interpreter.binary).display()
            ),
        );
    }
    line("_PyRuntime:", format!("{:#x}", interpreter.runtime_addr));
    line("layout:", interpreter.layout_source.clone());
    line("import route:", interpreter.import_route());
    let usdt: Vec<&str> = interpreter
        .elf
        .usdt_probes
        .iter()
        .map(String::as_str)
        .filter(|p| p.contains("import__find__load"))
        .collect();
    line(
        "usdt imports:",
        if usdt.is_empty() {
            "none".to_string()
        } else {
            format!("{} (present, not needed)", usdt.join(", "))
        },
    );
    let native_threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0);
    line("threads:", native_threads.to_string());
    line("python threads:", python_threads(interpreter));
    out
}

/// The Python thread states, by the id the kernel side matches on.
fn python_threads(interpreter: &Interpreter) -> String {
    let id_kind = if interpreter.layout.kernel.tstate_native_thread_id
        != coldspy_common::offsets::NO_OFFSET
    {
        "native_thread_id"
    } else {
        "thread_id (pthread_self)"
    };
    match interpreter.python_threads(MAX_LISTED_THREADS) {
        Ok(ids) => format!(
            "{} by {id_kind}: {}",
            ids.len(),
            ids.iter()
                .map(|id| match id_kind {
                    "native_thread_id" => id.to_string(),
                    _ => format!("{id:#x}"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => format!("cannot read the thread list: {e}"),
    }
}
