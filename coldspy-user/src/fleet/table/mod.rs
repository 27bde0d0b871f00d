//! The fleet table: three Parquet tables under one directory, Hive-partitioned
//! by day and function so DuckDB, ClickHouse, Spark or Trino read them as
//! they are:
//!
//! ```text
//! DIR/starts/date=2026-11-25/function=resize/part-<batch>.parquet
//! DIR/imports/date=2026-11-25/function=resize/part-<batch>.parquet
//! DIR/usage/date=2026-11-25/function=resize/part-<batch>.parquet
//! ```
//!
//! Each export writes new `part-<batch>` files (the batch id is unique per
//! export) and never rewrites one, so appending is safe while readers run.
//! Files are written under a `.tmp` name and renamed when complete. The
//! schema is tagged in each file's key-value metadata (`coldspy.schema` =
//! `coldspy-fleet`, `coldspy.schema_version`); the columns are documented in
//! the README. `function` and `date` live in the path only (engines add
//! them as partition columns). [`TableWriter`] writes; [`read_part`] reads
//! a part back, a batch of rows at a time.

mod read;
mod write;

pub use read::{read_part, Records};
pub use write::TableWriter;

use crate::fleet::TableError;
use coldspy_core::fleet::{TABLE_SCHEMA, TABLE_SCHEMA_VERSION};
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The `starts` table: one row per process start.
pub const STARTS_SCHEMA: &str = "message starts {
  REQUIRED BYTE_ARRAY start_id (UTF8);
  REQUIRED BYTE_ARRAY host (UTF8);
  REQUIRED BYTE_ARRAY cgroup (UTF8);
  REQUIRED BYTE_ARRAY python (UTF8);
  REQUIRED BYTE_ARRAY started_at (UTF8);
  REQUIRED INT64 init_us;
  REQUIRED INT64 exec_us;
  REQUIRED INT64 e2e_us;
  REQUIRED INT64 samples;
  REQUIRED INT64 lost;
}";

/// The `imports` table: one row per module import per start.
pub const IMPORTS_SCHEMA: &str = "message imports {
  REQUIRED BYTE_ARRAY start_id (UTF8);
  REQUIRED BYTE_ARRAY module (UTF8);
  REQUIRED BYTE_ARRAY package (UTF8);
  OPTIONAL BYTE_ARRAY parent (UTF8);
  REQUIRED INT64 self_us;
  REQUIRED INT64 cumulative_us;
  REQUIRED INT32 depth;
  OPTIONAL BYTE_ARRAY site (UTF8);
  REQUIRED BOOLEAN failed;
}";

/// The `usage` table: per start and package, the run-time use.
pub const USAGE_SCHEMA: &str = "message usage {
  REQUIRED BYTE_ARRAY start_id (UTF8);
  REQUIRED BYTE_ARRAY package (UTF8);
  REQUIRED INT64 runtime_samples;
  OPTIONAL BOOLEAN exact_use;
}";

/// The three tables, in directory order.
pub const TABLES: [&str; 3] = ["starts", "imports", "usage"];

/// Rows per row group of the imports table (bounds a reader's memory).
const IMPORT_ROWS_PER_GROUP: usize = 256 * 1024;

