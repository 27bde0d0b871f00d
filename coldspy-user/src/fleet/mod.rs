//! The fleet's I/O edge: finding the inputs of `coldspy merge` / `coldspy
//! export --format parquet` (JSON profiles in files and directories, fleet
//! table directories), streaming them one at a time into the pure
//! aggregation of `coldspy_core::fleet`, and the Parquet fleet table
//! ([`table`]).

pub mod table;

use coldspy_core::export::pprof::PprofBuilder;
use coldspy_core::fleet::{start_from_json, Aggregator, StartRecord};
use coldspy_core::model::profile::Profile;
use std::path::{Path, PathBuf};

/// Errors of the fleet table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The Parquet library refused a file.
    #[error("{path}: {message}")]
    Parquet {
        /// The file.
        path: String,
        /// The library's message.
        message: String,
    },
    /// A Parquet file that is not a coldspy fleet table file of a known version.
    #[error(
        "{path} has schema {schema:?} version {version}; this coldspy reads {:?} up to version {}",
        coldspy_core::fleet::TABLE_SCHEMA,
        coldspy_core::fleet::TABLE_SCHEMA_VERSION
    )]
    Schema {
        /// The file.
        path: String,
        /// Its `coldspy.schema`.
        schema: String,
        /// Its `coldspy.schema_version`.
        version: u32,
    },
    /// A column the reader needs is missing.
    #[error("{path} has no column {column:?}")]
    Column {
        /// The file.
        path: String,
        /// The column.
        column: String,
    },
}

impl TableError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
    fn parquet(path: &Path, e: parquet::errors::ParquetError) -> Self {
        Self::Parquet {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// One input of a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A JSON profile.
    Json(PathBuf),
    /// A fleet table directory.
    Table(PathBuf),
}

/// The inputs named on the command line: a fleet table directory as one
/// input, any other directory searched (recursively, in path order) for
/// `*.json` files, a file as itself.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Input>, TableError> {
    fn walk(dir: &Path, out: &mut Vec<Input>) -> Result<(), TableError> {
        if table::is_table(dir) {
            out.push(Input::Table(dir.to_path_buf()));
            return Ok(());
        }
        for path in table::sorted_entries(dir)? {
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(Input::Json(path));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out)?;
        } else if path.exists() {
            out.push(Input::Json(path.clone()));
        } else {
            return Err(TableError::io(
                path,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
    }
    Ok(out)
}

/// Counts of one pass over the inputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Starts read.
    pub starts: u64,
    /// Bytes of JSON parsed.
    pub json_bytes: u64,
}

/// Reads every input, one at a time, handing each start to `each`; a JSON
/// file that cannot be read, is corrupt, truncated or of another schema (and
/// a fleet table part that cannot be read) goes to `skip` with its reason.
pub fn for_each_start(
    inputs: &[Input],
    each: &mut dyn FnMut(StartRecord),
    skip: &mut dyn FnMut(String, String),
) -> Pass {
    let mut pass = Pass::default();
    for input in inputs {
        match input {
            Input::Json(path) => {
                let bytes = match std::fs::read(path) {
                    Ok(b) => b,
                    Err(e) => {
                        skip(path.display().to_string(), e.to_string());
                        continue;
                    }
                };
                pass.json_bytes += bytes.len() as u64;
                match start_from_json(&bytes) {
                    Ok(start) => {
                        pass.starts += 1;
                        each(start);
                    }
                    Err(e) => skip(path.display().to_string(), e.to_string()),
                }
            }
            Input::Table(root) => match table::start_parts(root) {
                Ok(parts) => {
                    for (part, function) in parts {
                        match table::read_part(root, &part, &function, each) {
                            Ok(n) => pass.starts += n,
                            Err(e) => skip(part.display().to_string(), e.to_string()),
                        }
                    }
                }
                Err(e) => skip(root.display().to_string(), e.to_string()),
            },
        }
    }
    pass
}

/// Merges the inputs into `aggregator`.
pub fn merge(inputs: &[Input], aggregator: &mut Aggregator) -> Pass {
    let mut skipped = Vec::new();
    let pass = for_each_start(inputs, &mut |s| aggregator.add(&s), &mut |p, r| {
        skipped.push((p, r))
    });
    for (path, reason) in skipped {
        aggregator.skip(path, reason);
    }
    pass
}

/// One pprof of every JSON profile among the inputs (fleet tables hold no
/// stacks and are left out), labelled per profile; returns the file and the
/// profiles it holds.
pub fn merged_pprof(inputs: &[Input]) -> std::io::Result<(Vec<u8>, u64)> {
    let mut builder = PprofBuilder::new();
    let mut count = 0;
    for input in inputs {
        let Input::Json(path) = input else { continue };
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let (Ok(start), Ok(profile)) = (start_from_json(&bytes), Profile::from_json(&bytes)) else {
            continue;
        };
        let labels = [
            ("function", start.function.as_str()),
            ("host", start.host.as_str()),
            ("cgroup", start.cgroup.as_str()),
        ];
        builder.add(&profile, &labels);
        count += 1;
    }
    Ok((builder.encode()?, count))
}
