//! Reading the fleet table back, bounded: a part's three files (`starts`,
//! `usage`, `imports` at the same relative path) are walked in step, a batch
//! of rows at a time, and each start is handed to a [`StartSink`] as soon as
//! its rows are read, with its names interned by the sink. At most one
//! batch per file and one start are held, whatever the size of the part or
//! of its row groups. The writer puts every table's rows in the order of
//! the starts; a part whose `usage` or `imports` rows are in another order
//! is refused (named, not guessed at).

use super::open;
use crate::fleet::TableError;
use coldspy_core::fleet::intern::{FxHashMap, Interner, Sym};
use coldspy_core::fleet::{
    ImportRow, InternedImport, InternedStart, InternedUsage, StartRecord, StartSink, UsageRow,
};
use parquet::column::reader::ColumnReader;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Rows decoded at a time per column.
const BATCH_ROWS: usize = 4096;

/// The columns read of each table (`parent`, `depth`, `failed` are not: the
/// merge does not use them), and their positions in these lists.
const START_COLUMNS: [&str; 10] = [
    "start_id",
    "host",
    "cgroup",
    "python",
    "started_at",
    "init_us",
    "exec_us",
    "e2e_us",
    "samples",
    "lost",
];
const USAGE_COLUMNS: [&str; 4] = ["start_id", "package", "runtime_samples", "exact_use"];
const IMPORT_COLUMNS: [&str; 6] = [
    "start_id",
    "module",
    "package",
    "self_us",
    "cumulative_us",
    "site",
];

/// One column's decoded values of the current batch.
enum Values {
    Bytes(Vec<ByteArray>),
    Int(Vec<i64>),
    Flag(Vec<bool>),
}

/// One column of a file, read batch by batch.
struct Column {
    /// Its index in the file's schema.
    index: usize,
    optional: bool,
    /// The reader of the current row group.
    reader: Option<ColumnReader>,
    values: Values,
    defs: Vec<i16>,
    /// Per row of the batch: the index of its value, `u32::MAX` when null.
    at: Vec<u32>,
    /// The symbols of this batch's strings by address and length: values
    /// decoded from a dictionary page share the page's bytes, so a repeated
    /// name is looked up by its address instead of hashed again. Valid for
    /// one batch only (the batch's values keep those bytes alive; the next
    /// batch may reuse the addresses), so cleared by every `fill`.
    symbols: FxHashMap<(usize, usize), Sym>,
}

impl Column {
    /// Reads up to `rows` rows of the current row group; the rows read.
    fn fill(&mut self, rows: usize) -> Result<usize, ParquetError> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(0);
        };
        self.defs.clear();
        let defs = self.optional.then_some(&mut self.defs);
        let read = match (reader, &mut self.values) {
            (ColumnReader::ByteArrayColumnReader(r), Values::Bytes(v)) => {
                v.clear();
                r.read_records(rows, defs, None, v)?.0
            }
            (ColumnReader::Int64ColumnReader(r), Values::Int(v)) => {
                v.clear();
                r.read_records(rows, defs, None, v)?.0
            }
            (ColumnReader::BoolColumnReader(r), Values::Flag(v)) => {
                v.clear();
                r.read_records(rows, defs, None, v)?.0
            }
            _ => return Err(ParquetError::General("column of an unexpected type".into())),
        };
        self.at.clear();
        self.symbols.clear();
        let mut next = 0u32;
        for row in 0..read {
            let present = !self.optional || self.defs.get(row).is_some_and(|&d| d > 0);
            self.at.push(if present { next } else { u32::MAX });
            next += u32::from(present);
        }
        Ok(read)
    }

    fn value(&self, row: usize) -> Option<usize> {
        self.at
            .get(row)
            .filter(|&&i| i != u32::MAX)
            .map(|&i| i as usize)
    }
}

/// Chosen columns of one Parquet file of the table, row by row, decoded a
/// batch at a time across its row groups.
struct Rows {
    file: SerializedFileReader<File>,
    path: PathBuf,
    columns: Vec<Column>,
    /// The next row group to open.
    next_group: usize,
    /// The current row in the batch, and the batch's length.
    row: usize,
    len: usize,
    started: bool,
}

impl Rows {
    fn open(path: &Path, names: &[&str]) -> Result<Self, TableError> {
        let file = open(path)?;
        let schema = file.metadata().file_metadata().schema_descr_ptr();
        let mut columns = Vec::with_capacity(names.len());
        for name in names {
            let index = (0..schema.num_columns())
                .find(|&i| schema.column(i).name() == *name)
                .ok_or_else(|| TableError::Column {
                    path: path.display().to_string(),
                    column: name.to_string(),
                })?;
            let descr = schema.column(index);
            let values = match descr.physical_type() {
                parquet::basic::Type::BYTE_ARRAY => Values::Bytes(Vec::new()),
                parquet::basic::Type::INT64 => Values::Int(Vec::new()),
                _ => Values::Flag(Vec::new()),
            };
            columns.push(Column {
                index,
                optional: descr.max_def_level() > 0,
                reader: None,
                values,
                defs: Vec::new(),
                at: Vec::new(),
                symbols: FxHashMap::default(),
            });
        }
        Ok(Self {
            file,
            path: path.to_path_buf(),
            columns,
            next_group: 0,
            row: 0,
            len: 0,
            started: false,
        })
    }

