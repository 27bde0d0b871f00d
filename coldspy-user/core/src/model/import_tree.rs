//! The dynamic import tree: pairs import start/end edges per thread, computes
//! self and cumulative times as `python -X importtime` defines them, and
//! answers "which import was innermost on this thread at time t".

use crate::model::profile::{ImportRecord, VIA_MODULE_BODY};
use crate::model::trace::{ImportEdge, TraceImportEdge, TraceOpen};
use std::borrow::Cow;
use std::collections::HashMap;

/// Imports of a trace, with per-thread timelines for lookups.
#[derive(Debug, Default)]
pub struct ImportTree {
    /// Import records in start order (times still in kernel ns, see `start_ns`).
    pub records: Vec<ImportRecord>,
    /// Per record: the index in the trace's edges of the edge that started it.
    pub start_edges: Vec<usize>,
    /// Per record: the edge of its module body's start, when one was seen
    /// (its site is the frame that asked for the module, past importlib).
    pub body_edges: Vec<Option<usize>>,
    /// Per thread: (time ns, innermost import index after that time), sorted.
    timelines: HashMap<u32, Vec<(u64, Option<usize>)>>,
}

/// What a module body on a thread's body stack stands for.
#[derive(Clone, Copy)]
enum Body {
    /// The body of the innermost import (seen by its import edge).
    OfImport,
    /// An import only the body shows: the record made for it.
    Made(usize),
    /// Top-level code (`__main__`), or a body that is no import.
    NotImport,
}

/// The pairing state while edges are read in time order.
#[derive(Default)]
struct Pairing {
    records: Vec<ImportRecord>,
    start_edges: Vec<usize>,
    /// Per record: the edge its body started with, `None` until it has.
    body_edges: Vec<Option<usize>>,
    start_ns_of: Vec<u64>,
    end_ns_of: Vec<u64>,
    stacks: HashMap<u32, Vec<usize>>,
    bodies: HashMap<u32, Vec<Body>>,
    timelines: HashMap<u32, Vec<(u64, Option<usize>)>>,
}

impl Pairing {
    /// Opens a record for `edge` (the `edge_index`-th) on its thread.
    fn open(
        &mut self,
        edge_index: usize,
        edge: &TraceImportEdge,
        end_ns: u64,
        via: Option<&str>,
    ) -> usize {
        let stack = self.stacks.entry(edge.tid).or_default();
        let index = self.records.len();
        self.records.push(ImportRecord {
            module: edge.module.clone(),
            parent: stack.last().map(|&p| self.records[p].module.clone()),
            tid: edge.tid,
            start_us: 0,
            end_us: 0,
            self_us: 0,
            cumulative_us: 0,
            depth: stack.len() as u32,
            files: Vec::new(),
            site: None,
            failed: false,
            parent_index: stack.last().copied(),
            via: via.map(str::to_string),
            loader: edge.loader.clone(),
        });
        self.start_edges.push(edge_index);
        self.body_edges.push(via.is_some().then_some(edge_index));
        self.start_ns_of.push(edge.ts_ns);
        self.end_ns_of.push(end_ns.max(edge.ts_ns));
        stack.push(index);
        self.timelines
            .entry(edge.tid)
            .or_default()
            .push((edge.ts_ns, Some(index)));
        index
    }

    /// Closes the open record `index` and those opened inside it (a lost end).
    fn close(&mut self, tid: u32, index: usize, ts_ns: u64, failed: bool) {
        let stack = self.stacks.entry(tid).or_default();
        let Some(pos) = stack.iter().rposition(|&i| i == index) else {
            return;
        };
        for i in stack.drain(pos..).rev() {
            self.end_ns_of[i] = ts_ns.max(self.start_ns_of[i]);
        }
        self.records[index].failed = failed;
        let innermost = stack.last().copied();
        self.timelines
            .entry(tid)
            .or_default()
            .push((ts_ns, innermost));
    }

    /// An import end: pops to the matching start; a lost start leaves the stack alone.
    fn end(&mut self, edge: &TraceImportEdge) {
        let stack = self.stacks.entry(edge.tid).or_default();
        let records = &self.records;
        if let Some(pos) = stack
            .iter()
            .rposition(|&i| records[i].module == edge.module)
        {
            let index = stack[pos];
            self.close(edge.tid, index, edge.ts_ns, edge.failed);
        }
    }

