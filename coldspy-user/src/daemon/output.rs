//! Where the daemon's profiles go: one JSON file per process (or window)
//! under `DIR/<date>/<function>/<host>-<pid>-<start>.json`, written whole
//! (a temporary file renamed into place, mode 0600), one line per process
//! in `DIR/index.jsonl`, and rotation by `--keep` / `--max-disk`.

use super::node::Finished;
use std::collections::VecDeque;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// Counters of what was written.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(super) struct Written {
    /// Profiles written.
    pub profiles: u64,
    /// Profiles that could not be written (disk full, …): lost, and counted.
    pub lost_profiles: u64,
    /// Fork children that ran no Python before exec'ing something else: not written.
    pub empty_children: u64,
    /// Profiles deleted by rotation.
    pub rotated: u64,
    /// Bytes of the profiles currently kept.
    pub kept_bytes: u64,
    /// Starts appended to the fleet table (`--table`).
    pub table_starts: u64,
    /// Starts that could not be appended to it.
    pub table_lost: u64,
    /// The last write error, if any.
    pub last_error: Option<String>,
}

/// The fleet table the daemon appends to (`--table`): one writer per
/// window, finished (its part files renamed into place) when the window ends.
struct Table {
    dir: PathBuf,
    window: std::time::Duration,
    writer: Option<(crate::fleet::table::TableWriter, std::time::Instant, u64)>,
}

/// Writes profiles and the index; rotates.
pub(super) struct Writer {
    dir: PathBuf,
    index: Option<std::fs::File>,
    kept: VecDeque<(PathBuf, u64)>,
    keep: Option<u64>,
    max_disk: Option<u64>,
    table: Option<Table>,
    /// What was written so far.
    pub written: Written,
}

impl Writer {
    /// Opens (creating) the output directory and its index; the profiles
    /// already there count for rotation, oldest first.
    pub(super) fn open(
        dir: &Path,
        keep: Option<u64>,
        max_disk: Option<u64>,
        table: Option<(&Path, std::time::Duration)>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!("cannot create the output directory {}: {e}", dir.display())
        })?;
        let probe = dir.join(format!(".coldspy-probe-{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(|e| {
            anyhow::anyhow!(
                "cannot write in the output directory {}: {e}",
                dir.display()
            )
        })?;
        let _ = std::fs::remove_file(&probe);
        let mut writer = Self {
            dir: dir.to_path_buf(),
            index: None,
            kept: existing_profiles(dir),
            keep,
            max_disk,
            table: table.map(|(dir, window)| Table {
                dir: dir.to_path_buf(),
                window,
                writer: None,
            }),
            written: Written::default(),
        };
        if let Some(table) = &writer.table {
            std::fs::create_dir_all(&table.dir).map_err(|e| {
                anyhow::anyhow!("cannot create the fleet table {}: {e}", table.dir.display())
            })?;
        }
        writer.written.kept_bytes = writer.kept.iter().map(|(_, b)| b).sum();
        writer.reopen_index();
        Ok(writer)
    }

    /// Reopens `index.jsonl` (SIGHUP: after an external rotation of it).
    pub(super) fn reopen_index(&mut self) {
        self.index = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(self.dir.join("index.jsonl"))
            .map_err(|e| log::warn!("cannot open the index: {e}"))
            .ok();
    }

    /// Writes one finished recording: its profile, its index line, then
    /// rotation. Never fails: a write that fails is counted as lost.
    pub(super) fn write(
        &mut self,
        finished: &Finished,
        profile_json: &[u8],
        summary: IndexSummary,
        start: Option<crate::fleet_core::StartRecord>,
    ) {
        let trace = &finished.trace;
        if trace.meta.labels.contains_key("parent_pid")
            && trace.sample_count() == 0
            && trace.imports.is_empty()
        {
            self.written.empty_children += 1;
            return;
        }
        if let Some(start) = start {
            self.append_to_table(&start);
        }
        let path = self.profile_path(finished);
        let result = write_whole(&path, profile_json);
        let mut line = serde_json::json!({
            "pid": trace.meta.pid,
            "labels": trace.meta.labels,
            "command": trace.meta.command,
            "python": trace.meta.python_version,
            "started_at": trace.meta.started_at,
            "init_us": summary.init_us,
            "exec_us": summary.exec_us,
            "duration_us": summary.duration_us,
            "samples": trace.sample_count(),
            "lost_samples": trace.meta.lost_samples,
            "window": finished.window,
            "partial": finished.partial,
        });
        match result {
            Ok(bytes) => {
                self.written.profiles += 1;
                line["path"] = serde_json::Value::from(path.display().to_string());
                self.kept.push_back((path, bytes));
                self.written.kept_bytes += bytes;
            }
            Err(e) => {
                self.written.lost_profiles += 1;
                let error = format!("{}: {e}", path.display());
                log::warn!("profile lost: {error}");
                line["error"] = serde_json::Value::from(error.clone());
                self.written.last_error = Some(error);
            }
        }
        self.append_index(&line);
        self.rotate();
    }

    /// `DIR/<date>/<function>/<host>-<pid>-<start ms>[-wN].json`.
    fn profile_path(&self, finished: &Finished) -> PathBuf {
        let meta = &finished.trace.meta;
        let date = meta.started_at.get(..10).unwrap_or("unknown-date");
        let function = meta
            .labels
            .get("function")
            .map(String::as_str)
            .unwrap_or("unknown");
        let start_ms = humantime::parse_rfc3339_weak(&meta.started_at)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let window = if finished.window > 0 || finished.partial {
            format!("-w{}", finished.window)
        } else {
            String::new()
        };
        self.dir
            .join(safe_component(date))
            .join(safe_component(function))
            .join(format!(
                "{}-{}-{start_ms}{window}.json",
                safe_component(&meta.host),
                meta.pid
            ))
    }

    /// Adds one start to the current window's table writer.
    fn append_to_table(&mut self, start: &crate::fleet_core::StartRecord) {
        let Some(table) = self.table.as_mut() else {
            return;
        };
        if table.writer.is_none() {
            match crate::fleet::table::TableWriter::new(&table.dir) {
                Ok(writer) => table.writer = Some((writer, std::time::Instant::now(), 0)),
                Err(e) => {
                    self.written.table_lost += 1;
                    self.written.last_error = Some(format!("fleet table: {e}"));
                    return;
                }
            }
        }
        let Some((writer, _, count)) = table.writer.as_mut() else {
            return;
        };
        match writer.add(start) {
            Ok(()) => *count += 1,
            Err(e) => {
                self.written.table_lost += 1;
                self.written.last_error = Some(format!("fleet table: {e}"));
            }
        }
    }

    /// Ends the table window when it is due (or `now`): its part files are
    /// renamed into place.
    pub(super) fn finish_table_window(&mut self, now: bool) {
        let Some(table) = self.table.as_mut() else {
            return;
        };
        let due = table
            .writer
            .as_ref()
            .is_some_and(|(_, opened, _)| now || opened.elapsed() >= table.window);
        if !due {
            return;
        }
        let Some((writer, _, count)) = table.writer.take() else {
            return;
        };
        match writer.finish() {
            Ok(_) => self.written.table_starts += count,
            Err(e) => {
                self.written.table_lost += count;
                self.written.last_error = Some(format!("fleet table: {e}"));
            }
        }
    }

    fn append_index(&mut self, line: &serde_json::Value) {
        let Some(index) = self.index.as_mut() else {
            return;
        };
        let mut text = line.to_string();
        text.push('\n');
        if let Err(e) = index.write_all(text.as_bytes()) {
            self.written.last_error = Some(format!("index.jsonl: {e}"));
        }
    }

    /// Deletes the oldest profiles past `--keep` or `--max-disk`, each said in the index.
    fn rotate(&mut self) {
        loop {
            let over_count = self.keep.is_some_and(|keep| self.kept.len() as u64 > keep);
            let over_bytes = self
                .max_disk
                .is_some_and(|max| self.written.kept_bytes > max);
            if !(over_count || over_bytes) || self.kept.len() <= 1 {
                return;
            }
            let Some((path, bytes)) = self.kept.pop_front() else {
                return;
            };
            let _ = std::fs::remove_file(&path);
            self.written.kept_bytes = self.written.kept_bytes.saturating_sub(bytes);
            self.written.rotated += 1;
            let line = serde_json::json!({ "rotated": path.display().to_string(), "bytes": bytes });
            self.append_index(&line);
        }
    }

    /// Writes `DIR/status.json` whole.
    pub(super) fn write_status(&self, status: &serde_json::Value) {
        let _ = write_whole(&self.dir.join("status.json"), status.to_string().as_bytes());
    }
}

