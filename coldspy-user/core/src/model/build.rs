//! Turns a [`Trace`] into a [`Profile`]: the import tree, files per import,
//! import samples, the CCT, per-module rows and the phases.

use crate::model::cct::CctBuilder;
use crate::model::import_tree::{pull_body_starts, ImportTree};
use crate::model::modules::{ModuleFiles, NATIVE_FUNCTION};
use crate::model::phases;
use crate::model::profile::{
    Cct, ConnectRecord, FileOpen, Frame, ImportFile, ImportSite, InvocationRecord, ModuleRecord,
    Profile, Stats,
};
use crate::model::trace::Trace;
use crate::origin::is_import_machinery;
use std::collections::HashMap;

/// Builds the profile of a trace. Pure: the same trace gives the same profile.
pub fn build_profile(trace: &Trace) -> Profile {
    let edges = pull_body_starts(&trace.imports, &trace.opens);
    let mut tree = ImportTree::build(&edges, trace.start_ns, trace.end_ns);
    attach_sites(trace, &mut tree);
    let files = attribute_files(trace, &mut tree);
    let module_files = ModuleFiles::from_imports(&tree.records);
    let mut frames = trace.frames.clone();
    for frame in &mut frames {
        if frame.module.is_none() {
            frame.module = module_files.module_of(&frame.file);
        }
    }
    let counted = count_samples(trace, &tree, &frames);
    let mut modules = module_rows(&tree, &module_files, &counted);
    apply_exact_use(trace, &mut modules);
    apply_init_use(trace, &mut modules);
    let mut stats = counted.stats;
    let duration_us = trace.end_ns.saturating_sub(trace.start_ns) / 1000;
    let phases = phases::phases(trace, &tree, &counted.run_time_samples, duration_us);
    let (init_us, exec_us, exec_count) = (phases.init_us, phases.exec_us, phases.exec_count);
    stats.init_us = init_us;
    stats.exec_us = exec_us;
    stats.exec_count = exec_count;
    (stats.init_samples, stats.exec_samples) = phases::phase_samples(trace, &phases);
    stats.file_count = files.len() as u64;
    stats.unsymbolized_frames = trace.unsymbolized_frames;
    stats.read_failures = trace.read_failures.clone();

    let mut profile = Profile::empty();
    profile.meta = trace.meta.clone();
    profile.meta.duration_us = duration_us;
    profile.meta.clock_start_ns = trace.start_ns;
    profile.invocations = phases
        .invocations
        .iter()
        .map(|i| InvocationRecord {
            start_us: i.start_ns.saturating_sub(trace.start_ns) / 1000,
            duration_us: (i.end_ns - i.start_ns) / 1000,
            tid: i.tid,
        })
        .collect();
    profile.meta.phase_rule = phases.rule;
    profile.stats = stats;
    profile.files = files;
    profile.connects = connect_records(trace, &frames, init_us);
    profile.cct = Cct {
        frames,
        root: counted.cct.finish(),
    };
    profile.modules = modules;
    profile.imports = tree.records;
    crate::model::code_use::apply(trace, &mut profile);
    profile
}

/// The connections, each with the program's line that made it (its
/// innermost first-party frame), what that line called, and whether it came
/// before `init_us`.
fn connect_records(trace: &Trace, frames: &[Frame], init_us: u64) -> Vec<ConnectRecord> {
    use crate::origin::{of_file, Origin};
    trace
        .connects
        .iter()
        .map(|c| {
            let stack: Vec<&Frame> = c
                .stack
                .iter()
                .filter_map(|&i| frames.get(i as usize))
                .collect();
            let own = stack
                .iter()
                .position(|f| of_file(&f.file) == Origin::FirstParty);
            let site = own.map(|k| ImportSite {
                file: stack[k].file.clone(),
                line: stack[k].line,
                function: stack[k].function.clone(),
                statement: None,
            });
            // The frame the program's line called, then the innermost one.
            let mut calls = Vec::new();
            if let Some(called) = own.and_then(|k| k.checked_sub(1)) {
                calls.push(stack[called].dotted_name());
            }
            if let Some(inner) = stack.first().filter(|_| own != Some(0)) {
                let inner = inner.dotted_name();
                if calls.last() != Some(&inner) {
                    calls.push(inner);
                }
            }
            let ts_us = c.ts_ns.saturating_sub(trace.start_ns) / 1000;
            let mut modules: Vec<String> = stack.iter().filter_map(|f| f.module.clone()).collect();
            modules.sort();
            modules.dedup();
            ConnectRecord {
                ts_us,
                tid: c.tid,
                address: c.address.clone(),
                site,
                calls,
                modules,
                at_init: ts_us < init_us,
            }
        })
        .collect()
}

