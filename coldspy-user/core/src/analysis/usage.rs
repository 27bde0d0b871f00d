//! What the application used: per dotted module prefix, the samples of the
//! application's own work (run time, and its module-level code at init) in
//! which a frame of that module ran, and the runner's exact first-execution
//! record when there is one.
//!
//! A sample is the application's when the innermost module body on its stack
//! (`<module>` frame) is first-party or the runner, or when it has none: the
//! import of a library (its module body running, or the import machinery
//! finding it) is import work, not use. Of such a sample, the frames called
//! from that body are use: `handler → markdown.markdown` uses `markdown`,
//! `app.<module> → boto3.client` uses `boto3` at init.

use super::origin::{self, Origin};
use crate::model::modules::is_shared_library;
use crate::model::profile::{CctNode, Frame, Profile};
use std::collections::{HashMap, HashSet};

/// Use of modules, by dotted prefix.
#[derive(Debug, Default)]
pub struct Usage {
    /// Samples of the application's own work (the `N` of the evidence).
    pub app_samples: u64,
    /// Of those, per dotted prefix (`boto3`, `boto3.dynamodb`, …).
    by_prefix: HashMap<String, u64>,
    /// Exact first-execution data: module → first invocation that ran its
    /// code (0 = none); `None` when the recording had no hook.
    exact: Option<HashMap<String, u64>>,
    /// Extension modules (a `.so` file): the hook sees their C functions
    /// only under the `__module__` they declare, often the package's
    /// (`igraph.Graph`'s methods are `igraph`'s, their code `igraph._igraph`'s),
    /// so "none of its code ran" cannot be said of them.
    extensions: HashSet<String>,
    /// Invocations, for the wording of exact evidence.
    pub invocations: u64,
    /// Per prefix: samples per calling frame (the frame just outside it).
    callers: HashMap<String, HashMap<usize, u64>>,
    /// Modules the handler module's top-level code names (`init_use`).
    init_named: HashSet<String>,
    /// Modules whose code was on the stack of a connection made at init.
    ran_at_init: HashSet<String>,
    /// Modules a function body of the handler module names, and where
    /// (`code_use`: `function:line`).
    code_named: HashMap<String, String>,
}

impl Usage {
    /// Computes the use of every module of a profile.
    pub fn build(profile: &Profile) -> Self {
        let frames = &profile.cct.frames;
        let info: Vec<FrameInfo> = frames.iter().map(FrameInfo::of).collect();
        let mut usage = Usage {
            invocations: profile.stats.exec_count,
            ..Usage::default()
        };
        let mut path = Vec::new();
        usage.walk(&profile.cct.root, &info, &mut path);
        let exact: HashMap<String, u64> = profile
            .modules
            .iter()
            .filter_map(|m| m.exact_use.map(|k| (m.name.clone(), k)))
            .collect();
        if !exact.is_empty() {
            usage.exact = Some(exact);
        }
        usage.extensions = profile
            .modules
            .iter()
            .filter(|m| m.file.as_deref().is_some_and(is_shared_library))
            .map(|m| m.name.clone())
            .collect();
        usage.init_named = profile
            .modules
            .iter()
            .filter(|m| m.init_use)
            .map(|m| m.name.clone())
            .collect();
        usage.ran_at_init = profile
            .connects
            .iter()
            .filter(|c| c.at_init)
            .flat_map(|c| c.modules.iter().cloned())
            .collect();
        usage.code_named = profile
            .modules
            .iter()
            .filter_map(|m| Some((m.name.clone(), m.code_use.clone()?)))
            .collect();
        usage
    }

    /// Where a function body of the handler module names `prefix` itself
    /// (`to_xlsx:26`); a name of the package says nothing of its other
    /// sub-modules, and a sub-module named says nothing of the package.
    pub fn code_named(&self, prefix: &str) -> Option<&str> {
        self.code_named.get(prefix).map(String::as_str)
    }

    /// Whether the handler module's top-level code names `prefix` or a
    /// sub-module of it (a package used at init says nothing of its other
    /// sub-modules: `boto3.client()` does not use `boto3.dynamodb`).
    pub fn init_named(&self, prefix: &str) -> bool {
        self.init_named.iter().any(|m| origin::is_within(m, prefix))
    }

    /// Whether code of `prefix` (or a sub-module) was on the stack of a
    /// network connection made at init: it ran then.
    pub fn ran_at_init(&self, prefix: &str) -> bool {
        self.ran_at_init
            .iter()
            .any(|m| origin::is_within(m, prefix))
    }

    /// Application samples in which code of `prefix` (or a sub-module) ran.
    pub fn sampled(&self, prefix: &str) -> u64 {
        self.by_prefix.get(prefix).copied().unwrap_or(0)
    }

