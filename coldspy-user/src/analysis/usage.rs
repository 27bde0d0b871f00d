//! How much each module is used: inclusive sample counts by dotted prefix
//! ("any frame of the sample belongs to the module or a sub-module"), and the
//! functions outside each top-level package that call into it at run time.

use crate::model::profile::{Caller, Cct, CctNode};
use std::collections::HashMap;

/// Inclusive sample counts per dotted module prefix, from one walk of the CCT.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    /// Non-import samples with a frame in the prefix (`botocore` covers `botocore.client`).
    pub run_time_by_dot: HashMap<String, u64>,
    /// All samples (import samples included) with a frame in the prefix.
    pub all_by_dot: HashMap<String, u64>,
    /// Per top-level package: run-time samples by calling frame outside it.
    pub callers: HashMap<String, Vec<Caller>>,
    /// Per top-level package: import samples in which it was entered through
    /// a function call rather than its own `<module>` code, i.e. used by
    /// another module's initialization (not imported).
    pub init_use: HashMap<String, u64>,
    /// Non-import samples of the whole profile.
    pub run_time_samples: u64,
    /// All samples of the whole profile.
    pub all_samples: u64,
}

impl Usage {
    /// Walks the CCT once. A node adds its subtree's samples to each prefix
    /// that its frame introduces on the path, so no sample counts twice.
    pub fn of(cct: &Cct) -> Self {
        // Intern the prefixes of every frame's module.
        let mut prefix_ids: HashMap<String, usize> = HashMap::new();
        let mut prefix_names: Vec<String> = Vec::new();
        let frame_prefixes: Vec<Vec<usize>> = cct
            .frames
            .iter()
            .map(|frame| {
                let Some(module) = frame.module.as_deref() else {
                    return Vec::new();
                };
                dotted_prefixes(module)
                    .map(|prefix| {
                        *prefix_ids.entry(prefix.to_string()).or_insert_with(|| {
                            prefix_names.push(prefix.to_string());
                            prefix_names.len() - 1
                        })
                    })
                    .collect()
            })
            .collect();

        let mut on_path = vec![0u32; prefix_names.len()];
        let mut run_time = vec![0u64; prefix_names.len()];
        let mut all = vec![0u64; prefix_names.len()];
        let mut callers: HashMap<(usize, usize), u64> = HashMap::new();
        let mut init_use = vec![0u64; prefix_names.len()];

        enum Step<'a> {
            Enter(&'a CctNode, Option<usize>),
            Leave(&'a CctNode),
        }
        let mut todo: Vec<Step> = cct
            .root
            .children
            .iter()
            .rev()
            .map(|c| Step::Enter(c, None))
            .collect();
        while let Some(step) = todo.pop() {
            match step {
                Step::Enter(node, caller_frame) => {
                    let node_run_time = node.total - node.import_total;
                    if let Some(frame) = node.frame {
                        for (i, &prefix) in frame_prefixes[frame].iter().enumerate() {
                            if on_path[prefix] == 0 {
                                run_time[prefix] += node_run_time;
                                all[prefix] += node.total;
                                // The top-level package is entered here: remember who called it.
                                if i == 0 && node_run_time > 0 {
                                    if let Some(caller) = caller_frame {
                                        *callers.entry((prefix, caller)).or_default() +=
                                            node_run_time;
                                    }
                                }
                                // Entered through a call, not its own `<module>`: used at init.
                                if i == 0 && cct.frames[frame].function != "<module>" {
                                    init_use[prefix] += node.import_total;
                                }
                            }
                            on_path[prefix] += 1;
                        }
                    }
                    todo.push(Step::Leave(node));
                    todo.extend(
                        node.children
                            .iter()
                            .rev()
                            .map(|c| Step::Enter(c, node.frame)),
                    );
                }
                Step::Leave(node) => {
                    if let Some(frame) = node.frame {
                        for &prefix in &frame_prefixes[frame] {
                            on_path[prefix] -= 1;
                        }
                    }
                }
            }
        }

        let mut by_package: HashMap<String, Vec<Caller>> = HashMap::new();
        for ((prefix, frame), samples) in callers {
            let f = &cct.frames[frame];
            by_package
                .entry(prefix_names[prefix].clone())
                .or_default()
                .push(Caller {
                    function: f.function.clone(),
                    file: f.file.clone(),
                    line: f.line,
                    samples,
                });
        }
        for list in by_package.values_mut() {
            list.sort_by(|a, b| {
                b.samples.cmp(&a.samples).then_with(|| {
                    (&a.file, a.line, &a.function).cmp(&(&b.file, b.line, &b.function))
                })
            });
        }
        let names = |counts: Vec<u64>| -> HashMap<String, u64> {
            prefix_names
                .iter()
                .cloned()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        Self {
            run_time_by_dot: names(run_time),
            all_by_dot: names(all),
            callers: by_package,
            init_use: names(init_use),
            run_time_samples: cct.root.total - cct.root.import_total,
            all_samples: cct.root.total,
        }
    }
}

/// `a`, `a.b`, `a.b.c` for `a.b.c`: the module and every package above it.
pub fn dotted_prefixes(module: &str) -> impl Iterator<Item = &str> {
    module
        .match_indices('.')
        .map(|(i, _)| &module[..i])
        .chain(std::iter::once(module))
}

/// The top-level package of a dotted module name.
pub fn top_level(module: &str) -> &str {
    module.split('.').next().unwrap_or(module)
}

/// Whether `module` is `name` or one of its sub-modules.
pub fn is_under(module: &str, name: &str) -> bool {
    module
        .strip_prefix(name)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cct::CctBuilder;
    use crate::model::profile::Frame;

    fn frame(function: &str, module: Option<&str>) -> Frame {
        Frame {
            function: function.into(),
            file: format!("/{function}.py"),
            line: 1,
            module: module.map(str::to_string),
        }
    }

    #[test]
    fn inclusive_counts_do_not_double_count_recursion_and_skip_import_samples() {
        let frames = vec![
            frame("main", None),
            frame("render", Some("md.core")),
            frame("inline", Some("md.inline")),
            frame("<module>", Some("md")),
            frame("<module>", Some("app")),
        ];
        let mut b = CctBuilder::default();
        b.add(&[2, 1, 0], false); // main -> md.core -> md.inline
        b.add(&[1, 2, 1, 0], false); // md.core -> md.inline -> md.core (recursion)
        b.add(&[0], false);
        b.add(&[3, 0], true); // during import
        b.add(&[1, 3, 0], true); // md's own import calling its own code: not use
        b.add(&[1, 4, 0], true); // md called while `app` is imported: init-time use
        let cct = Cct {
            frames,
            root: b.finish(),
        };
        let usage = Usage::of(&cct);
        assert_eq!(usage.run_time_by_dot["md"], 2);
        assert_eq!(usage.run_time_by_dot["md.core"], 2);
        assert_eq!(usage.run_time_by_dot["md.inline"], 2);
        assert_eq!(usage.all_by_dot["md"], 5);
        assert_eq!((usage.run_time_samples, usage.all_samples), (3, 6));
        assert_eq!(
            usage.init_use.get("md"),
            Some(&1),
            "only the call from app's import is use"
        );
        let callers = &usage.callers["md"];
        assert_eq!(callers.len(), 1);
        assert_eq!(
            (callers[0].function.as_str(), callers[0].samples),
            ("main", 2)
        );
    }

    #[test]
    fn prefixes_and_membership() {
        assert_eq!(
            dotted_prefixes("a.b.c").collect::<Vec<_>>(),
            ["a", "a.b", "a.b.c"]
        );
        assert!(is_under("botocore.client", "botocore"));
        assert!(!is_under("botocorex", "botocore"));
        assert_eq!(top_level("x.y"), "x");
    }
}