/// Import sites: the frame each record's start edge names (the import
/// statement, or the caller of a body that stands for an import). When that
/// frame is importlib's own (`from . import lib` runs the import from
/// `_handle_fromlist`), the frame its body's start saw ask for it instead.
fn attach_sites(trace: &Trace, tree: &mut ImportTree) {
    let frame_of = |edge: usize| {
        trace.imports[edge]
            .site
            .and_then(|i| trace.frames.get(i as usize))
    };
    // Edges keep their index when their time moves (pull_body_starts).
    for (i, record) in tree.records.iter_mut().enumerate() {
        let own = frame_of(tree.start_edges[i]);
        let asked = tree.body_edges[i].and_then(frame_of);
        let frame = match own {
            Some(f) if is_import_machinery(&f.file) => asked.or(own),
            _ => own.or(asked),
        };
        record.site = frame.map(|f| ImportSite {
            file: f.file.clone(),
            line: f.line,
            function: f.shown_name().to_string(),
            statement: None,
        });
    }
}

/// Files, each attributed to the innermost import on its thread.
fn attribute_files(trace: &Trace, tree: &mut ImportTree) -> Vec<FileOpen> {
    let mut files = Vec::with_capacity(trace.opens.len());
    for open in &trace.opens {
        let import = tree.innermost_at(open.tid, open.enter_ns);
        let ok = open.ret >= 0;
        let duration_us = open.exit_ns.saturating_sub(open.enter_ns) / 1000;
        if let Some(i) = import {
            tree.records[i].files.push(ImportFile {
                path: open.path.clone(),
                duration_us,
                ok,
            });
        }
        files.push(FileOpen {
            path: open.path.clone(),
            tid: open.tid,
            ts_us: open.enter_ns.saturating_sub(trace.start_ns) / 1000,
            duration_us,
            ok,
            errno: (!ok).then_some((-open.ret) as i32),
            module: import.map(|i| tree.records[i].module.clone()),
        });
    }
    files
}

/// What one pass over the samples counts.
#[derive(Default)]
struct SampleCounts {
    cct: CctBuilder,
    stats: Stats,
    /// Samples outside imports, by the module of their innermost frame.
    own_samples: HashMap<String, u64>,
    /// Samples inside each import record (by index).
    import_samples: HashMap<usize, u64>,
    /// The main thread's non-import samples in the program's own code, in
    /// time order: (time in ns, samples).
    run_time_samples: Vec<(u64, u64)>,
}

/// Samples: CCT, import samples, per-module counts. Each group is of
/// samples that no event tells apart (see [`crate::model::samples`]): its
/// earliest time stands for all of them.
fn count_samples(trace: &Trace, tree: &ImportTree, frames: &[Frame]) -> SampleCounts {
    let mut counted = SampleCounts::default();
    let main_tid = trace.meta.pid;
    let mut stack: Vec<usize> = Vec::new();
    for group in trace.sample_groups() {
        let n = group.count;
        if group.stack.is_empty() {
            counted.stats.native_samples += n;
            continue;
        }
        stack.clear();
        stack.extend(group.stack.iter().map(|&i| i as usize));
        if stack.len() == 1 && frames[stack[0]].function == NATIVE_FUNCTION {
            // No Python frame, but a package's native library ran: in the
            // CCT as that package's work, counted as a native sample.
            counted.stats.native_samples += n;
            counted.cct.add_n(&stack, false, n);
            if let Some(module) = frames[stack[0]].module.clone() {
                *counted.own_samples.entry(module).or_default() += n;
            }
            continue;
        }
        counted.stats.samples += n;
        if group.truncated {
            counted.stats.truncated_samples += n;
        }
        let import = tree.innermost_at(group.tid, group.first_ns);
        counted.cct.add_n(&stack, import.is_some(), n);
        match import {
            Some(i) => {
                counted.stats.import_samples += n;
                *counted.import_samples.entry(i).or_default() += n;
            }
            None => {
                if let Some(module) = frames[stack[0]].module.clone() {
                    *counted.own_samples.entry(module).or_default() += n;
                }
                let program_work = stack.iter().any(|&f| phases::is_user_code(&frames[f].file));
                if group.tid == main_tid && program_work {
                    counted.run_time_samples.push((group.first_ns, n));
                }
            }
        }
    }
    counted.run_time_samples.sort_unstable();
    counted
}

