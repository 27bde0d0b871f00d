//! Module bodies seen by the `PyEval_EvalCode` probe, turned into import
//! edges: which module a body's file is (the packages on disk around it),
//! whether it is top-level code, and which frame asked for it; and when
//! each body ran, to name its frames once its code object is freed.

use crate::model::import_tree::MAIN_MODULE;
use crate::model::profile::Frame;
use crate::python::elf::path_in_process;
use coldspy_common::module_exec::ModuleExecEvent;
use coldspy_core::origin::is_import_machinery;
use std::collections::HashMap;
use std::path::Path;

/// What a module body is, from its file and its callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    /// The program's top-level code: no Python caller (the interpreter ran
    /// the script), or `runpy` ran it (`python -m`).
    Main,
    /// A module: its dotted name as far as the files show it.
    Module(String),
    /// Code that is no module (`exec` of a string, generated code).
    NotModule,
}

/// Module names by (pid, file), as found on disk once.
#[derive(Debug, Default)]
pub struct ModuleNames {
    cache: HashMap<(u32, String), Option<String>>,
}

impl ModuleNames {
    /// What the body whose code comes from `file` is; `callers` are its
    /// calling frames, innermost first (`None`: unreadable).
    pub fn kind(&mut self, pid: u32, file: &str, callers: &[Option<Frame>]) -> BodyKind {
        let first = callers.iter().flatten().next();
        match first {
            None if callers.is_empty() => return BodyKind::Main,
            Some(f) if is_runpy(&f.file) => return BodyKind::Main,
            _ => {}
        }
        let key = (pid, file.to_string());
        let name = self
            .cache
            .entry(key)
            .or_insert_with(|| module_of_file(pid, file));
        match name {
            Some(name) => BodyKind::Module(name.clone()),
            None => BodyKind::NotModule,
        }
    }
}

/// The caller a body's import is charged to: the innermost frame outside
/// importlib's own machinery (`import_module`, the bootstrap, `util`'s
/// lazy loader) and outside a module's lazy `__getattr__` (PEP 562, as
/// scipy, dateutil and `lazy_loader` packages have): the statement that
/// asked for the module (`from scipy import stats`).
pub fn asking_frame(callers: &[Option<Frame>]) -> Option<usize> {
    callers.iter().position(|f| {
        f.as_ref()
            .is_some_and(|f| !is_import_machinery(&f.file) && f.function != "__getattr__")
    })
}

/// Whether `file` is `runpy` (which runs `python -m`'s main module).
fn is_runpy(file: &str) -> bool {
    file == "<frozen runpy>" || file.ends_with("/runpy.py")
}

/// The dotted module name of a source file: its stem (the directory for a
/// package's `__init__`), prefixed by each enclosing directory that is a
/// regular package (has an `__init__.py`, looked up in the process's root).
/// `<frozen NAME>` is NAME. `None` for anything else (`<string>`).
pub fn module_of_file(pid: u32, file: &str) -> Option<String> {
    if let Some(name) = file
        .strip_prefix("<frozen ")
        .and_then(|s| s.strip_suffix('>'))
    {
        // importlib's bootstrap is imported under its frozen alias.
        let name = match name {
            "importlib._bootstrap" => "_frozen_importlib",
            "importlib._bootstrap_external" => "_frozen_importlib_external",
            other => other,
        };
        return name.split('.').all(valid_name).then(|| name.to_string());
    }
    let path = Path::new(file);
    if !path.is_absolute() {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    let mut dir = path.parent()?;
    let mut parts = Vec::new();
    if stem == "__init__" {
        parts.push(dir.file_name()?.to_str()?.to_string());
        dir = dir.parent()?;
    } else {
        parts.push(stem.to_string());
    }
    while let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
        if !valid_name(name) || !path_in_process(pid, &dir.join("__init__.py")).exists() {
            break;
        }
        parts.push(name.to_string());
        dir = dir.parent()?;
    }
    parts.reverse();
    let name = parts.join(".");
    (parts.iter().all(|p| valid_name(p)) && name != MAIN_MODULE).then_some(name)
}

