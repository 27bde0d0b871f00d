//! The `coldspy` binary: parse arguments, run the command, map errors to an
//! exit status. Everything else lives in the library.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = coldspy::cli::Cli::parse();
    coldspy::cli::init_logging(cli.verbose);
    match coldspy::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("coldspy: {}", coldspy::error::one_line(&err));
            ExitCode::from(coldspy::error::exit_code(&err))
        }
    }
}