/// One row per module: its first load, with the samples of all its loads.
fn module_rows(
    tree: &ImportTree,
    module_files: &ModuleFiles,
    counted: &SampleCounts,
) -> Vec<ModuleRecord> {
    let mut modules: Vec<ModuleRecord> = Vec::new();
    let mut row_of: HashMap<&str, usize> = HashMap::new();
    for (i, record) in tree.records.iter().enumerate() {
        let samples_in_import = counted.import_samples.get(&i).copied().unwrap_or(0);
        if let Some(&row) = row_of.get(record.module.as_str()) {
            modules[row].import_samples += samples_in_import;
            continue;
        }
        row_of.insert(record.module.as_str(), modules.len());
        modules.push(ModuleRecord {
            name: record.module.clone(),
            file: module_files.file_of(&record.module).map(str::to_string),
            parent: record.parent.clone(),
            self_us: record.self_us,
            cumulative_us: record.cumulative_us,
            samples: counted
                .own_samples
                .get(&record.module)
                .copied()
                .unwrap_or(0),
            import_samples: samples_in_import,
            files_opened: record.files.len() as u64,
            ..ModuleRecord::default()
        });
    }
    modules
}

/// The runner's `exact_use` marks (one after each invocation, naming the
/// modules whose code first ran in it) into `modules[].exact_use`: the
/// invocation, or 0 for a module none of whose code ran. Without such marks
/// the field stays absent.
fn apply_exact_use(trace: &Trace, modules: &mut [ModuleRecord]) {
    let marks: Vec<&str> = trace
        .phases
        .iter()
        .filter(|m| m.name == "exact_use")
        .map(|m| m.detail.as_str())
        .collect();
    if marks.is_empty() {
        return;
    }
    let mut first: HashMap<&str, u64> = HashMap::new();
    for (k, detail) in marks.iter().enumerate() {
        for module in detail.split_whitespace() {
            first.entry(module).or_insert(k as u64 + 1);
        }
    }
    for row in modules {
        row.exact_use = Some(first.get(row.name.as_str()).copied().unwrap_or(0));
    }
}

