//! The dynamic import tree: pairs import start/end edges per thread, computes
//! self and cumulative times as `python -X importtime` defines them, and
//! answers "which import was innermost on this thread at time t".

use crate::model::profile::ImportRecord;
use crate::model::trace::{ImportEdge, TraceImportEdge};
use std::collections::HashMap;

/// Imports of a trace, with per-thread timelines for lookups.
#[derive(Debug, Default)]
pub struct ImportTree {
    /// Import records in start order (times still in kernel ns, see `start_ns`).
    pub records: Vec<ImportRecord>,
    /// Per thread: (time ns, innermost import index after that time), sorted.
    timelines: HashMap<u32, Vec<(u64, Option<usize>)>>,
}

impl ImportTree {
    /// Pairs the edges (in time order). Imports still open at `end_ns` end there.
    /// Times in the records are µs since `start_ns`.
    pub fn build(edges: &[TraceImportEdge], start_ns: u64, end_ns: u64) -> Self {
        let mut records: Vec<ImportRecord> = Vec::new();
        let mut start_ns_of: Vec<u64> = Vec::new();
        let mut end_ns_of: Vec<u64> = Vec::new();
        let mut stacks: HashMap<u32, Vec<usize>> = HashMap::new();
        let mut timelines: HashMap<u32, Vec<(u64, Option<usize>)>> = HashMap::new();

        for edge in edges {
            let stack = stacks.entry(edge.tid).or_default();
            match edge.edge {
                ImportEdge::Start => {
                    let index = records.len();
                    let parent = stack.last().map(|&p| records[p].module.clone());
                    records.push(ImportRecord {
                        module: edge.module.clone(),
                        parent,
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
                    });
                    start_ns_of.push(edge.ts_ns);
                    end_ns_of.push(end_ns.max(edge.ts_ns));
                    stack.push(index);
                    timelines
                        .entry(edge.tid)
                        .or_default()
                        .push((edge.ts_ns, Some(index)));
                }
                ImportEdge::End => {
                    // Pop to the matching start; a lost start leaves the stack alone.
                    let Some(pos) = stack
                        .iter()
                        .rposition(|&i| records[i].module == edge.module)
                    else {
                        continue;
                    };
                    let popped: Vec<usize> = stack.drain(pos..).collect();
                    for &i in popped.iter().rev() {
                        end_ns_of[i] = edge.ts_ns.max(start_ns_of[i]);
                    }
                    let index = popped[0];
                    records[index].failed = edge.failed;
                    timelines
                        .entry(edge.tid)
                        .or_default()
                        .push((edge.ts_ns, stack.last().copied()));
                }
            }
        }

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
        Self { records, timelines }
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
}