    /// Exact use of `prefix` and its sub-modules: the first invocation in
    /// which any of their code ran, `Some(0)` when none did, `None` without
    /// exact data, or when every module of `prefix` the hook knows is an
    /// extension module (whose code it cannot see run).
    pub fn exact(&self, prefix: &str) -> Option<u64> {
        let exact = self.exact.as_ref()?;
        let within: Vec<(&String, u64)> = exact
            .iter()
            .filter(|(m, _)| origin::is_within(m, prefix))
            .map(|(m, &k)| (m, k))
            .collect();
        if let Some(first) = within.iter().map(|&(_, k)| k).filter(|&k| k > 0).min() {
            return Some(first);
        }
        let blind = !within.is_empty() && within.iter().all(|(m, _)| self.extensions.contains(*m));
        (!blind).then_some(0)
    }

    /// The frame that called into `prefix` in most samples (ties: the lowest index).
    pub fn top_caller(&self, prefix: &str) -> Option<usize> {
        self.callers
            .get(prefix)?
            .iter()
            .max_by_key(|(&frame, &n)| (n, std::cmp::Reverse(frame)))
            .map(|(&frame, _)| frame)
    }

    /// Whether the recording carries exact first-execution data.
    pub fn has_exact(&self) -> bool {
        self.exact.is_some()
    }

    fn walk(&mut self, node: &CctNode, info: &[FrameInfo], path: &mut Vec<usize>) {
        if let Some(frame) = node.frame.filter(|&f| f < info.len()) {
            path.push(frame);
        }
        if node.self_samples > 0 {
            self.count(node, info, path);
        }
        for child in &node.children {
            self.walk(child, info, path);
        }
        if node.frame.is_some_and(|f| f < info.len()) {
            path.pop();
        }
    }

    fn count(&mut self, node: &CctNode, info: &[FrameInfo], path: &[usize]) {
        // Native code with no Python frame above it is not the application's
        // work: a package's deallocators at interpreter shutdown, a worker
        // thread without the GIL (its caller's thread shows the call).
        if !path.is_empty() && path.iter().all(|&f| info[f].native) {
            return;
        }
        let body = path.iter().rposition(|&f| info[f].is_module_body);
        let after = body.map_or(0, |b| b + 1);
        let app_body = body.is_none_or(|b| info[path[b]].app_body);
        let machinery = path[after..].iter().any(|&f| info[f].import_machinery);
        let import = node.import_self.min(node.self_samples);
        let runtime = node.self_samples - import;
        // Import-time samples count when the application's own module body
        // was running code (not the import machinery loading the next module).
        let samples = runtime + if app_body && !machinery { import } else { 0 };
        if samples == 0 {
            return;
        }
        self.app_samples += samples;
        let mut seen: HashSet<&str> = HashSet::new();
        for (j, &f) in path.iter().enumerate().skip(after) {
            for prefix in &info[f].prefixes {
                if seen.insert(prefix) {
                    *self.by_prefix.entry(prefix.clone()).or_default() += samples;
                    if let Some(&caller) = j.checked_sub(1).and_then(|c| path.get(c)) {
                        *self
                            .callers
                            .entry(prefix.clone())
                            .or_default()
                            .entry(caller)
                            .or_default() += samples;
                    }
                }
            }
        }
    }
}

struct FrameInfo {
    /// A package's native code (the sampler's `<native>` leaf).
    native: bool,
    is_module_body: bool,
    app_body: bool,
    import_machinery: bool,
    prefixes: Vec<String>,
}

