//! The import tree as the analysis reads it: each record's parent index
//! (from the profile, or rebuilt once by depth for profiles written before
//! `parent_index` existed), its children, and the origin of each module.

use super::origin::{self, Origin};
use crate::model::profile::{ImportRecord, Profile};
use std::collections::HashMap;

/// Parent and children of every import record, and module origins.
#[derive(Debug)]
pub struct Tree<'a> {
    /// The records.
    pub records: &'a [ImportRecord],
    /// Parent index of each record (always smaller than the record's own).
    pub parent: Vec<Option<usize>>,
    /// Children of each record, in start order.
    pub children: Vec<Vec<usize>>,
    /// Origin of each record's module.
    pub origin: Vec<Origin>,
}

impl<'a> Tree<'a> {
    /// Reads the tree of a profile.
    pub fn new(profile: &'a Profile) -> Self {
        let records = profile.imports.as_slice();
        let parent = parents(records);
        let mut children = vec![Vec::new(); records.len()];
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = *p {
                children[p].push(i);
            }
        }
        let file_of: HashMap<&str, Option<&str>> = profile
            .modules
            .iter()
            .map(|m| (m.name.as_str(), m.file.as_deref()))
            .collect();
        let origin = records
            .iter()
            .map(|r| {
                origin::of_module(&r.module, file_of.get(r.module.as_str()).copied().flatten())
            })
            .collect();
        Tree {
            records,
            parent,
            children,
            origin,
        }
    }

    /// The record and all records nested in it, in start order.
    pub fn subtree(&self, root: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            out.push(i);
            stack.extend(self.children[i].iter().rev());
        }
        out
    }

    /// The origin of the file holding record `i`'s import statement.
    pub fn site_origin(&self, i: usize) -> Option<Origin> {
        self.records[i]
            .site
            .as_ref()
            .map(|s| origin::of_file(&s.file))
    }
}

/// Parent indices: the recorded ones when every nested record has a valid
/// one, else rebuilt by depth per thread (the last record one level up).
fn parents(records: &[ImportRecord]) -> Vec<Option<usize>> {
    let recorded = records
        .iter()
        .enumerate()
        .all(|(i, r)| match r.parent_index {
            Some(p) => p < i && r.depth > 0,
            None => r.depth == 0,
        });
    if recorded {
        return records.iter().map(|r| r.parent_index).collect();
    }
    let mut open: HashMap<u32, Vec<usize>> = HashMap::new();
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let levels = open.entry(r.tid).or_default();
            levels.truncate(r.depth as usize);
            let parent = if r.depth == 0 {
                None
            } else {
                levels.get(r.depth as usize - 1).copied()
            };
            if levels.len() == r.depth as usize {
                levels.push(i);
            }
            parent
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(module: &str, depth: u32, parent_index: Option<usize>) -> ImportRecord {
        ImportRecord {
            module: module.into(),
            parent: None,
            tid: 1,
            start_us: 0,
            end_us: 0,
            self_us: 0,
            cumulative_us: 0,
            depth,
            files: Vec::new(),
            site: None,
            failed: false,
            parent_index,
            via: None,
        }
    }

    #[test]
    fn old_profiles_get_parents_by_depth_and_new_ones_keep_theirs() {
        let old = [
            record("a", 0, None),
            record("b", 1, None),
            record("c", 2, None),
            record("d", 1, None),
            record("e", 0, None),
        ];
        assert_eq!(parents(&old), [None, Some(0), Some(1), Some(0), None]);
        let new = [
            record("a", 0, None),
            record("b", 1, Some(0)),
            record("c", 1, Some(0)),
        ];
        assert_eq!(parents(&new), [None, Some(0), Some(0)]);
        // A hostile index (pointing forward) is not trusted.
        let bad = [record("a", 0, None), record("b", 1, Some(7))];
        assert_eq!(parents(&bad), [None, Some(0)]);
    }
}