    /// A module body starts: the body of the innermost import if that one
    /// has not run its body yet and names this module, else an import of
    /// its own (unless it is top-level code).
    fn body_start(&mut self, edge_index: usize, edge: &TraceImportEdge, end_ns: u64) {
        let innermost = self.stacks.get(&edge.tid).and_then(|s| s.last().copied());
        let body = if edge.module == MAIN_MODULE {
            Body::NotImport
        } else {
            match innermost {
                Some(i)
                    if self.body_edges[i].is_none()
                        && names_same_module(&self.records[i].module, &edge.module) =>
                {
                    self.body_edges[i] = Some(edge_index);
                    if edge.loader.is_some() {
                        self.records[i].loader = edge.loader.clone();
                    }
                    Body::OfImport
                }
                _ => Body::Made(self.open(edge_index, edge, end_ns, Some(VIA_MODULE_BODY))),
            }
        };
        self.bodies.entry(edge.tid).or_default().push(body);
    }

    /// A module body ends: the import made for it ends with it.
    fn body_end(&mut self, edge: &TraceImportEdge) {
        let Some(body) = self.bodies.entry(edge.tid).or_default().pop() else {
            return;
        };
        if let Body::Made(index) = body {
            self.close(edge.tid, index, edge.ts_ns, edge.failed);
        }
    }
}

/// The module name a body start carries for top-level code.
pub const MAIN_MODULE: &str = "__main__";

/// Whether a body whose file gives the name `body` is that of the import
/// of `import`: the same name, or the same last component (the file alone
/// cannot always tell the package: a namespace package has no `__init__`).
fn names_same_module(import: &str, body: &str) -> bool {
    let last = |name: &str| name.rsplit('.').next().unwrap_or(name).to_string();
    import == body || last(import) == last(body)
}

/// Moves each module body's start back to the first open of its own files
/// (its source, its `.pyc`, a directory above it) made on its thread since
/// the thread's previous edge: reading and unmarshalling the code happen
/// before the body runs, and an import seen by its body alone should count
/// them as the import statement's probe does. Other edges are unchanged;
/// no edge moves past another of its thread.
pub fn pull_body_starts<'a>(
    edges: &'a [TraceImportEdge],
    opens: &[TraceOpen],
) -> Cow<'a, [TraceImportEdge]> {
    if !edges.iter().any(|e| e.edge == ImportEdge::BodyStart) {
        return Cow::Borrowed(edges);
    }
    let mut opens_of: HashMap<u32, Vec<&TraceOpen>> = HashMap::new();
    for open in opens {
        opens_of.entry(open.tid).or_default().push(open);
    }
    for list in opens_of.values_mut() {
        list.sort_by_key(|o| o.enter_ns);
    }
    let mut previous_ns: HashMap<u32, u64> = HashMap::new();
    let mut moved = edges.to_vec();
    for edge in &mut moved {
        let after = previous_ns.insert(edge.tid, edge.ts_ns).unwrap_or(0);
        let (ImportEdge::BodyStart, Some(file)) = (edge.edge, edge.file.as_deref()) else {
            continue;
        };
        let Some(list) = opens_of.get(&edge.tid) else {
            continue;
        };
        let from = list.partition_point(|o| o.enter_ns <= after);
        let first_own = list[from..]
            .iter()
            .take_while(|o| o.enter_ns < edge.ts_ns)
            .find(|o| is_own_file(file, &o.path));
        if let Some(open) = first_own {
            edge.ts_ns = open.enter_ns;
        }
    }
    Cow::Owned(moved)
}

/// Whether opening `path` is part of loading the module in `file`: the
/// file itself, its cached bytecode, or a directory above it.
fn is_own_file(file: &str, path: &str) -> bool {
    let Some((dir, name)) = file.rsplit_once('/') else {
        return false;
    };
    let stem = name.strip_suffix(".py").unwrap_or(name);
    path == file
        || path
            .strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix("/__pycache__/"))
            .is_some_and(|pyc| pyc.starts_with(&format!("{stem}.")) && pyc.ends_with(".pyc"))
        || (!path.is_empty() && file.starts_with(path) && file[path.len()..].starts_with('/'))
}

