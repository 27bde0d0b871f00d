//! The fleet's I/O edge: finding the inputs of `coldspy merge` / `coldspy
//! export --format parquet` (JSON profiles in files and directories, fleet
//! table directories), streaming them one at a time into the pure
//! aggregation of `coldspy_core::fleet`, and the Parquet fleet table
//! ([`table`]).

pub mod table;

use coldspy_core::export::pprof::PprofBuilder;
use coldspy_core::fleet::{
    start_from_json, start_from_profile, Aggregator, StartRecord, StartSink,
};
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
    /// Rows of a `usage` or `imports` part not in the order of its `starts`
    /// part (the writer keeps them in that order; another writer did not).
    #[error("{path}: rows of start {start_id:?} are not in the order of the starts part")]
    Order {
        /// The file.
        path: String,
        /// The first row's start left over.
        start_id: String,
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

/// Reads one JSON profile into a start; the error is the reason to skip it.
fn read_json(path: &Path, pass: &mut Pass) -> Result<StartRecord, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    pass.json_bytes += bytes.len() as u64;
    let start = start_from_json(&bytes).map_err(|e| e.to_string())?;
    pass.starts += 1;
    Ok(start)
}

/// Reads every part of a table into `sink`; a part that cannot be read goes
/// to `skip` with its reason (the starts it handed before failing stay).
fn read_table(
    root: &Path,
    sink: &mut dyn StartSink,
    skip: &mut dyn FnMut(String, String),
    pass: &mut Pass,
) {
    let parts = match table::start_parts(root) {
        Ok(parts) => parts,
        Err(e) => return skip(root.display().to_string(), e.to_string()),
    };
    for (part, function) in parts {
        match table::read_part(root, &part, &function, sink) {
            Ok(n) => pass.starts += n,
            Err(e) => skip(part.display().to_string(), e.to_string()),
        }
    }
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
            Input::Json(path) => match read_json(path, &mut pass) {
                Ok(start) => each(start),
                Err(reason) => skip(path.display().to_string(), reason),
            },
            Input::Table(root) => {
                read_table(root, &mut table::Records::new(each), skip, &mut pass);
            }
        }
    }
    pass
}

/// Merges the inputs into `aggregator`, one at a time: a JSON profile is
/// parsed and dropped, a table is streamed a batch of rows at a time with
/// its names interned by the aggregator (no per-row strings).
pub fn merge(inputs: &[Input], aggregator: &mut Aggregator) -> Pass {
    let mut pass = Pass::default();
    let mut skipped = Vec::new();
    for input in inputs {
        match input {
            Input::Json(path) => match read_json(path, &mut pass) {
                Ok(start) => aggregator.add(&start),
                Err(reason) => skipped.push((path.display().to_string(), reason)),
            },
            Input::Table(root) => {
                read_table(
                    root,
                    aggregator,
                    &mut |p, r| skipped.push((p, r)),
                    &mut pass,
                );
            }
        }
        for (path, reason) in skipped.drain(..) {
            aggregator.skip(path, reason);
        }
    }
    pass
}

/// What [`append_profiles`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Starts appended (one per profile).
    pub starts: u64,
    /// The new part files, renamed into place.
    pub files: Vec<PathBuf>,
}

/// Appends finished profiles to the fleet table at `dir` (created when
/// missing) as new part files, one per table and `(date, function)`
/// partition of the call; no existing file is opened or rewritten, so
/// readers may run meanwhile. Each profile becomes one start, the same as
/// `coldspy export --format parquet` makes of its JSON (function, cgroup
/// and host from `meta.labels` when set, else from the command and
/// `meta.host`). Every call writes its own files: a caller appending often
/// (the system-wide daemon) should batch the profiles of a rotation window
/// into one call.
pub fn append_profiles(dir: &Path, profiles: &[Profile]) -> Result<Appended, TableError> {
    let mut writer = table::TableWriter::new(dir)?;
    for profile in profiles {
        writer.add(&start_from_profile(profile))?;
    }
    let (starts, files) = writer.finish()?;
    Ok(Appended { starts, files })
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

#[cfg(test)]
mod tests {
    use super::*;
    use coldspy_core::fleet::GroupBy;
    use coldspy_core::model::build::build_profile;
    use coldspy_core::model::trace::Trace;

    /// The recorded fixture's profile with its start time and timings of start `i`.
    fn profiles(n: usize) -> Vec<Profile> {
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/handler.trace.json");
        let trace: Trace = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
        let base = build_profile(&trace);
        (0..n)
            .map(|i| {
                let mut p = base.clone();
                p.meta.started_at = format!("2026-11-2{}T04:18:0{i}Z", 5 + i % 2);
                p.stats.init_us += i as u64 * 1000;
                for r in &mut p.imports {
                    r.self_us += i as u64;
                }
                p
            })
            .collect()
    }

    fn merged_groups(inputs: &[Input]) -> Vec<coldspy_core::fleet::Group> {
        let mut aggregator = Aggregator::new(GroupBy::Function, None);
        merge(inputs, &mut aggregator);
        assert!(
            aggregator.skipped().is_empty(),
            "{:?}",
            aggregator.skipped()
        );
        aggregator.finish().groups
    }

    #[test]
    fn appended_profiles_are_new_files_and_merge_like_their_json() {
        let dir = std::env::temp_dir().join(format!("coldspy-append-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (table, json) = (dir.join("fleet"), dir.join("json"));
        std::fs::create_dir_all(&json).unwrap();
        let profiles = profiles(3);
        for (i, p) in profiles.iter().enumerate() {
            std::fs::write(
                json.join(format!("{i}.json")),
                serde_json::to_vec(p).unwrap(),
            )
            .unwrap();
            // The typed profile gives the start its JSON gives.
            let from_json = start_from_json(&serde_json::to_vec(p).unwrap()).unwrap();
            assert_eq!(start_from_profile(p), from_json);
        }
        // One profile per call, as the daemon appends: each call new files,
        // the earlier ones untouched.
        let mut seen: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        for p in &profiles {
            let appended = append_profiles(&table, std::slice::from_ref(p)).unwrap();
            assert_eq!((appended.starts, appended.files.len()), (1, 3));
            for (file, bytes) in &seen {
                assert_eq!(&std::fs::read(file).unwrap(), bytes, "{file:?} rewritten");
            }
            for file in appended.files {
                assert!(!seen.iter().any(|(f, _)| *f == file), "{file:?} reused");
                seen.push((file.clone(), std::fs::read(&file).unwrap()));
            }
        }
        let mut labelled = profiles[0].clone();
        labelled
            .meta
            .labels
            .insert("function".into(), "resize".into());
        let appended = append_profiles(&table, &[labelled]).unwrap();
        assert!(appended.files[0]
            .to_string_lossy()
            .contains("function=resize"));

        let from_table = merged_groups(&discover(&[table]).unwrap());
        let mut from_json = merged_groups(&discover(&[json]).unwrap());
        // The labelled start is its own group; the rest match the JSON.
        assert_eq!(from_table.len(), 2);
        let resize = from_table.iter().find(|g| g.key == "resize").unwrap();
        assert_eq!(resize.starts, 1);
        let handler: Vec<_> = from_table
            .into_iter()
            .filter(|g| g.key != "resize")
            .collect();
        assert_eq!(handler.len(), 1);
        assert_eq!(handler[0].starts, 3);
        from_json.retain(|g| g.key == handler[0].key);
        assert_eq!(handler, from_json);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