    /// Moves to the next row; `false` past the last one.
    fn advance(&mut self) -> Result<bool, TableError> {
        if self.started {
            self.row += 1;
        }
        self.started = true;
        if self.row < self.len {
            return Ok(true);
        }
        self.refill()
    }

    /// The next batch, from the current row group or the next ones.
    fn refill(&mut self) -> Result<bool, TableError> {
        let err = |e| TableError::parquet(&self.path, e);
        loop {
            let mut lengths = Vec::with_capacity(self.columns.len());
            for column in &mut self.columns {
                lengths.push(column.fill(BATCH_ROWS).map_err(err)?);
            }
            if lengths.iter().any(|&n| n != lengths[0]) {
                return Err(TableError::Parquet {
                    path: self.path.display().to_string(),
                    message: format!("columns of one row group disagree on its rows: {lengths:?}"),
                });
            }
            if lengths.first().is_some_and(|&n| n > 0) {
                (self.row, self.len) = (0, lengths[0]);
                return Ok(true);
            }
            if self.next_group >= self.file.num_row_groups() {
                (self.row, self.len) = (0, 0);
                return Ok(false);
            }
            let group = self.file.get_row_group(self.next_group).map_err(err)?;
            for column in &mut self.columns {
                column.reader = Some(group.get_column_reader(column.index).map_err(err)?);
            }
            self.next_group += 1;
        }
    }

    /// A string column of the current row (`None` when null).
    fn bytes(&self, column: usize) -> Option<&[u8]> {
        let c = &self.columns[column];
        match &c.values {
            Values::Bytes(v) => c
                .value(self.row)
                .and_then(|i| v.get(i))
                .map(ByteArray::data),
            _ => None,
        }
    }

    /// The symbol of a string column of the current row in `strings`
    /// (`None` when null).
    fn symbol(&mut self, column: usize, strings: &mut Interner) -> Option<Sym> {
        let c = &mut self.columns[column];
        let Values::Bytes(values) = &c.values else {
            return None;
        };
        let bytes = c.value(self.row).and_then(|i| values.get(i))?.data();
        let key = (bytes.as_ptr() as usize, bytes.len());
        Some(
            *c.symbols
                .entry(key)
                .or_insert_with(|| strings.intern_bytes(bytes)),
        )
    }

    /// [`Rows::symbol`], a null read as the empty string.
    fn text(&mut self, column: usize, strings: &mut Interner) -> Sym {
        match self.symbol(column, strings) {
            Some(sym) => sym,
            None => strings.intern(""),
        }
    }

    /// An integer column of the current row (negative and null read as 0).
    fn int(&self, column: usize) -> u64 {
        let c = &self.columns[column];
        match &c.values {
            Values::Int(v) => c
                .value(self.row)
                .and_then(|i| v.get(i))
                .map_or(0, |&x| x.max(0) as u64),
            _ => 0,
        }
    }

    /// A boolean column of the current row.
    fn flag(&self, column: usize) -> Option<bool> {
        let c = &self.columns[column];
        match &c.values {
            Values::Flag(v) => c.value(self.row).and_then(|i| v.get(i)).copied(),
            _ => None,
        }
    }
}

/// The `imports` and `usage` parts that go with a `starts` part.
fn sibling_parts(root: &Path, starts_part: &Path) -> (PathBuf, PathBuf) {
    let relative = starts_part
        .strip_prefix(root.join("starts"))
        .unwrap_or(starts_part);
    (
        root.join("imports").join(relative),
        root.join("usage").join(relative),
    )
}