impl FrameInfo {
    fn of(frame: &Frame) -> Self {
        let prefixes = frame
            .module
            .as_deref()
            .map(|m| {
                let parts: Vec<&str> = m.split('.').collect();
                (1..=parts.len()).map(|n| parts[..n].join(".")).collect()
            })
            .unwrap_or_default();
        FrameInfo {
            native: frame.function == crate::model::modules::NATIVE_FUNCTION,
            is_module_body: frame.function == "<module>",
            app_body: matches!(
                origin::of_file(&frame.file),
                Origin::FirstParty | Origin::Runner
            ),
            import_machinery: origin::is_import_machinery(&frame.file),
            prefixes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::{Cct, ModuleRecord};

    fn frame(function: &str, file: &str, module: &str) -> Frame {
        Frame {
            function: function.into(),
            qualname: String::new(),
            file: file.into(),
            line: 1,
            module: Some(module.into()),
        }
    }

    fn chain(frames: &[usize], self_samples: u64, import_self: u64) -> CctNode {
        let mut node = CctNode {
            frame: Some(*frames.last().unwrap()),
            self_samples,
            total: self_samples,
            import_self,
            import_total: import_self,
            children: Vec::new(),
        };
        for &f in frames.iter().rev().skip(1) {
            node = CctNode {
                frame: Some(f),
                total: node.total,
                import_total: node.import_total,
                children: vec![node],
                ..CctNode::default()
            };
        }
        node
    }

    #[test]
    fn native_work_is_use_only_under_a_python_frame() {
        let so = "/v/lib/python3.12/site-packages/pandas/_libs/lib.cpython-312-x86_64-linux-gnu.so";
        let mut p = Profile::empty();
        p.cct = Cct {
            frames: vec![
                frame("handler", "/app/app.py", "app"),
                frame(
                    crate::model::modules::NATIVE_FUNCTION,
                    so,
                    "pandas._libs.lib",
                ),
            ],
            root: CctNode {
                children: vec![
                    // Called from the handler: pandas' use.
                    chain(&[0, 1], 4, 0),
                    // No Python frame (a deallocator at shutdown): not use.
                    chain(&[1], 7, 0),
                ],
                ..CctNode::default()
            },
        };
        let u = Usage::build(&p);
        assert_eq!(u.app_samples, 4);
        assert_eq!(u.sampled("pandas"), 4);
    }

    #[test]
    fn library_import_work_is_not_use_and_init_calls_are() {
        // importlib frozen, and run from its source (debug builds).
        for machinery in [
            "<frozen importlib._bootstrap>",
            "/usr/lib/python3.12/importlib/_bootstrap.py",
        ] {
            library_import_work_is_not_use_with(machinery);
        }
    }

    fn library_import_work_is_not_use_with(machinery: &str) {
        let sp = "/v/lib/python3.12/site-packages";
        let mut p = Profile::empty();
        p.cct = Cct {
            frames: vec![
                frame("<module>", "/app/app.py", "app"),
                frame("<module>", &format!("{sp}/boto3/__init__.py"), "boto3"),
                frame("compile", "/usr/lib/python3.12/re/__init__.py", "re"),
                frame("client", &format!("{sp}/boto3/session.py"), "boto3.session"),
                frame("_find_and_load", machinery, "importlib._bootstrap"),
            ],
            root: CctNode {
                children: vec![
                    // boto3's body calling re.compile during its import: not use.
                    chain(&[0, 1, 2], 5, 5),
                    // app's body calling boto3.client at init: use of boto3.
                    chain(&[0, 3], 3, 3),
                    // the import machinery under app's body: not use.
                    chain(&[0, 4], 2, 2),
                ],
                ..CctNode::default()
            },
        };
        let u = Usage::build(&p);
        assert_eq!(u.app_samples, 3);
        assert_eq!(u.sampled("boto3"), 3);
        assert_eq!(u.sampled("boto3.session"), 3);
        assert_eq!(u.sampled("re"), 0);
        assert_eq!(u.sampled("importlib"), 0, "{machinery}");
        assert_eq!(u.exact("boto3"), None);
    }

    #[test]
    fn exact_use_is_the_first_invocation_over_sub_modules() {
        let mut p = Profile::empty();
        let row = |name: &str, k| ModuleRecord {
            name: name.into(),
            exact_use: Some(k),
            ..ModuleRecord::default()
        };
        p.modules = vec![row("a", 0), row("a.b", 2), row("a.c", 3), row("ab", 1)];
        let u = Usage::build(&p);
        assert_eq!(u.exact("a"), Some(2));
        assert_eq!(u.exact("a.c"), Some(3));
        assert_eq!(u.exact("zzz"), Some(0));
        assert!(u.has_exact());
    }

    #[test]
    fn an_extension_module_the_hook_never_saw_has_no_exact_verdict() {
        // igraph/graph: Graph's C methods declare `igraph`, so the hook
        // credits igraph and never igraph._igraph, whose code ran.
        let sp = "/v/lib/python3.12/site-packages/igraph";
        let row = |name: &str, file: &str, k| ModuleRecord {
            name: name.into(),
            file: Some(file.into()),
            exact_use: Some(k),
            ..ModuleRecord::default()
        };
        let mut p = Profile::empty();
        p.modules = vec![
            row("igraph", &format!("{sp}/__init__.py"), 1),
            row("igraph._igraph", &format!("{sp}/_igraph.abi3.so"), 0),
            row("igraph.drawing", &format!("{sp}/drawing/__init__.py"), 0),
            row(
                "igraph.drawing._c",
                &format!("{sp}/drawing/_c.cpython-312-x86_64-linux-gnu.so"),
                0,
            ),
        ];
        let u = Usage::build(&p);
        assert_eq!(u.exact("igraph._igraph"), None);
        assert_eq!(u.exact("igraph.drawing._c"), None);
        // A package with Python code of its own: its code did not run.
        assert_eq!(u.exact("igraph.drawing"), Some(0));
        assert_eq!(u.exact("igraph"), Some(1));
    }
}
