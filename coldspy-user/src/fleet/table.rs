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
//! the README. `function` and `date` live in the path only (engines add them
//! as partition columns).

use crate::fleet::TableError;
use coldspy_core::fleet::{ImportRow, StartRecord, UsageRow, TABLE_SCHEMA, TABLE_SCHEMA_VERSION};
use parquet::basic::Compression;
use parquet::column::reader::{get_typed_column_reader, ColumnReaderImpl};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DataType, Int32Type, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

fn properties() -> Arc<WriterProperties> {
    Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("coldspy {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![
                KeyValue::new("coldspy.schema".into(), TABLE_SCHEMA.to_string()),
                KeyValue::new(
                    "coldspy.schema_version".into(),
                    TABLE_SCHEMA_VERSION.to_string(),
                ),
            ]))
            .build(),
    )
}

/// Column values of one row group, in schema order.
enum Col {
    Str(Vec<ByteArray>),
    OptStr(Vec<ByteArray>, Vec<i16>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
    OptBool(Vec<bool>, Vec<i16>),
}

impl Col {
    fn str() -> Self {
        Col::Str(Vec::new())
    }
    fn push_str(&mut self, s: &str) {
        if let Col::Str(v) = self {
            v.push(ByteArray::from(s));
        }
    }
    fn push_opt_str(&mut self, s: Option<&str>) {
        if let Col::OptStr(v, d) = self {
            match s {
                Some(s) => {
                    v.push(ByteArray::from(s));
                    d.push(1);
                }
                None => d.push(0),
            }
        }
    }
    fn push_i64(&mut self, x: u64) {
        if let Col::I64(v) = self {
            v.push(x as i64);
        }
    }
    fn len(&self) -> usize {
        match self {
            Col::Str(v) => v.len(),
            Col::OptStr(_, d) | Col::OptBool(_, d) => d.len(),
            Col::I64(v) => v.len(),
            Col::I32(v) => v.len(),
            Col::Bool(v) => v.len(),
        }
    }
    fn clear(&mut self) {
        match self {
            Col::Str(v) => v.clear(),
            Col::OptStr(v, d) => {
                v.clear();
                d.clear()
            }
            Col::I64(v) => v.clear(),
            Col::I32(v) => v.clear(),
            Col::Bool(v) => v.clear(),
            Col::OptBool(v, d) => {
                v.clear();
                d.clear()
            }
        }
    }
}

/// One open Parquet file being written, with its buffered row group.
struct PartWriter {
    writer: SerializedFileWriter<File>,
    columns: Vec<Col>,
    tmp: PathBuf,
    path: PathBuf,
}

impl PartWriter {
    fn create(path: PathBuf, schema: &str, columns: Vec<Col>) -> Result<Self, TableError> {
        let parent = path.parent().expect("a part file has a directory");
        std::fs::create_dir_all(parent).map_err(|e| TableError::io(parent, e))?;
        let tmp = path.with_extension("parquet.tmp");
        let file = File::create(&tmp).map_err(|e| TableError::io(&tmp, e))?;
        let schema =
            Arc::new(parse_message_type(schema).map_err(|e| TableError::parquet(&path, e))?);
        let writer = SerializedFileWriter::new(file, schema, properties())
            .map_err(|e| TableError::parquet(&path, e))?;
        Ok(Self {
            writer,
            columns,
            tmp,
            path,
        })
    }

    fn rows(&self) -> usize {
        self.columns.first().map_or(0, Col::len)
    }

