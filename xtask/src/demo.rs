//! `cargo xtask demo`: set up, build, profile the bundled example function
//! (`examples/handler.py`, which imports real libraries from a venv) and
//! print the ranked report.

use crate::setup::{self, SetupArgs};
use crate::util::{exec, repo_root};
use anyhow::Result;
use std::process::Command;

/// Runs the demo.
pub fn run() -> Result<()> {
    setup::run(&SetupArgs { core: true })?;
    let coldspy = crate::util::build_release("demo")?;
    let root = repo_root();
    let python = setup::venv_dir("pyenv-3.12").join("bin/python");
    let out = std::env::temp_dir().join("coldspy-demo.profile.json");
    println!(
        "[demo] sudo coldspy record -o {} -- {} examples/handler.py",
        out.display(),
        python.display()
    );
    exec(
        Command::new(&coldspy)
            .arg("record")
            .arg("-o")
            .arg(&out)
            .arg("--")
            .arg(&python)
            .arg(root.join("examples/handler.py"))
            .current_dir(&root),
    )?;
    println!("[demo] coldspy report {}", out.display());
    exec(Command::new(&coldspy).arg("report").arg(&out))
}