/// Whether `name` can be one component of a module name.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Module-body spans kept before those that ended long ago are dropped.
const MAX_SPANS: usize = 4096;

/// How long after its end a module body still names a late sample's frame
/// (samples are read within a drain period, 10 ms, of being taken).
const GRACE_NS: u64 = 5_000_000_000;

/// When each module body ran, by (process, code object), in start order:
/// a module's code object lives only while its body runs (and the next
/// module's often reuses its address), so a sample read after a short
/// body ended finds it freed. [`BodySpans::frame`] still names that frame.
#[derive(Debug, Default)]
pub struct BodySpans {
    spans: HashMap<(u32, u64), Vec<Span>>,
    /// The code object of each body running, per thread.
    running: HashMap<u32, Vec<u64>>,
    /// Spans kept, and how many make the old ones go.
    count: usize,
    limit: usize,
}

#[derive(Debug, Clone)]
struct Span {
    file: String,
    start_ns: u64,
    /// `None` while it runs.
    end_ns: Option<u64>,
}

impl BodySpans {
    /// A body start edge (`file` its `co_filename`).
    pub fn started(&mut self, event: &ModuleExecEvent, file: String) {
        self.spans
            .entry((event.pid, event.code_addr))
            .or_default()
            .push(Span {
                file,
                start_ns: event.ktime_ns,
                end_ns: None,
            });
        self.running
            .entry(event.tid)
            .or_default()
            .push(event.code_addr);
        self.count += 1;
        if self.count > self.limit.max(MAX_SPANS) {
            // A long recording of a program that runs code with exec():
            // memory stays bounded by the spans of the last seconds.
            let horizon = event.ktime_ns.saturating_sub(GRACE_NS);
            self.spans.retain(|_, list| {
                list.retain(|s| s.end_ns.is_none_or(|end| end >= horizon));
                !list.is_empty()
            });
            self.count = self.spans.values().map(Vec::len).sum();
            self.limit = 2 * self.count;
        }
    }

    /// A body end edge: the innermost body running on its thread ended.
    pub fn ended(&mut self, event: &ModuleExecEvent) {
        let code = self.running.get_mut(&event.tid).and_then(Vec::pop);
        let span = code
            .and_then(|code| self.spans.get_mut(&(event.pid, code)))
            .and_then(|list| list.last_mut());
        if let Some(span) = span {
            span.end_ns = Some(event.ktime_ns);
        }
    }