    fn flush(&mut self) -> Result<(), TableError> {
        if self.rows() == 0 {
            return Ok(());
        }
        let err = |e| TableError::parquet(&self.path, e);
        let mut group = self.writer.next_row_group().map_err(err)?;
        for col in &self.columns {
            let mut writer = group
                .next_column()
                .map_err(err)?
                .expect("schema and buffered columns agree");
            match col {
                Col::Str(v) => writer.typed::<ByteArrayType>().write_batch(v, None, None),
                Col::OptStr(v, d) => writer
                    .typed::<ByteArrayType>()
                    .write_batch(v, Some(d), None),
                Col::I64(v) => writer.typed::<Int64Type>().write_batch(v, None, None),
                Col::I32(v) => writer.typed::<Int32Type>().write_batch(v, None, None),
                Col::Bool(v) => writer.typed::<BoolType>().write_batch(v, None, None),
                Col::OptBool(v, d) => writer.typed::<BoolType>().write_batch(v, Some(d), None),
            }
            .map_err(err)?;
            writer.close().map_err(err)?;
        }
        group.close().map_err(err)?;
        for col in &mut self.columns {
            col.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<PathBuf, TableError> {
        self.flush()?;
        self.writer
            .close()
            .map_err(|e| TableError::parquet(&self.path, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| TableError::io(&self.path, e))?;
        Ok(self.path)
    }
}

/// The three part files of one partition.
struct Partition {
    starts: PartWriter,
    imports: PartWriter,
    usage: PartWriter,
}

/// Appends starts to a fleet table: one new `part-<batch>` file per table and
/// partition, never touching existing files.
pub struct TableWriter {
    root: PathBuf,
    batch: String,
    next_id: u64,
    partitions: BTreeMap<(String, String), Partition>,
}

impl TableWriter {
    /// A writer appending to the table at `root` (created if missing).
    pub fn new(root: &Path) -> Result<Self, TableError> {
        std::fs::create_dir_all(root).map_err(|e| TableError::io(root, e))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(Self {
            root: root.to_path_buf(),
            batch: format!("{:x}-{}", now.as_nanos(), std::process::id()),
            next_id: 0,
            partitions: BTreeMap::new(),
        })
    }

    /// Adds one start.
    pub fn add(&mut self, start: &StartRecord) -> Result<(), TableError> {
        let key = (date_of(&start.started_at), partition_value(&start.function));
        if !self.partitions.contains_key(&key) {
            let dir = |table: &str| {
                self.root
                    .join(table)
                    .join(format!("date={}", key.0))
                    .join(format!("function={}", key.1))
                    .join(format!("part-{}.parquet", self.batch))
            };
            let partition = Partition {
                starts: PartWriter::create(
                    dir("starts"),
                    STARTS_SCHEMA,
                    vec![
                        Col::str(),
                        Col::str(),
                        Col::str(),
                        Col::str(),
                        Col::str(),
                        Col::I64(vec![]),
                        Col::I64(vec![]),
                        Col::I64(vec![]),
                        Col::I64(vec![]),
                        Col::I64(vec![]),
                    ],
                )?,
                imports: PartWriter::create(
                    dir("imports"),
                    IMPORTS_SCHEMA,
                    vec![
                        Col::str(),
                        Col::str(),
                        Col::str(),
                        Col::OptStr(vec![], vec![]),
                        Col::I64(vec![]),
                        Col::I64(vec![]),
                        Col::I32(vec![]),
                        Col::OptStr(vec![], vec![]),
                        Col::Bool(vec![]),
                    ],
                )?,
                usage: PartWriter::create(
                    dir("usage"),
                    USAGE_SCHEMA,
                    vec![
                        Col::str(),
                        Col::str(),
                        Col::I64(vec![]),
                        Col::OptBool(vec![], vec![]),
                    ],
                )?,
            };
            self.partitions.insert(key.clone(), partition);
        }
        let part = self.partitions.get_mut(&key).expect("inserted above");
        let id = format!("{}-{}", self.batch, self.next_id);
        self.next_id += 1;

        let c = &mut part.starts.columns;
        c[0].push_str(&id);
        c[1].push_str(&start.host);
        c[2].push_str(&start.cgroup);
        c[3].push_str(&start.python);
        c[4].push_str(&start.started_at);
        for (i, v) in [
            start.init_us,
            start.exec_us,
            start.e2e_us,
            start.samples,
            start.lost,
        ]
        .into_iter()
        .enumerate()
        {
            c[5 + i].push_i64(v);
        }

        for row in &start.imports {
            let c = &mut part.imports.columns;
            c[0].push_str(&id);
            c[1].push_str(&row.module);
            c[2].push_str(&row.package);
            c[3].push_opt_str(row.parent.as_deref());
            c[4].push_i64(row.self_us);
            c[5].push_i64(row.cumulative_us);
            if let Col::I32(v) = &mut c[6] {
                v.push(row.depth as i32);
            }
            c[7].push_opt_str(row.site.as_deref());
            if let Col::Bool(v) = &mut c[8] {
                v.push(row.failed);
            }
        }
        for row in &start.usage {
            let c = &mut part.usage.columns;
            c[0].push_str(&id);
            c[1].push_str(&row.package);
            c[2].push_i64(row.runtime_samples);
            if let Col::OptBool(v, d) = &mut c[3] {
                match row.exact_use {
                    Some(b) => {
                        v.push(b);
                        d.push(1)
                    }
                    None => d.push(0),
                }
            }
        }
        if part.imports.rows() >= IMPORT_ROWS_PER_GROUP {
            part.starts.flush()?;
            part.imports.flush()?;
            part.usage.flush()?;
        }
        Ok(())
    }

    /// Closes every part file (renamed into place); returns the starts written
    /// and the files.
    pub fn finish(self) -> Result<(u64, Vec<PathBuf>), TableError> {
        let mut files = Vec::new();
        for (_, p) in self.partitions {
            files.push(p.starts.finish()?);
            files.push(p.imports.finish()?);
            files.push(p.usage.finish()?);
        }
        Ok((self.next_id, files))
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

/// Reads whole columns of a file, by name, row group by row group.
struct Columns<'a> {
    reader: &'a SerializedFileReader<File>,
    path: &'a Path,
}

impl Columns<'_> {
    fn index(&self, name: &str) -> Result<usize, TableError> {
        let schema = self.reader.metadata().file_metadata().schema_descr();
        (0..schema.num_columns())
            .find(|&i| schema.column(i).name() == name)
            .ok_or_else(|| TableError::Column {
                path: self.path.display().to_string(),
                column: name.to_string(),
            })
    }

    fn read<T: DataType>(
        &self,
        group: usize,
        name: &str,
    ) -> Result<(Vec<T::T>, Vec<i16>), TableError>
    where
        T::T: Default + Clone,
    {
        let i = self.index(name)?;
        let err = |e| TableError::parquet(self.path, e);
        let rg = self.reader.get_row_group(group).map_err(err)?;
        let rows = rg.metadata().num_rows() as usize;
        let mut reader: ColumnReaderImpl<T> =
            get_typed_column_reader(rg.get_column_reader(i).map_err(err)?);
        let mut values = Vec::with_capacity(rows);
        let mut defs = Vec::with_capacity(rows);
        let optional = rg.metadata().column(i).column_descr().max_def_level() > 0;
        while values.len() < rows || (optional && defs.len() < rows) {
            let before = defs.len().max(values.len());
            let (records, _, _) = reader
                .read_records(
                    rows,
                    if optional { Some(&mut defs) } else { None },
                    None,
                    &mut values,
                )
                .map_err(err)?;
            if records == 0 || defs.len().max(values.len()) == before {
                break;
            }
        }
        Ok((values, defs))
    }
}

fn strings(values: Vec<ByteArray>) -> Vec<String> {
    values
        .into_iter()
        .map(|b| String::from_utf8_lossy(b.data()).into_owned())
        .collect()
}

fn optional_strings(values: Vec<ByteArray>, defs: &[i16]) -> Vec<Option<String>> {
    let mut values = values.into_iter();
    defs.iter()
        .map(|&d| {
            (d > 0).then(|| {
                values
                    .next()
                    .map(|b| String::from_utf8_lossy(b.data()).into_owned())
                    .unwrap_or_default()
            })
        })
        .collect()
}

/// Reads one starts part (with its imports and usage parts, found at the
/// same relative path) and hands each start to `each`, one at a time.
/// `parent`, `depth` and `failed` are not read (the merge does not use them).
pub fn read_part(
    root: &Path,
    starts_part: &Path,
    function: &str,
    each: &mut dyn FnMut(StartRecord),
) -> Result<u64, TableError> {
    let relative = starts_part
        .strip_prefix(root.join("starts"))
        .unwrap_or(starts_part);
    let imports_part = root.join("imports").join(relative);
    let usage_part = root.join("usage").join(relative);

    // Starts and usage of a part are small; imports are read row group by row group.
    let sr = open(starts_part)?;
    let cols = Columns {
        reader: &sr,
        path: starts_part,
    };
    let mut starts: Vec<(String, StartRecord)> = Vec::new();
    for g in 0..sr.num_row_groups() {
        let ids = strings(cols.read::<ByteArrayType>(g, "start_id")?.0);
        let host = strings(cols.read::<ByteArrayType>(g, "host")?.0);
        let cgroup = strings(cols.read::<ByteArrayType>(g, "cgroup")?.0);
        let python = strings(cols.read::<ByteArrayType>(g, "python")?.0);
        let started = strings(cols.read::<ByteArrayType>(g, "started_at")?.0);
        let n = |name| cols.read::<Int64Type>(g, name).map(|v| v.0);
        let (init, exec, e2e, samples, lost) = (
            n("init_us")?,
            n("exec_us")?,
            n("e2e_us")?,
            n("samples")?,
            n("lost")?,
        );
        for (i, id) in ids.into_iter().enumerate() {
            let at = |v: &Vec<i64>| v.get(i).copied().unwrap_or(0).max(0) as u64;
            starts.push((
                id,
                StartRecord {
                    host: host.get(i).cloned().unwrap_or_default(),
                    function: function.to_string(),
                    cgroup: cgroup.get(i).cloned().unwrap_or_default(),
                    python: python.get(i).cloned().unwrap_or_default(),
                    started_at: started.get(i).cloned().unwrap_or_default(),
                    init_us: at(&init),
                    exec_us: at(&exec),
                    e2e_us: at(&e2e),
                    samples: at(&samples),
                    lost: at(&lost),
                    imports: Vec::new(),
                    usage: Vec::new(),
                },
            ));
        }
    }
    let position: std::collections::HashMap<String, usize> = starts
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.clone(), i))
        .collect();

    let ur = open(&usage_part)?;
    let cols = Columns {
        reader: &ur,
        path: &usage_part,
    };
    for g in 0..ur.num_row_groups() {
        let ids = cols.read::<ByteArrayType>(g, "start_id")?.0;
        let packages = strings(cols.read::<ByteArrayType>(g, "package")?.0);
        let samples = cols.read::<Int64Type>(g, "runtime_samples")?.0;
        let (exact, exact_defs) = cols.read::<BoolType>(g, "exact_use")?;
        let mut exact = exact.into_iter();
        for (i, (id, package)) in ids.iter().zip(packages).enumerate() {
            let exact_use = match exact_defs.get(i) {
                Some(&d) if d > 0 => exact.next(),
                _ => None,
            };
            let Some(&s) = std::str::from_utf8(id.data())
                .ok()
                .and_then(|id| position.get(id))
            else {
                continue;
            };
            starts[s].1.usage.push(UsageRow {
                package,
                runtime_samples: samples.get(i).copied().unwrap_or(0).max(0) as u64,
                exact_use,
            });
        }
    }

    // Imports are in start order: a start is complete when the id changes.
    let ir = open(&imports_part)?;
    let cols = Columns {
        reader: &ir,
        path: &imports_part,
    };
    let mut done = vec![false; starts.len()];
    let mut current: Option<usize> = None;
    let mut handed = 0u64;
    let mut hand = |s: usize, starts: &mut Vec<(String, StartRecord)>, done: &mut Vec<bool>| {
        done[s] = true;
        each(std::mem::take(&mut starts[s].1));
    };
    for g in 0..ir.num_row_groups() {
        let ids = cols.read::<ByteArrayType>(g, "start_id")?.0;
        let modules = cols.read::<ByteArrayType>(g, "module")?.0;
        let packages = cols.read::<ByteArrayType>(g, "package")?.0;
        let self_us = cols.read::<Int64Type>(g, "self_us")?.0;
        let cumulative = cols.read::<Int64Type>(g, "cumulative_us")?.0;
        let (sites, site_defs) = cols.read::<ByteArrayType>(g, "site")?;
        let sites = optional_strings(sites, &site_defs);
        for (i, id) in ids.iter().enumerate() {
            let s = match current {
                Some(s) if starts[s].0.as_bytes() == id.data() => s,
                _ => {
                    if let Some(prev) = current.take() {
                        hand(prev, &mut starts, &mut done);
                        handed += 1;
                    }
                    let Some(&s) = std::str::from_utf8(id.data())
                        .ok()
                        .and_then(|id| position.get(id))
                    else {
                        continue;
                    };
                    current = Some(s);
                    s
                }
            };
            let text = |v: &Vec<ByteArray>| {
                v.get(i)
                    .map(|b| String::from_utf8_lossy(b.data()).into_owned())
                    .unwrap_or_default()
            };
            starts[s].1.imports.push(ImportRow {
                module: text(&modules),
                package: text(&packages),
                parent: None,
                self_us: self_us.get(i).copied().unwrap_or(0).max(0) as u64,
                cumulative_us: cumulative.get(i).copied().unwrap_or(0).max(0) as u64,
                depth: 0,
                site: sites.get(i).cloned().flatten(),
                failed: false,
            });
        }
    }
    if let Some(prev) = current.take() {
        hand(prev, &mut starts, &mut done);
        handed += 1;
    }
    // Starts without any import row.
    for s in 0..starts.len() {
        if !done[s] {
            hand(s, &mut starts, &mut done);
            handed += 1;
        }
    }
    Ok(handed)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let written: Vec<StartRecord> = vec![start("f/1", 3), start("g", 0), start("f/1", 5)];
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
            read_part(&dir, p, f, &mut |s| read.push(s)).unwrap();
        }
        assert_eq!(read.len(), 6);
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
}