/// The runner's `init_use` mark (modules the handler module's top-level
/// code names) into `modules[].init_use`.
fn apply_init_use(trace: &Trace, modules: &mut [ModuleRecord]) {
    let named: std::collections::HashSet<&str> = trace
        .phases
        .iter()
        .filter(|m| m.name == "init_use")
        .flat_map(|m| m.detail.split_whitespace())
        .collect();
    for row in modules {
        row.init_use = named.contains(row.name.as_str());
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::Frame;
    use crate::model::trace::{ImportEdge, TraceImportEdge, TraceOpen, TraceSample};

    fn frame(function: &str, file: &str, line: u32) -> Frame {
        Frame {
            function: function.into(),
            qualname: function.into(),
            file: file.into(),
            line,
            module: None,
        }
    }

    #[test]
    fn a_small_trace_becomes_a_consistent_profile() {
        let ms = 1_000_000;
        let mut trace = Trace {
            start_ns: 100 * ms,
            end_ns: 200 * ms,
            ..Trace::default()
        };
        trace.meta.pid = 7;
        trace.frames = vec![
            frame("<module>", "/app/main.py", 1),
            frame("<module>", "/app/slow.py", 3),
            frame("work", "/app/main.py", 9),
        ];
        trace.imports = vec![
            edge(ImportEdge::Start, 110 * ms, "slow"),
            edge(ImportEdge::End, 150 * ms, "slow"),
        ];
        trace.opens = vec![TraceOpen {
            pid: 7,
            tid: 7,
            enter_ns: 111 * ms,
            exit_ns: 111 * ms + 20_000,
            ret: 3,
            path: "/app/__pycache__/slow.cpython-312.pyc".into(),
        }];
        trace.samples = vec![
            sample_at(120 * ms, vec![1, 0]),
            sample_at(130 * ms, vec![1, 0]),
            sample_at(160 * ms, vec![2, 0]),
            sample_at(170 * ms, vec![]),
        ];
        let p = build_profile(&trace);
        assert_eq!(p.stats.samples, 3);
        assert_eq!(p.stats.import_samples, 2);
        assert_eq!(p.stats.native_samples, 1);
        assert_eq!((p.stats.init_us, p.stats.exec_us), (50_000, 50_000));
        assert_eq!(p.files[0].module.as_deref(), Some("slow"));
        assert_eq!(p.modules.len(), 1);
        let slow = &p.modules[0];
        assert_eq!(slow.file.as_deref(), Some("/app/slow.py"));
        assert_eq!(
            (slow.cumulative_us, slow.import_samples, slow.files_opened),
            (40_000, 2, 1)
        );
        assert_eq!(p.cct.frames[1].module.as_deref(), Some("slow"));
        assert_eq!(p.cct.root.total, 3);
        assert_eq!(p.imports[0].site.as_ref().map(|s| s.line), Some(1));
    }

    #[test]
    fn an_import_run_by_importlib_is_sited_where_its_body_was_asked_for() {
        // numpy/__init__.py's `from . import lib`: the import probe's frame
        // is _handle_fromlist's; the body's start saw numpy/__init__.py ask.
        let ms = 1_000_000;
        let mut trace = trace_of(
            200,
            vec![
                frame(
                    "_call_with_frames_removed",
                    "<frozen importlib._bootstrap>",
                    488,
                ),
                frame("<module>", "/v/numpy/__init__.py", 12),
            ],
        );
        let edge = |e, ts, site: Option<u32>, file: Option<&str>| TraceImportEdge {
            edge: e,
            pid: 7,
            tid: 7,
            ts_ns: ts,
            module: "numpy.lib".into(),
            failed: false,
            site,
            file: file.map(str::to_string),
            loader: None,
        };
        trace.imports = vec![
            edge(ImportEdge::Start, 110 * ms, Some(0), None),
            edge(
                ImportEdge::BodyStart,
                111 * ms,
                Some(1),
                Some("/v/numpy/lib/__init__.py"),
            ),
            edge(ImportEdge::BodyEnd, 140 * ms, None, None),
            edge(ImportEdge::End, 150 * ms, None, None),
        ];
        let p = build_profile(&trace);
        assert_eq!(p.imports.len(), 1);
        let site = p.imports[0].site.as_ref().expect("a site");
        assert_eq!(
            (site.file.as_str(), site.line),
            ("/v/numpy/__init__.py", 12)
        );
    }

    /// A trace of process 7 from 100 ms to `end_ms`, with these frames.
    fn trace_of(end_ms: u64, frames: Vec<Frame>) -> Trace {
        let ms = 1_000_000;
        let mut trace = Trace {
            start_ns: 100 * ms,
            end_ns: end_ms * ms,
            frames,
            ..Trace::default()
        };
        trace.meta.pid = 7;
        trace
    }

    /// An import edge of thread 7 at `ts`, made at frame 0.
    fn edge(edge: ImportEdge, ts: u64, module: &str) -> TraceImportEdge {
        TraceImportEdge {
            edge,
            pid: 7,
            tid: 7,
            ts_ns: ts,
            module: module.into(),
            failed: false,
            site: Some(0),
            file: None,
            loader: None,
        }
    }

    /// A sample of thread 7 at `ts_ns` (stack innermost first).
    fn sample_at(ts_ns: u64, stack: Vec<u32>) -> TraceSample {
        TraceSample {
            ts_ns,
            pid: 7,
            tid: 7,
            stack,
            truncated: false,
        }
    }

    #[test]
    fn a_stray_sample_between_imports_is_start_up_and_two_are_the_run() {
        // `import a`, `sys.path` set-up, `import b` (250 ms), then the run:
        // the script rule's init ends at b's end unless ≥ 10 ms of the
        // program's own work (two samples at 200 Hz) lay between a and b.
        let ms = 1_000_000;
        let init_with = |between: &[u64]| {
            let mut trace = trace_of(500, vec![frame("<module>", "/app/main.py", 4)]);
            trace.meta.sample_hz = 200;
            trace.imports = vec![
                edge(ImportEdge::Start, 110 * ms, "a"),
                edge(ImportEdge::End, 120 * ms, "a"),
                edge(ImportEdge::Start, 130 * ms, "b"),
                edge(ImportEdge::End, 380 * ms, "b"),
            ];
            trace.samples = between
                .iter()
                .map(|&t| sample_at(t, vec![0]))
                .chain([sample_at(400 * ms, vec![0])])
                .collect();
            build_profile(&trace).stats.init_us
        };
        assert_eq!(init_with(&[]), 280_000);
        assert_eq!(init_with(&[125 * ms]), 280_000, "one stray sample");
        assert_eq!(init_with(&[122 * ms, 127 * ms]), 20_000, "10 ms of work");
    }

    #[test]
    fn a_connection_names_the_programs_innermost_line_and_what_it_called() {
        use crate::model::trace::TraceConnect;
        let ms = 1_000_000;
        let sp = "/v/lib/python3.12/site-packages";
        let mut trace = trace_of(
            300,
            vec![
                frame("create_connection", "/py/lib/python3.12/socket.py", 840),
                frame("_new_conn", &format!("{sp}/urllib3/connection.py"), 196),
                frame("<module>", "/srv/fn/app.py", 20),
                frame("load", "/tmp/coldspy-runner-0/coldspy_runner.py", 75),
            ],
        );
        let connect = |ts, stack: Vec<u32>| TraceConnect {
            pid: 7,
            tid: 7,
            ts_ns: ts,
            address: "127.0.0.1:8080".into(),
            stack,
        };
        // Innermost first; the second has no frame of the program's own.
        trace.connects = vec![
            connect(150 * ms, vec![0, 1, 2, 3]),
            connect(290 * ms, vec![0, 3]),
        ];
        let p = build_profile(&trace);
        let c = &p.connects[0];
        let site = c.site.as_ref().unwrap();
        assert_eq!((site.file.as_str(), site.line), ("/srv/fn/app.py", 20));
        assert_eq!(
            c.calls,
            ["urllib3.connection._new_conn", "socket.create_connection"]
        );
        assert!(c.modules.contains(&"urllib3.connection".to_string()));
        assert_eq!(c.ts_us, 50_000);
        assert!(p.connects[1].site.is_none());
    }

    #[test]
    fn a_package_native_leaf_is_its_modules_work_with_or_without_python_frames() {
        let ms = 1_000_000;
        let so = "/v/lib/python3.12/site-packages/ext/_fast.cpython-312-x86_64-linux-gnu.so";
        let mut trace = trace_of(
            200,
            vec![
                frame("<module>", "/app/main.py", 1),
                frame(NATIVE_FUNCTION, so, 0),
            ],
        );
        // Innermost first: called from main.py, then on a thread with no
        // Python frame (the GIL released), then neither.
        trace.samples = vec![
            sample_at(120 * ms, vec![1, 0]),
            sample_at(130 * ms, vec![1]),
            sample_at(140 * ms, vec![]),
        ];
        let p = build_profile(&trace);
        assert_eq!((p.stats.samples, p.stats.native_samples), (1, 2));
        assert_eq!(p.cct.root.total, 2, "the Python-less one is in the CCT too");
        assert_eq!(p.cct.frames[1].module.as_deref(), Some("ext._fast"));
    }
}