/// Reads one starts part with its usage and imports parts and hands each
/// start to `sink`, one at a time; returns the starts handed. A part that
/// fails midway keeps the starts handed before the failure.
pub fn read_part(
    root: &Path,
    starts_part: &Path,
    function: &str,
    sink: &mut dyn StartSink,
) -> Result<u64, TableError> {
    let (imports_part, usage_part) = sibling_parts(root, starts_part);
    let mut starts = Rows::open(starts_part, &START_COLUMNS)?;
    let mut usage = Rows::open(&usage_part, &USAGE_COLUMNS)?;
    let mut imports = Rows::open(&imports_part, &IMPORT_COLUMNS)?;
    let (mut usage_left, mut imports_left) = (usage.advance()?, imports.advance()?);
    let mut start = InternedStart {
        function: sink.strings().intern(function),
        ..InternedStart::default()
    };
    let mut handed = 0;
    while starts.advance()? {
        read_head(&starts, sink, &mut start);
        let id = starts.bytes(0).unwrap_or_default();
        usage_left = read_usage(&mut usage, usage_left, id, sink, &mut start.usage)?;
        imports_left = read_imports(&mut imports, imports_left, id, sink, &mut start.imports)?;
        sink.add_interned(&start);
        handed += 1;
    }
    for (left, rows) in [(usage_left, &usage), (imports_left, &imports)] {
        if left {
            return Err(TableError::Order {
                path: rows.path.display().to_string(),
                start_id: String::from_utf8_lossy(rows.bytes(0).unwrap_or_default()).into_owned(),
            });
        }
    }
    Ok(handed)
}

/// The current row of the starts part into `start` (its rows cleared).
fn read_head(starts: &Rows, sink: &mut dyn StartSink, start: &mut InternedStart) {
    let strings = sink.strings();
    let mut text = |column| strings.intern_bytes(starts.bytes(column).unwrap_or_default());
    (start.host, start.cgroup, start.python) = (text(1), text(2), text(3));
    start.started_at.clear();
    start.started_at.push_str(&String::from_utf8_lossy(
        starts.bytes(4).unwrap_or_default(),
    ));
    (start.init_us, start.exec_us, start.e2e_us) = (starts.int(5), starts.int(6), starts.int(7));
    (start.samples, start.lost) = (starts.int(8), starts.int(9));
    start.imports.clear();
    start.usage.clear();
}

/// The run of usage rows of start `id`; whether rows are left after it.
fn read_usage(
    rows: &mut Rows,
    mut left: bool,
    id: &[u8],
    sink: &mut dyn StartSink,
    out: &mut Vec<InternedUsage>,
) -> Result<bool, TableError> {
    while left && rows.bytes(0) == Some(id) {
        out.push(InternedUsage {
            package: rows.text(1, sink.strings()),
            runtime_samples: rows.int(2),
            exact_use: rows.flag(3),
        });
        left = rows.advance()?;
    }
    Ok(left)
}

/// The run of import rows of start `id`; whether rows are left after it.
fn read_imports(
    rows: &mut Rows,
    mut left: bool,
    id: &[u8],
    sink: &mut dyn StartSink,
    out: &mut Vec<InternedImport>,
) -> Result<bool, TableError> {
    while left && rows.bytes(0) == Some(id) {
        let site = rows.symbol(5, sink.strings());
        let module = if sink.wants_module(site) {
            Some(rows.text(1, sink.strings()))
        } else {
            None
        };
        out.push(InternedImport {
            module,
            package: rows.text(2, sink.strings()),
            site,
            self_us: rows.int(3),
            cumulative_us: rows.int(4),
        });
        left = rows.advance()?;
    }
    Ok(left)
}

/// A [`StartSink`] that turns the interned starts of a table back into
/// [`StartRecord`]s (every column the merge reads; `parent`, `depth` and
/// `failed` come back empty).
pub struct Records<'a> {
    strings: Interner,
    each: &'a mut dyn FnMut(StartRecord),
}

impl<'a> Records<'a> {
    /// A sink calling `each` with every start.
    pub fn new(each: &'a mut dyn FnMut(StartRecord)) -> Self {
        Self {
            strings: Interner::default(),
            each,
        }
    }
}

impl StartSink for Records<'_> {
    fn strings(&mut self) -> &mut Interner {
        &mut self.strings
    }

    fn wants_module(&mut self, _site: Option<u32>) -> bool {
        true
    }

    fn add_interned(&mut self, start: &InternedStart) {
        let name = |s: u32| self.strings.name(s).to_string();
        let record = StartRecord {
            host: name(start.host),
            function: name(start.function),
            cgroup: name(start.cgroup),
            python: name(start.python),
            started_at: start.started_at.clone(),
            init_us: start.init_us,
            exec_us: start.exec_us,
            e2e_us: start.e2e_us,
            samples: start.samples,
            lost: start.lost,
            imports: (start.imports.iter())
                .map(|r| ImportRow {
                    module: r.module.map(name).unwrap_or_default(),
                    package: name(r.package),
                    site: r.site.map(name),
                    self_us: r.self_us,
                    cumulative_us: r.cumulative_us,
                    ..ImportRow::default()
                })
                .collect(),
            usage: (start.usage.iter())
                .map(|u| UsageRow {
                    package: name(u.package),
                    runtime_samples: u.runtime_samples,
                    exact_use: u.exact_use,
                })
                .collect(),
        };
        (self.each)(record);
    }
}