/// The numbers of a profile the index line repeats.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IndexSummary {
    /// Initialization phase.
    pub init_us: u64,
    /// Execution phase.
    pub exec_us: u64,
    /// The recording's length.
    pub duration_us: u64,
}

/// Writes `bytes` to `path` through a temporary file renamed over it (mode
/// 0600; parents created); returns the size.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<u64> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    crate::sys::output::replace_whole(path, bytes, false)?;
    Ok(bytes.len() as u64)
}

/// A path component made of `[A-Za-z0-9._-]` (others become `_`), at most
/// 64 bytes, never `.` or `..`.
pub(super) fn safe_component(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if out.is_empty() || out.chars().all(|c| c == '.') {
        out = format!("_{out}");
    }
    out
}

/// The `*.json` profiles under `dir/<date>/<function>/`, oldest first.
fn existing_profiles(dir: &Path) -> VecDeque<(PathBuf, u64)> {
    let mut found = Vec::new();
    let walk = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    };
    for date in walk(dir).into_iter().filter(|p| p.is_dir()) {
        for function in walk(&date).into_iter().filter(|p| p.is_dir()) {
            for file in walk(&function) {
                let is_profile = file.extension().is_some_and(|e| e == "json")
                    && !file
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if let (true, Ok(meta)) = (is_profile, std::fs::metadata(&file)) {
                    let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                    found.push((modified, file, meta.len()));
                }
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|(_, path, bytes)| (path, bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::safe_component;

    #[test]
    fn path_components_cannot_escape_the_directory() {
        assert_eq!(safe_component("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(safe_component(".."), "_..");
        assert_eq!(safe_component(""), "_");
        assert_eq!(safe_component("resize-v2.1"), "resize-v2.1");
        assert_eq!(safe_component(&"x".repeat(100)).len(), 64);
        assert_eq!(safe_component("a b\x1b[31m"), "a_b__31m");
    }
}