    /// The frame of code object `code` of `pid` sampled at `ts_ns`, if a
    /// module body ran it then: `<module>` of its file, line 0 (the line
    /// table went with the object).
    pub fn frame(&self, pid: u32, code: u64, ts_ns: u64) -> Option<Frame> {
        let span = self
            .spans
            .get(&(pid, code))?
            .iter()
            .rev()
            .find(|s| ts_ns >= s.start_ns && s.end_ns.is_none_or(|end| ts_ns <= end))?;
        Some(Frame {
            function: "<module>".to_string(),
            qualname: "<module>".to_string(),
            file: span.file.clone(),
            line: 0,
            module: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coldspy_common::module_exec::{EVENT_KIND_MODULE_EXEC_END, EVENT_KIND_MODULE_EXEC_START};

    /// A module-body edge of pid 7, thread 7, code object `code`.
    fn body_edge(kind: u32, code: u64, ts_ns: u64) -> ModuleExecEvent {
        ModuleExecEvent {
            kind,
            pid: 7,
            tid: 7,
            depth: 0,
            ktime_ns: ts_ns,
            code_addr: code,
            path_len: 0,
            caller_count: 0,
            callers: [Default::default(); coldspy_common::module_exec::MODULE_EXEC_CALLERS],
            path: [0; coldspy_common::limits::MAX_PATH_BYTES],
        }
    }

    #[test]
    fn a_freed_body_names_only_the_samples_of_its_own_span() {
        let mut spans = BodySpans::default();
        // Two bodies one after the other at the same address.
        for (start, end, file) in [(100, 200, "/a.py"), (300, 400, "/b.py")] {
            spans.started(
                &body_edge(EVENT_KIND_MODULE_EXEC_START, 0x1000, start),
                file.into(),
            );
            spans.ended(&body_edge(EVENT_KIND_MODULE_EXEC_END, 1, end));
        }
        let file_at = |ts| spans.frame(7, 0x1000, ts).map(|f| f.file);
        assert_eq!(file_at(150).as_deref(), Some("/a.py"));
        assert_eq!(file_at(350).as_deref(), Some("/b.py"));
        assert_eq!(file_at(250), None, "between the two bodies");
        assert_eq!(file_at(450), None, "after both");
        assert_eq!(spans.frame(8, 0x1000, 150), None, "another process");
    }

    #[test]
    fn spans_stay_bounded_in_a_long_recording() {
        let mut spans = BodySpans::default();
        // exec() of one code object every ms for 100 s.
        for i in 0..100_000u64 {
            let ts = i * 1_000_000;
            spans.started(
                &body_edge(EVENT_KIND_MODULE_EXEC_START, 0x2000, ts),
                "<string>".into(),
            );
            spans.ended(&body_edge(EVENT_KIND_MODULE_EXEC_END, 1, ts + 500));
        }
        // The last 5 s (5,000 spans) at most, with the doubling slack.
        let kept: usize = spans.spans.values().map(Vec::len).sum();
        assert!(kept <= 2 * 5_001 + MAX_SPANS, "{kept} spans kept");
        let newest = 99_999 * 1_000_000 + 100;
        assert!(
            spans.frame(7, 0x2000, newest).is_some(),
            "the newest span is kept"
        );
    }

    fn frame(file: &str) -> Option<Frame> {
        Some(Frame {
            function: "f".into(),
            qualname: String::new(),
            file: file.into(),
            line: 1,
            module: None,
        })
    }

    #[test]
    fn files_name_their_packages() {
        let root = std::env::temp_dir().join(format!("coldspy-modname-{}", std::process::id()));
        let pkg = root.join("site/pkg/sub");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(root.join("site/pkg/__init__.py"), "").unwrap();
        std::fs::write(pkg.join("__init__.py"), "").unwrap();
        let me = std::process::id();
        let name = |p: &Path| module_of_file(me, p.to_str().unwrap());
        assert_eq!(name(&pkg.join("__init__.py")).as_deref(), Some("pkg.sub"));
        assert_eq!(name(&pkg.join("mod.py")).as_deref(), Some("pkg.sub.mod"));
        assert_eq!(name(&root.join("site/app.py")).as_deref(), Some("app"));
        assert_eq!(module_of_file(me, "<frozen os>").as_deref(), Some("os"));
        assert_eq!(module_of_file(me, "<string>"), None);
        assert_eq!(module_of_file(me, "relative.py"), None);
        assert_eq!(name(&root.join("site/my-app.py")), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn top_level_code_and_the_asking_frame() {
        let mut names = ModuleNames::default();
        assert_eq!(names.kind(1, "/x/app.py", &[]), BodyKind::Main);
        let runpy = [frame("<frozen runpy>"), frame("<frozen runpy>")];
        assert_eq!(names.kind(1, "/x/__main__.py", &runpy), BodyKind::Main);
        let lambda = [
            frame("<frozen importlib._bootstrap>"),
            frame("<frozen importlib._bootstrap_external>"),
            frame("/usr/lib/python3.12/importlib/__init__.py"),
            frame("/venv/awslambdaric/bootstrap.py"),
        ];
        assert_eq!(asking_frame(&lambda), Some(3));
        let mut lazy = frame("/venv/scipy/__init__.py");
        lazy.as_mut().unwrap().function = "__getattr__".into();
        let from_import = [
            frame("<frozen importlib._bootstrap>"),
            frame("/usr/lib/python3.12/importlib/__init__.py"),
            lazy,
            frame("<frozen importlib._bootstrap>"),
            frame("/app/app.py"),
        ];
        assert_eq!(asking_frame(&from_import), Some(4));
        assert_eq!(names.kind(1, "<string>", &lambda), BodyKind::NotModule);
        assert_eq!(
            asking_frame(&[None, frame("<frozen importlib._bootstrap>")]),
            None
        );
    }
}