impl ImportTree {
    /// Pairs the edges (in time order). Imports still open at `end_ns` end there.
    /// Times in the records are µs since `start_ns`.
    pub fn build(edges: &[TraceImportEdge], start_ns: u64, end_ns: u64) -> Self {
        let mut pairing = Pairing::default();
        for (edge_index, edge) in edges.iter().enumerate() {
            match edge.edge {
                ImportEdge::Start => {
                    pairing.open(edge_index, edge, end_ns, None);
                }
                ImportEdge::End => pairing.end(edge),
                ImportEdge::BodyStart => pairing.body_start(edge_index, edge, end_ns),
                ImportEdge::BodyEnd => pairing.body_end(edge),
            }
        }
        let Pairing {
            mut records,
            start_edges,
            body_edges,
            start_ns_of,
            end_ns_of,
            timelines,
            ..
        } = pairing;

        // Self = cumulative minus the cumulative of the imports it triggered directly.
        let mut children_cumulative_ns = vec![0u64; records.len()];
        for (i, record) in records.iter().enumerate() {
            if let Some(p) = record.parent_index {
                children_cumulative_ns[p] += end_ns_of[i] - start_ns_of[i];
            }
        }
        for (i, record) in records.iter_mut().enumerate() {
            let cumulative = end_ns_of[i] - start_ns_of[i];
            record.start_us = start_ns_of[i].saturating_sub(start_ns) / 1000;
            record.end_us = end_ns_of[i].saturating_sub(start_ns) / 1000;
            record.cumulative_us = cumulative / 1000;
            record.self_us = cumulative.saturating_sub(children_cumulative_ns[i]) / 1000;
        }
        Self {
            records,
            start_edges,
            body_edges,
            timelines,
        }
    }

