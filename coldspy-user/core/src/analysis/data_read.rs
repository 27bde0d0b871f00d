//! Data read at import: a module whose own import, after opening data
//! files, runs on for most of its time — a package `__init__` that
//! json-loads a reference table, unpickles a model or parses a word list
//! when it is imported.
//!
//! Measured, not guessed: the import record's own `openat` calls
//! (`files[]`, with their times) split its time into what ran before the
//! first data file was opened and what ran after each, nested imports left
//! out; the samples taken in the module's own body (`<module>` frame) say
//! which of its lines that time went to and what it called (`json.load`).
//! A data file is one that is not code or package metadata: not `.py`,
//! `.pyc`, `.pyi`, an extension module or shared library, `.pth`, a
//! `__pycache__` or `*.dist-info`/`*.egg-info` entry, a directory (a path
//! another opened path lies under) or a kernel file (`/proc`, `/sys`,
//! `/dev`). The normal import of a package (its code files, its metadata)
//! is never this pattern.

use super::tree::Tree;
use crate::model::profile::{CctNode, Frame, Profile};
use std::collections::{HashMap, HashSet};

/// Time after opening data files below which an import is not this pattern.
pub const MIN_DATA_US: u64 = 10_000;

/// A data file opened by an import, and how long the import ran after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// The path opened.
    pub path: String,
    /// Time from its open to the import's next open or its end, nested
    /// imports left out: what reading and parsing it can have taken.
    pub after_us: u64,
}

/// The line of the module's body where its import-time samples were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotLine {
    /// The module's file.
    pub file: String,
    /// The line.
    pub line: u32,
    /// What that line called in most of those samples (`json.load`).
    pub callee: Option<String>,
    /// Samples at that line.
    pub samples: u64,
    /// Samples in the module's body during its import, all lines.
    pub of: u64,
}

/// An import that reads data: its data files and where its time went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRead {
    /// Data files opened, in open order.
    pub files: Vec<DataFile>,
    /// Time after opening them (the sum of their `after_us`).
    pub after_us: u64,
    /// The busiest line of the module's body, when it was sampled.
    pub hot: Option<HotLine>,
    /// The module's file, when known.
    pub file: Option<String>,
}

impl DataRead {
    /// The data file the import ran longest after.
    pub fn main_file(&self) -> Option<&DataFile> {
        self.files.iter().max_by_key(|f| f.after_us)
    }
}

/// Whether import record `i` spends its own time reading data: at least
/// [`MIN_DATA_US`] after opening data files, and at least half its self time.
pub fn of_import(profile: &Profile, tree: &Tree, i: usize) -> Option<DataRead> {
    let r = tree.records.get(i)?;
    let own: Vec<(u64, &str, bool)> = profile
        .files
        .iter()
        .filter(|f| f.module.as_deref() == Some(r.module.as_str()) && f.tid == r.tid)
        .filter(|f| (r.start_us..=r.end_us).contains(&f.ts_us))
        .map(|f| (f.ts_us, f.path.as_str(), f.ok && looks_like_data(&f.path)))
        .collect();
    if !own.iter().any(|o| o.2) {
        return None;
    }
    let nested: Vec<(u64, u64)> = tree.children[i]
        .iter()
        .map(|&c| (tree.records[c].start_us, tree.records[c].end_us))
        .collect();
    let dirs = directories(profile);
    let mut files = Vec::new();
    for (k, &(ts, path, data)) in own.iter().enumerate() {
        if !data || dirs.contains(path) {
            continue;
        }
        let end = own.get(k + 1).map_or(r.end_us, |next| next.0).min(r.end_us);
        let inside: u64 = nested.iter().map(|&(s, e)| overlap(ts, end, s, e)).sum();
        files.push(DataFile {
            path: path.to_string(),
            after_us: end.saturating_sub(ts).saturating_sub(inside),
        });
    }
    let after_us: u64 = files.iter().map(|f| f.after_us).sum();
    if after_us < MIN_DATA_US || after_us.saturating_mul(2) < r.self_us {
        return None;
    }
    let file = profile
        .modules
        .iter()
        .find(|m| m.name == r.module)
        .and_then(|m| m.file.as_deref());
    Some(DataRead {
        files,
        after_us,
        hot: file.and_then(|f| hot_line(profile, f)),
        file: file.map(str::to_string),
    })
}

/// Whether a path names data rather than code, package metadata or a
/// kernel file (directories are told apart by [`directories`]).
pub fn looks_like_data(path: &str) -> bool {
    const CODE: [&str; 11] = [
        "py", "pyc", "pyo", "pyi", "so", "pyd", "dylib", "pth", "zip", "egg-link", "typed",
    ];
    if path.starts_with("/proc/") || path.starts_with("/sys/") || path.starts_with("/dev/") {
        return false;
    }
    if ["/__pycache__/", ".dist-info", ".egg-info"]
        .iter()
        .any(|p| path.contains(p))
    {
        return false;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) => !stem.is_empty() && !CODE.contains(&ext) && !name.contains(".so."),
        None => false,
    }
}

