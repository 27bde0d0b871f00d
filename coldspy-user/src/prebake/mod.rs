//! `coldspy prebake`: start a function from a CRIU snapshot taken after its
//! initialization. `prebake` starts coldspy's runner in HTTP mode, waits until
//! the handler is imported (and optionally warmed up), and checkpoints it
//! before it binds its socket; `prebake restore` restores the image, tells it
//! its port and waits for its first answer; `prebake bench` compares vanilla
//! starts and restores, interleaved.

pub mod criu;
pub mod http;
pub mod image;

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `coldspy prebake`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
#[command(
    after_help = "Examples:\n  sudo coldspy prebake --handler app.py:handler --python VENV/bin/python -o /var/tmp/app.img\n  sudo coldspy prebake restore /var/tmp/app.img --port 8080\n  sudo coldspy prebake bench /var/tmp/app.img --runs 50"
)]
pub struct PrebakeArgs {
    /// Restore or compare instead of creating an image.
    #[command(subcommand)]
    pub action: Option<Action>,
    /// The handler: path/to/app.py:function or package.module:function.
    #[arg(long)]
    pub handler: Option<String>,
    /// Invoke the handler once with this event (JSON file) before the snapshot.
    #[arg(long)]
    pub event: Option<PathBuf>,
    /// The interpreter.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// The image directory to create.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// `coldspy prebake` sub-commands.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Restore an image and wait until it answers its first request.
    Restore {
        /// The image directory.
        image: PathBuf,
        /// Loopback port to serve on (default: a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Stop the restored function after its first answer.
        #[arg(long)]
        once: bool,
    },
    /// Compare vanilla starts, restores of the image and fork-server starts,
    /// interleaved (also `coldspy bench --prebaked IMAGE`).
    Bench {
        /// The image directory.
        image: PathBuf,
        /// Starts per variant.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(2..))]
        runs: u64,
        /// Requests timed after each start, for the response-time ECDF.
        #[arg(long, default_value_t = 10)]
        requests: usize,
        /// Drop the page cache before every start (root): the truly cold disk case.
        #[arg(long)]
        drop_caches: bool,
        /// Write every measurement as JSON here.
        #[arg(long)]
        export_json: Option<PathBuf>,
    },
}

/// Runs `coldspy prebake`.
pub fn run(args: PrebakeArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        Some(Action::Restore { image, port, once }) => {
            let restored = image::restore(&image, port)?;
            println!(
                "restored pid {} from {}: answered on 127.0.0.1:{} after {:.1} ms: {}",
                restored.pid,
                image.display(),
                restored.port,
                restored.ready_ms,
                restored.first_answer
            );
            if once {
                restored.stop();
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Action::Bench {
            image,
            runs,
            requests,
            drop_caches,
            export_json,
        }) => {
            let options = image::BenchOptions {
                runs: runs as usize,
                requests,
                drop_caches,
                export_json,
            };
            image::bench(&image, &options).map(|_| ExitCode::SUCCESS)
        }
        None => {
            let handler = args
                .handler
                .ok_or_else(|| anyhow::anyhow!("--handler is required to create an image"))?;
            let output = args
                .output
                .ok_or_else(|| anyhow::anyhow!("-o IMAGE_DIR is required to create an image"))?;
            let python = crate::sys::resolve(&args.python)?;
            let manifest = image::create(&python, &handler, args.event.as_deref(), &output)?;
            println!(
                "prebaked {handler} into {} in {:.1} ms ({:.1} MiB, CRIU {})",
                output.display(),
                manifest.dump_ms,
                manifest.image_bytes as f64 / (1 << 20) as f64,
                manifest.criu_version
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