    /// The innermost import running on `tid` at kernel time `ts_ns`.
    pub fn innermost_at(&self, tid: u32, ts_ns: u64) -> Option<usize> {
        let timeline = self.timelines.get(&tid)?;
        let after = timeline.partition_point(|&(t, _)| t <= ts_ns);
        if after == 0 {
            return None;
        }
        timeline[after - 1].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(edge: ImportEdge, tid: u32, ts_ns: u64, module: &str) -> TraceImportEdge {
        TraceImportEdge {
            edge,
            pid: 1,
            tid,
            ts_ns,
            module: module.into(),
            failed: false,
            site: None,
            file: None,
            loader: None,
        }
    }

    #[test]
    fn self_is_cumulative_minus_direct_children() {
        use ImportEdge::*;
        let edges = [
            edge(Start, 1, 1_000_000, "a"),
            edge(Start, 1, 2_000_000, "a.b"),
            edge(Start, 1, 3_000_000, "c"),
            edge(End, 1, 4_000_000, "c"),
            edge(End, 1, 6_000_000, "a.b"),
            edge(Start, 1, 7_000_000, "d"),
            edge(End, 1, 8_000_000, "d"),
            edge(End, 1, 10_000_000, "a"),
        ];
        let tree = ImportTree::build(&edges, 0, 20_000_000);
        let r = &tree.records;
        assert_eq!(r.len(), 4);
        assert_eq!(
            (r[0].cumulative_us, r[0].self_us, r[0].depth),
            (9000, 4000, 0)
        );
        assert_eq!((r[1].cumulative_us, r[1].self_us), (4000, 3000));
        assert_eq!(r[1].parent.as_deref(), Some("a"));
        assert_eq!(r[2].parent.as_deref(), Some("a.b"));
        assert_eq!(r[3].parent.as_deref(), Some("a"));
        let parents: Vec<_> = r.iter().map(|x| x.parent_index).collect();
        assert_eq!(parents, [None, Some(0), Some(1), Some(0)]);
        assert_eq!(tree.innermost_at(1, 3_500_000), Some(2));
        assert_eq!(tree.innermost_at(1, 5_000_000), Some(1));
        assert_eq!(tree.innermost_at(1, 11_000_000), None);
        assert_eq!(tree.innermost_at(2, 3_500_000), None);
    }

    #[test]
    fn threads_nest_independently_and_open_imports_end_at_trace_end() {
        use ImportEdge::*;
        let edges = [
            edge(Start, 1, 1_000, "x"),
            edge(Start, 2, 2_000, "y"),
            edge(End, 1, 5_000, "x"),
        ];
        let tree = ImportTree::build(&edges, 0, 9_000);
        assert_eq!(tree.records[1].parent, None);
        assert_eq!(tree.records[1].end_us, 9);
        assert_eq!(tree.records[0].self_us, 4);
    }

    #[test]
    fn a_body_inside_its_import_adds_nothing_and_a_body_alone_is_an_import() {
        use ImportEdge::*;
        let edges = [
            edge(BodyStart, 1, 0, MAIN_MODULE),
            // `import a` (its body is its own); a's body calls
            // importlib.import_module("x"), whose body imports y by statement.
            edge(Start, 1, 1_000_000, "a"),
            edge(BodyStart, 1, 1_100_000, "a"),
            edge(BodyStart, 1, 2_000_000, "x"),
            edge(Start, 1, 3_000_000, "y"),
            edge(BodyStart, 1, 3_100_000, "y"),
            edge(BodyEnd, 1, 3_900_000, "y"),
            edge(End, 1, 4_000_000, "y"),
            edge(BodyEnd, 1, 6_000_000, "x"),
            edge(BodyEnd, 1, 7_000_000, "a"),
            edge(End, 1, 8_000_000, "a"),
            // The main script's own import_module("app"): a root.
            edge(BodyStart, 1, 9_000_000, "app"),
            edge(BodyEnd, 1, 12_000_000, "app"),
            edge(BodyEnd, 1, 13_000_000, MAIN_MODULE),
        ];
        let tree = ImportTree::build(&edges, 0, 20_000_000);
        let r = &tree.records;
        let names: Vec<_> = r.iter().map(|x| x.module.as_str()).collect();
        assert_eq!(names, ["a", "x", "y", "app"]);
        let via: Vec<_> = r.iter().map(|x| x.via.as_deref()).collect();
        assert_eq!(
            via,
            [None, Some(VIA_MODULE_BODY), None, Some(VIA_MODULE_BODY)]
        );
        let parents: Vec<_> = r.iter().map(|x| x.parent_index).collect();
        assert_eq!(parents, [None, Some(0), Some(1), None]);
        assert_eq!((r[0].cumulative_us, r[0].self_us), (7000, 3000));
        assert_eq!((r[1].cumulative_us, r[1].self_us), (4000, 3000));
        assert_eq!((r[3].cumulative_us, r[3].depth), (3000, 0));
        assert_eq!(tree.start_edges, [1, 3, 4, 11]);
        assert_eq!(tree.innermost_at(1, 2_500_000), Some(1));
        assert_eq!(tree.innermost_at(1, 10_000_000), Some(3));
        assert_eq!(tree.innermost_at(1, 12_500_000), None);
    }

    #[test]
    fn a_body_of_another_name_inside_an_import_without_body_is_its_own() {
        use ImportEdge::*;
        // An extension module (no body) whose init runs import_module("b").
        let edges = [
            edge(Start, 1, 1_000, "ext"),
            edge(BodyStart, 1, 2_000, "b"),
            edge(BodyEnd, 1, 3_000, "b"),
            edge(End, 1, 4_000, "ext"),
            // A package whose body the file names by its last component only.
            edge(Start, 1, 5_000, "pkg.sub"),
            edge(BodyStart, 1, 5_500, "sub"),
            edge(BodyEnd, 1, 6_000, "sub"),
            edge(End, 1, 7_000, "pkg.sub"),
        ];
        let tree = ImportTree::build(&edges, 0, 9_000);
        let names: Vec<_> = tree.records.iter().map(|x| x.module.as_str()).collect();
        assert_eq!(names, ["ext", "b", "pkg.sub"]);
        assert_eq!(tree.records[1].parent_index, Some(0));
    }

    #[test]
    fn a_body_starts_at_the_first_open_of_its_files() {
        use ImportEdge::*;
        let open = |tid, enter_ns, path: &str| TraceOpen {
            pid: 1,
            tid,
            enter_ns,
            exit_ns: enter_ns + 10,
            ret: 3,
            path: path.into(),
        };
        let mut body = edge(BodyStart, 1, 5_000, "csv");
        body.file = Some("/lib/csv.py".into());
        let edges = [edge(End, 1, 1_000, "x"), body.clone()];
        let opens = [
            open(1, 500, "/lib/csv.py"),     // before the previous edge
            open(2, 2_000, "/lib/csv.py"),   // another thread
            open(1, 2_500, "/lib/other.py"), // another file
            open(1, 3_000, "/lib/__pycache__/csv.cpython-312.pyc"),
            open(1, 3_500, "/lib/csv.py"),
        ];
        let moved = pull_body_starts(&edges, &opens);
        assert_eq!(moved[1].ts_ns, 3_000);
        assert_eq!(moved[0].ts_ns, 1_000);
        assert!(is_own_file("/lib/pkg/__init__.py", "/lib/pkg"));
        assert!(!is_own_file("/lib/pkg/__init__.py", "/lib/pk"));
        assert!(!is_own_file(
            "/lib/csv.py",
            "/lib/__pycache__/csvx.cpython-312.pyc"
        ));
        let none = [edge(Start, 1, 1, "a")];
        assert!(matches!(pull_body_starts(&none, &opens), Cow::Borrowed(_)));
    }
}
