//! Whole stacks from the calling-context tree, for the flat formats
//! (collapsed, speedscope, pprof): each distinct stack once, with its count.

use crate::model::profile::{CctNode, Frame, Profile};

/// A stack (frame indices, outermost first) and how many samples ended in it.
pub type WeightedStack = (Vec<usize>, u64);

/// Every stack with samples, largest first (ties in tree order).
pub fn stacks(profile: &Profile) -> Vec<WeightedStack> {
    fn walk(node: &CctNode, path: &mut Vec<usize>, out: &mut Vec<WeightedStack>) {
        if let Some(f) = node.frame {
            path.push(f);
        }
        if node.self_samples > 0 && !path.is_empty() {
            out.push((path.clone(), node.self_samples));
        }
        for child in &node.children {
            walk(child, path, out);
        }
        if node.frame.is_some() {
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(&profile.cct.root, &mut Vec::new(), &mut out);
    out.sort_by_key(|s| std::cmp::Reverse(s.1));
    out
}

/// `function (file:line)`, the label of a frame in the flat formats: one
/// line, no `;` (the collapsed format's separators), control characters
/// shown escaped.
pub fn label(frame: &Frame) -> String {
    let file = frame.file.rsplit('/').next().unwrap_or(&frame.file);
    super::escape::collapsed_frame(&format!("{} ({}:{})", frame.shown_name(), file, frame.line))
}
