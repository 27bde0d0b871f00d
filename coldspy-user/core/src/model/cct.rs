//! Builds the calling-context tree from stacks (outermost frame at the root).

use crate::model::profile::CctNode;
use std::collections::HashMap;

/// An arena of CCT nodes, grown one stack at a time, then frozen into [`CctNode`]s.
#[derive(Debug)]
pub struct CctBuilder {
    nodes: Vec<ArenaNode>,
}

#[derive(Debug, Default)]
struct ArenaNode {
    frame: Option<usize>,
    self_samples: u64,
    total: u64,
    import_self: u64,
    import_total: u64,
    children: HashMap<usize, usize>,
    child_order: Vec<usize>,
}

impl Default for CctBuilder {
    fn default() -> Self {
        Self {
            nodes: vec![ArenaNode::default()],
        }
    }
}

impl CctBuilder {
    /// Adds one sample; `stack` is innermost first (frame indices).
    pub fn add(&mut self, stack_innermost_first: &[usize], during_import: bool) {
        self.add_n(stack_innermost_first, during_import, 1);
    }

    /// Adds `count` samples of one stack (innermost first, frame indices).
    pub fn add_n(&mut self, stack_innermost_first: &[usize], during_import: bool, count: u64) {
        let mut node = 0;
        self.bump(node, false, during_import, count);
        for (depth, &frame) in stack_innermost_first.iter().rev().enumerate() {
            let next = match self.nodes[node].children.get(&frame) {
                Some(&child) => child,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(ArenaNode {
                        frame: Some(frame),
                        ..ArenaNode::default()
                    });
                    self.nodes[node].children.insert(frame, child);
                    self.nodes[node].child_order.push(child);
                    child
                }
            };
            node = next;
            let innermost = depth + 1 == stack_innermost_first.len();
            self.bump(node, innermost, during_import, count);
        }
        if stack_innermost_first.is_empty() {
            self.nodes[0].self_samples += count;
            if during_import {
                self.nodes[0].import_self += count;
            }
        }
    }

    fn bump(&mut self, node: usize, innermost: bool, during_import: bool, count: u64) {
        let n = &mut self.nodes[node];
        n.total += count;
        if during_import {
            n.import_total += count;
        }
        if innermost {
            n.self_samples += count;
            if during_import {
                n.import_self += count;
            }
        }
    }

    /// The tree, children sorted by total samples (largest first).
    pub fn finish(self) -> CctNode {
        fn freeze(nodes: &[ArenaNode], index: usize) -> CctNode {
            let n = &nodes[index];
            let mut children: Vec<CctNode> =
                n.child_order.iter().map(|&c| freeze(nodes, c)).collect();
            children.sort_by(|a, b| b.total.cmp(&a.total).then(a.frame.cmp(&b.frame)));
            CctNode {
                frame: n.frame,
                self_samples: n.self_samples,
                total: n.total,
                import_self: n.import_self,
                import_total: n.import_total,
                children,
            }
        }
        freeze(&self.nodes, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_self_follow_the_stacks() {
        let mut b = CctBuilder::default();
        b.add(&[2, 1, 0], false); // 0 -> 1 -> 2
        b.add(&[2, 1, 0], true);
        b.add(&[1, 0], false);
        b.add(&[3], false);
        let root = b.finish();
        assert_eq!(root.total, 4);
        assert_eq!(root.children.len(), 2);
        let n0 = &root.children[0];
        assert_eq!((n0.frame, n0.total, n0.self_samples), (Some(0), 3, 0));
        let n1 = &n0.children[0];
        assert_eq!((n1.total, n1.self_samples, n1.import_total), (3, 1, 1));
        let n2 = &n1.children[0];
        assert_eq!((n2.self_samples, n2.import_self), (2, 1));
    }
}
