//! Writing the fleet table: one new `part-<batch>` file per table and
//! partition per writer, buffered a row group at a time, written under a
//! `.tmp` name and renamed into place when complete.

use super::{
    date_of, partition_value, IMPORTS_SCHEMA, IMPORT_ROWS_PER_GROUP, STARTS_SCHEMA, USAGE_SCHEMA,
};
use crate::fleet::TableError;
use coldspy_core::fleet::{ImportRow, StartRecord, UsageRow, TABLE_SCHEMA, TABLE_SCHEMA_VERSION};
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// Writers made by this process, part of each batch id.
static WRITERS: AtomicU64 = AtomicU64::new(0);

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
        if path.exists() {
            return Err(TableError::io(
                &path,
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        let file = File::create_new(&tmp).map_err(|e| TableError::io(&tmp, e))?;
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
            // Unique per writer: two writers of one process in the same
            // clock tick must not share file names (a daemon appends often).
            batch: format!(
                "{:x}-{}-{}",
                now.as_nanos(),
                std::process::id(),
                WRITERS.fetch_add(1, Ordering::Relaxed)
            ),
            next_id: 0,
            partitions: BTreeMap::new(),
        })
    }

    /// Adds one start.
    pub fn add(&mut self, start: &StartRecord) -> Result<(), TableError> {
        let key = (date_of(&start.started_at), partition_value(&start.function));
        if !self.partitions.contains_key(&key) {
            let partition = self.create_partition(&key)?;
            self.partitions.insert(key.clone(), partition);
        }
        let part = self.partitions.get_mut(&key).expect("inserted above");
        let id = format!("{}-{}", self.batch, self.next_id);
        self.next_id += 1;
        push_start(&mut part.starts.columns, &id, start);
        push_imports(&mut part.imports.columns, &id, &start.imports);
        push_usage(&mut part.usage.columns, &id, &start.usage);
        if part.imports.rows() >= IMPORT_ROWS_PER_GROUP {
            part.starts.flush()?;
            part.imports.flush()?;
            part.usage.flush()?;
        }
        Ok(())
    }

    /// The three new part files of partition `(date, function)`.
    fn create_partition(&self, key: &(String, String)) -> Result<Partition, TableError> {
        let file = |table: &str| {
            self.root
                .join(table)
                .join(format!("date={}", key.0))
                .join(format!("function={}", key.1))
                .join(format!("part-{}.parquet", self.batch))
        };
        let starts = (0..10)
            .map(|i| if i < 5 { Col::str() } else { Col::I64(vec![]) })
            .collect();
        let imports = vec![
            Col::str(),
            Col::str(),
            Col::str(),
            Col::OptStr(vec![], vec![]),
            Col::I64(vec![]),
            Col::I64(vec![]),
            Col::I32(vec![]),
            Col::OptStr(vec![], vec![]),
            Col::Bool(vec![]),
        ];
        let usage = vec![
            Col::str(),
            Col::str(),
            Col::I64(vec![]),
            Col::OptBool(vec![], vec![]),
        ];
        Ok(Partition {
            starts: PartWriter::create(file("starts"), STARTS_SCHEMA, starts)?,
            imports: PartWriter::create(file("imports"), IMPORTS_SCHEMA, imports)?,
            usage: PartWriter::create(file("usage"), USAGE_SCHEMA, usage)?,
        })
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

/// One row of the `starts` table.
fn push_start(c: &mut [Col], id: &str, start: &StartRecord) {
    c[0].push_str(id);
    c[1].push_str(&start.host);
    c[2].push_str(&start.cgroup);
    c[3].push_str(&start.python);
    c[4].push_str(&start.started_at);
    let numbers = [
        start.init_us,
        start.exec_us,
        start.e2e_us,
        start.samples,
        start.lost,
    ];
    for (i, v) in numbers.into_iter().enumerate() {
        c[5 + i].push_i64(v);
    }
}

/// The rows of one start in the `imports` table.
fn push_imports(c: &mut [Col], id: &str, rows: &[ImportRow]) {
    for row in rows {
        c[0].push_str(id);
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
}

/// The rows of one start in the `usage` table.
fn push_usage(c: &mut [Col], id: &str, rows: &[UsageRow]) {
    for row in rows {
        c[0].push_str(id);
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
}