/// Every directory above an opened path: a path in this set was a directory.
fn directories(profile: &Profile) -> HashSet<&str> {
    let mut dirs = HashSet::new();
    for f in &profile.files {
        let mut path = f.path.as_str();
        while let Some((parent, _)) = path.rsplit_once('/') {
            if parent.is_empty() || !dirs.insert(parent) {
                break;
            }
            path = parent;
        }
    }
    dirs
}

/// Length of the overlap of `[a, b)` and `[c, d)`.
fn overlap(a: u64, b: u64, c: u64, d: u64) -> u64 {
    b.min(d).saturating_sub(a.max(c))
}

/// The line of `file`'s module body with the most import-time samples, with
/// the callee it ran in most of them; nested imports are not counted.
fn hot_line(profile: &Profile, file: &str) -> Option<HotLine> {
    let frames = &profile.cct.frames;
    let lines = body_lines(profile, file);
    let of: u64 = lines.values().map(|(n, _)| n).sum();
    let (&line, (samples, callees)) = lines
        .iter()
        .max_by_key(|(&line, (n, _))| (*n, std::cmp::Reverse(line)))?;
    if *samples == 0 {
        return None;
    }
    let callee = callees
        .iter()
        .max_by_key(|(&f, &n)| (n, std::cmp::Reverse(f)))
        .and_then(|(&f, _)| frames.get(f))
        .map(Frame::dotted_name);
    Some(HotLine {
        file: file.to_string(),
        line,
        callee,
        samples: *samples,
        of,
    })
}

/// Per line of `file`'s module body: its import-time samples outside nested
/// imports, and of those, the samples per callee frame.
pub(super) fn body_lines(
    profile: &Profile,
    file: &str,
) -> HashMap<u32, (u64, HashMap<usize, u64>)> {
    let mut lines = HashMap::new();
    collect(&profile.cct.root, &profile.cct.frames, file, &mut lines);
    lines
}

/// Adds, per line of every `<module>` frame of `file`, its import-time
/// samples outside nested imports, and per callee frame their share.
fn collect(
    node: &CctNode,
    frames: &[Frame],
    file: &str,
    lines: &mut HashMap<u32, (u64, HashMap<usize, u64>)>,
) {
    let body = node
        .frame
        .and_then(|f| frames.get(f))
        .filter(|f| f.function == "<module>" && f.file == file);
    let Some(body) = body else {
        for child in &node.children {
            collect(child, frames, file, lines);
        }
        return;
    };
    let entry = lines.entry(body.line).or_default();
    entry.0 += node.import_self;
    for child in &node.children {
        let own = child
            .import_total
            .saturating_sub(nested_imports(child, frames));
        entry.0 += own;
        if let Some(f) = child.frame.filter(|_| own > 0) {
            *entry.1.entry(f).or_default() += own;
        }
    }
}

/// Import-time samples under `node` spent importing other modules.
fn nested_imports(node: &CctNode, frames: &[Frame]) -> u64 {
    let machinery = node
        .frame
        .and_then(|f| frames.get(f))
        .is_some_and(|f| crate::origin::is_import_machinery(&f.file));
    if machinery {
        return node.import_total;
    }
    node.children
        .iter()
        .map(|c| nested_imports(c, frames))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::Cct;

    fn frame(function: &str, file: &str, line: u32) -> Frame {
        Frame {
            function: function.into(),
            qualname: String::new(),
            file: file.into(),
            line,
            module: None,
        }
    }

    fn node(frame: usize, import_self: u64, children: Vec<CctNode>) -> CctNode {
        let import_total = import_self + children.iter().map(|c| c.import_total).sum::<u64>();
        CctNode {
            frame: Some(frame),
            self_samples: import_self,
            total: import_total,
            import_self,
            import_total,
            children,
        }
    }

    #[test]
    fn a_body_line_leaves_out_the_imports_it_runs() {
        // importlib frozen, and run from its source (debug builds).
        for machinery in [
            "<frozen importlib._bootstrap>",
            "/usr/lib/python3.12/importlib/_bootstrap.py",
        ] {
            let mut p = Profile::empty();
            p.cct = Cct {
                frames: vec![
                    frame("<module>", "/app/app.py", 3),
                    frame("_find_and_load", machinery, 1),
                    frame("<module>", "/v/lib/python3.12/site-packages/lib.py", 1),
                    frame("load", "/usr/lib/python3.12/json/__init__.py", 293),
                ],
                root: CctNode {
                    children: vec![node(
                        0,
                        1,
                        vec![node(1, 0, vec![node(2, 9, vec![])]), node(3, 4, vec![])],
                    )],
                    ..CctNode::default()
                },
            };
            let lines = body_lines(&p, "/app/app.py");
            let (samples, callees) = &lines[&3];
            assert_eq!(*samples, 5, "{machinery}: its own 1 and json.load's 4");
            assert_eq!(callees.get(&3), Some(&4), "{machinery}");
            assert_eq!(callees.get(&1), None, "{machinery}");
        }
    }
}