/// Hive partition value: bytes other than `[A-Za-z0-9._-]` as `%XX`.
pub fn partition_value(s: &str) -> String {
    if s.is_empty() {
        return "__HIVE_DEFAULT_PARTITION__".to_string();
    }
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a [`partition_value`].
pub fn decode_partition_value(s: &str) -> String {
    if s == "__HIVE_DEFAULT_PARTITION__" {
        return String::new();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The day of an RFC 3339 time, `unknown` when it has none.
fn date_of(started_at: &str) -> String {
    let day = started_at.get(..10).unwrap_or("");
    let ok = day.len() == 10
        && day.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if ok {
        day.to_string()
    } else {
        "unknown".to_string()
    }
}

/// Whether `dir` is a fleet table (it has a `starts/` directory).
pub fn is_table(dir: &Path) -> bool {
    dir.join("starts").is_dir() && dir.join("imports").is_dir()
}

/// The entries of a directory, in path order (so that merges and exports
/// are reproducible).
pub fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, TableError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| TableError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}

/// Every `starts` part file of a table, in path order, with its partition's
/// function name.
pub fn start_parts(root: &Path) -> Result<Vec<(PathBuf, String)>, TableError> {
    fn walk(
        dir: &Path,
        function: &str,
        out: &mut Vec<(PathBuf, String)>,
    ) -> Result<(), TableError> {
        for path in sorted_entries(dir)? {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                let f = name
                    .strip_prefix("function=")
                    .map(decode_partition_value)
                    .unwrap_or_else(|| function.to_string());
                walk(&path, &f, out)?;
            } else if name.ends_with(".parquet") {
                out.push((path, function.to_string()));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(&root.join("starts"), "", &mut out)?;
    Ok(out)
}

fn open(path: &Path) -> Result<SerializedFileReader<File>, TableError> {
    let file = File::open(path).map_err(|e| TableError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| TableError::parquet(path, e))?;
    let kv = reader.metadata().file_metadata().key_value_metadata();
    let get = |k: &str| {
        kv.and_then(|kv| kv.iter().find(|e| e.key == k))
            .and_then(|e| e.value.clone())
    };
    let schema = get("coldspy.schema").unwrap_or_default();
    let version: u32 = get("coldspy.schema_version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if schema != TABLE_SCHEMA || version == 0 || version > TABLE_SCHEMA_VERSION {
        return Err(TableError::Schema {
            path: path.display().to_string(),
            schema,
            version,
        });
    }
    Ok(reader)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coldspy_core::fleet::{ImportRow, StartRecord, UsageRow};

    #[test]
    fn partition_values_round_trip() {
        for s in ["resize", "a/b=c d", "", "été"] {
            assert_eq!(decode_partition_value(&partition_value(s)), s);
        }
        assert_eq!(partition_value("a/b"), "a%2Fb");
        assert_eq!(date_of("2026-11-25T04:18:09Z"), "2026-11-25");
        assert_eq!(date_of("yesterday"), "unknown");
    }

    #[test]
    fn a_table_reads_back_what_was_written_and_appends_new_files() {
        let dir = std::env::temp_dir().join(format!("coldspy-table-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let start = |f: &str, n: u64| StartRecord {
            host: "h1".into(),
            function: f.into(),
            python: "3.12.1".into(),
            started_at: "2026-11-25T04:18:09Z".into(),
            init_us: 100 * n,
            exec_us: 7,
            e2e_us: 100 * n + 7,
            samples: n,
            imports: (0..n)
                .map(|i| ImportRow {
                    module: format!("m{i}.x"),
                    package: format!("m{i}"),
                    parent: Some("p".into()),
                    self_us: i,
                    cumulative_us: 2 * i,
                    depth: 1,
                    site: (i % 2 == 0).then(|| "/srv/h.py:3".to_string()),
                    failed: false,
                })
                .collect(),
            usage: vec![UsageRow {
                package: "m0".into(),
                runtime_samples: n,
                exact_use: None,
            }],
            ..StartRecord::default()
        };
        // 9,000 import rows: more than two batches of the reader, and a
        // start without any import between starts with some.
        let written: Vec<StartRecord> = vec![
            start("f/1", 3),
            start("g", 0),
            start("f/1", 9_000),
            start("f/1", 5),
        ];
        for _ in 0..2 {
            let mut w = TableWriter::new(&dir).unwrap();
            for s in &written {
                w.add(s).unwrap();
            }
            w.finish().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let parts = start_parts(&dir).unwrap();
        assert_eq!(
            parts.len(),
            4,
            "two exports, two partitions: new files each time"
        );
        let mut read = Vec::new();
        for (p, f) in &parts {
            read_part(&dir, p, f, &mut Records::new(&mut |s| read.push(s))).unwrap();
        }
        assert_eq!(read.len(), 8);
        let mut expect: Vec<StartRecord> = written
            .iter()
            .chain(&written)
            .cloned()
            .map(|mut s| {
                for r in &mut s.imports {
                    (r.parent, r.depth) = (None, 0);
                }
                s
            })
            .collect();
        let k = |s: &StartRecord| (s.function.clone(), s.init_us);
        expect.sort_by_key(k);
        read.sort_by_key(k);
        assert_eq!(read, expect);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_part_whose_rows_are_not_in_the_order_of_its_starts_is_refused() {
        let dir = std::env::temp_dir().join(format!("coldspy-table-order-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let start = StartRecord {
            function: "f".into(),
            started_at: "2026-11-25T04:18:09Z".into(),
            usage: vec![UsageRow {
                package: "p".into(),
                runtime_samples: 1,
                exact_use: None,
            }],
            ..StartRecord::default()
        };
        for _ in 0..2 {
            let mut w = TableWriter::new(&dir).unwrap();
            w.add(&start).unwrap();
            w.finish().unwrap();
        }
        // The second batch's usage part now holds the first batch's rows.
        let parts = start_parts(&dir).unwrap();
        let usage = |p: &Path| {
            dir.join("usage")
                .join(p.strip_prefix(dir.join("starts")).unwrap())
        };
        std::fs::copy(usage(&parts[0].0), usage(&parts[1].0)).unwrap();
        let mut read = 0;
        let error = read_part(
            &dir,
            &parts[1].0,
            "f",
            &mut Records::new(&mut |_| read += 1),
        )
        .unwrap_err();
        assert!(matches!(error, TableError::Order { .. }), "{error}");
        assert!(error.to_string().contains("not in the order"), "{error}");
        assert_eq!(
            read_part(&dir, &parts[0].0, "f", &mut Records::new(&mut |_| ())).unwrap(),
            1
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
