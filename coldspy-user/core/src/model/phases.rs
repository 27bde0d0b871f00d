//! The phases of a recording: init (until the function is ready), exec (its
//! invocations) and their count, by the first rule that applies:
//! - `runner`: coldspy's handler runner marked them (`init_end`,
//!   `invoke_start`, `invoke_end`);
//! - `runtime:NAME`: a FaaS runtime coldspy knows loaded the handler module
//!   ([`crate::model::runtime`]): init ends when that import ends, and each
//!   handler call the watch saw (marks with a thread) is an invocation;
//! - `script`: init ends with the last top-level import of the main thread
//!   made before run-time work began (10 ms or more of the program's own
//!   work between two top-level imports, or a lazy import from a function);
//!   exec is the rest, with no count.

use crate::model::import_tree::ImportTree;
use crate::model::runtime::Runtime;
use crate::model::trace::{PhaseMark, Trace};
use std::collections::HashMap;

/// What [`phases`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phases {
    /// Init, µs since the start.
    pub init_us: u64,
    /// Exec: the invocations' total, or everything after init (`script`).
    pub exec_us: u64,
    /// Invocations seen (0 when none can be told apart).
    pub exec_count: u64,
    /// The rule used (`runner`, `runtime:NAME`, `script`).
    pub rule: String,
    /// The invocations; empty for `script`.
    pub invocations: Vec<Invocation>,
}

/// One invocation, in kernel time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Invocation {
    /// Start (ns).
    pub start_ns: u64,
    /// End (ns, ≥ start).
    pub end_ns: u64,
    /// Its thread, for the runtime watch's.
    pub tid: Option<u32>,
}

impl Invocation {
    fn ns(&self) -> u64 {
        self.end_ns - self.start_ns
    }
}

/// The phases of `trace` (see the module documentation for the rules).
pub fn phases(
    trace: &Trace,
    tree: &ImportTree,
    run_time_samples: &[(u64, u64)],
    duration_us: u64,
) -> Phases {
    let since_start = |ns: u64| ns.saturating_sub(trace.start_ns) / 1000;
    if let Some(init_end) = trace.phases.iter().find(|m| m.name == "init_end") {
        let invocations = runner_invocations(&trace.phases);
        return Phases {
            init_us: since_start(init_end.ts_ns),
            exec_us: invocations.iter().map(Invocation::ns).sum::<u64>() / 1000,
            exec_count: invocations.len() as u64,
            rule: "runner".into(),
            invocations,
        };
    }
    if let Some((runtime, init_us)) = runtime_init(tree) {
        let init_end_ns = trace.start_ns + init_us * 1000;
        let invocations = handler_calls(&trace.phases, init_end_ns, runtime);
        let exec_us = if invocations.is_empty() {
            duration_us.saturating_sub(init_us)
        } else {
            invocations.iter().map(Invocation::ns).sum::<u64>() / 1000
        };
        return Phases {
            init_us,
            exec_us,
            exec_count: invocations.len() as u64,
            rule: format!("runtime:{}", runtime.name()),
            invocations,
        };
    }
    if let Some(runtime) = attached_runtime(&trace.phases) {
        // Attached to a warm runtime: its init is over; only calls count.
        let invocations = handler_calls(&trace.phases, 0, runtime);
        return Phases {
            init_us: 0,
            exec_us: invocations.iter().map(Invocation::ns).sum::<u64>() / 1000,
            exec_count: invocations.len() as u64,
            rule: format!("runtime:{}", runtime.name()),
            invocations,
        };
    }
    let init_us = script_init_us(trace, tree, run_time_samples);
    Phases {
        init_us,
        exec_us: duration_us.saturating_sub(init_us),
        exec_count: 0,
        rule: "script".into(),
        invocations: Vec::new(),
    }
}

/// The runner's invocations: each `invoke_start` with the next `invoke_end`.
fn runner_invocations(marks: &[PhaseMark]) -> Vec<Invocation> {
    let mut invocations = Vec::new();
    let mut open: Option<u64> = None;
    for mark in marks {
        match mark.name.as_str() {
            "invoke_start" => open = Some(mark.ts_ns),
            "invoke_end" => {
                if let Some(start) = open.take() {
                    invocations.push(Invocation {
                        start_ns: start,
                        end_ns: mark.ts_ns.max(start),
                        tid: None,
                    });
                }
            }
            _ => {}
        }
    }
    invocations
}

/// The runtime that imported the handler module, and the end of that
/// import (µs): the first import a known runtime's loader asked for.
fn runtime_init(tree: &ImportTree) -> Option<(Runtime, u64)> {
    tree.records.iter().find_map(|r| {
        let runtime = match &r.loader {
            Some(name) => Runtime::from_name(name)?,
            None => {
                let site = r.site.as_ref()?;
                Runtime::loader_of(&r.module, &site.file, &site.function)?
            }
        };
        Some((runtime, r.end_us))
    })
}

/// The runtime whose code made the first handler call the watch saw (a
/// recording attached to a warm runtime has no handler import).
fn attached_runtime(marks: &[PhaseMark]) -> Option<Runtime> {
    let runtimes = [
        Runtime::AwsLambdaRic,
        Runtime::FunctionsFramework,
        Runtime::OpenFaas,
    ];
    marks
        .iter()
        .filter(|m| m.tid.is_some() && m.name == "invoke_start")
        .find_map(|m| {
            let file = m.detail.rsplit_once(':').map_or("", |(f, _)| f);
            runtimes.into_iter().find(|r| r.calls_from(file))
        })
}

/// How many handler calls of `runtime` the marks hold (any time).
pub fn count_handler_calls(marks: &[PhaseMark], runtime: Runtime) -> usize {
    handler_calls(marks, 0, runtime).len()
}

/// Handler calls (marks with a thread), paired per thread, that start
/// after init from the runtime's own code (the mark's detail is the
/// caller's `FILE:FUNCTION`): the watch is set while the handler module is
/// imported, so a reference its own definition takes is no call, nor is
/// one that other code (`inspect`, a monitoring tool) takes.
fn handler_calls(marks: &[PhaseMark], init_end_ns: u64, runtime: Runtime) -> Vec<Invocation> {
    let mut open: HashMap<u32, u64> = HashMap::new();
    let mut calls = Vec::new();
    for mark in marks {
        let Some(tid) = mark.tid else { continue };
        match mark.name.as_str() {
            "invoke_start" => {
                let file = mark.detail.rsplit_once(':').map_or("", |(f, _)| f);
                if runtime.calls_from(file) {
                    open.insert(tid, mark.ts_ns);
                } else {
                    open.remove(&tid);
                }
            }
            "invoke_end" => {
                if let Some(start) = open.remove(&tid).filter(|&s| s >= init_end_ns) {
                    calls.push(Invocation {
                        start_ns: start,
                        end_ns: mark.ts_ns.max(start),
                        tid: Some(tid),
                    });
                }
            }
            _ => {}
        }
    }
    calls.sort_unstable();
    calls
}

/// The least of the program's own work between two top-level imports that
/// means its run has begun. Less is start-up code between imports
/// (`sys.path` set-up, constants): a single sample there may be a stray that
/// landed in a few hundred microseconds of it (one in 25 runs of
/// `import_tree.py` on a loaded host), so at least two are needed.
pub const MIN_RUN_TIME_WORK_US: u64 = 10_000;

/// The script rule's init (see the module documentation). `run_time_samples`
/// are the main thread's samples of the program's own code outside imports,
/// in time order: (ns, count).
fn script_init_us(trace: &Trace, tree: &ImportTree, run_time_samples: &[(u64, u64)]) -> u64 {
    let since_start = |ns: u64| ns.saturating_sub(trace.start_ns) / 1000;
    let main_tid = trace.meta.pid;
    let top_level = || {
        tree.records
            .iter()
            .filter(move |r| r.tid == main_tid && r.depth == 0)
    };
    // Run-time work has begun at the first top-level import made from inside
    // a function (a lazy import)...
    let first_lazy_import_us = top_level()
        .filter(|r| {
            r.site
                .as_ref()
                .is_some_and(|s| s.function != "<module>" && is_user_code(&s.file))
        })
        .map(|r| r.start_us)
        .min();
    // ...or at the first stretch between two top-level imports with enough
    // of the program's own work.
    let mut starts: Vec<u64> = top_level().map(|r| r.start_us).collect();
    starts.sort_unstable();
    let needed = samples_for(MIN_RUN_TIME_WORK_US, trace.meta.sample_hz).max(2);
    let first_work_us = first_stretch_with(run_time_samples, &starts, needed, since_start);
    let cutoff_us = first_work_us
        .into_iter()
        .chain(first_lazy_import_us)
        .min()
        .unwrap_or(u64::MAX);
    top_level()
        .filter(|r| r.start_us < cutoff_us)
        .map(|r| r.end_us)
        .max()
        .unwrap_or(0)
}

/// How many samples at `hz` stand for `us` of work (rounded up).
fn samples_for(us: u64, hz: u32) -> u64 {
    (us * u64::from(hz)).div_ceil(1_000_000)
}

/// The time (µs) of the first sample of the first stretch between
/// consecutive import starts (`starts`, sorted, µs) that holds at least
/// `needed` of `samples` (ns, count; sorted).
fn first_stretch_with(
    samples: &[(u64, u64)],
    starts: &[u64],
    needed: u64,
    since_start: impl Fn(u64) -> u64,
) -> Option<u64> {
    let mut stretch: Option<(usize, u64, u64)> = None; // (index, first µs, samples)
    for &(ns, count) in samples {
        let us = since_start(ns);
        let index = starts.partition_point(|&s| s <= us);
        let (first, total) = match stretch {
            Some((i, first, total)) if i == index => (first, total + count),
            _ => (us, count),
        };
        if total >= needed {
            return Some(first);
        }
        stretch = Some((index, first, total));
    }
    None
}

/// Samples with Python frames in the init phase and in the exec phase:
/// with invocations, exec means inside one; for a script, after init.
pub fn phase_samples(trace: &Trace, phases: &Phases) -> (u64, u64) {
    let init_end_ns = trace.start_ns + phases.init_us * 1000;
    let counted = phases.rule == "runner" || !phases.invocations.is_empty();
    let mut init = 0;
    let mut exec = 0;
    for group in trace.sample_groups().filter(|g| !g.stack.is_empty()) {
        if group.first_ns <= init_end_ns {
            init += group.count;
        } else if !counted
            || phases
                .invocations
                .iter()
                .any(|i| (i.start_ns..=i.end_ns).contains(&group.first_ns))
        {
            exec += group.count;
        }
    }
    (init, exec)
}

/// Whether a file is the program's own code or a third-party library, as
/// opposed to the interpreter's start-up machinery (frozen importlib, the
/// standard library), whose function-level imports are not lazy imports.
pub(crate) fn is_user_code(file: &str) -> bool {
    crate::origin::of_file(file) != crate::origin::Origin::Stdlib
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(name: &str, ts_ns: u64, tid: Option<u32>) -> PhaseMark {
        PhaseMark {
            name: name.into(),
            ts_ns,
            detail: "/v/awslambdaric/bootstrap.py:handle_event_request".into(),
            tid,
        }
    }

    #[test]
    fn handler_calls_pair_per_thread_after_init() {
        let marks = [
            // The handler's definition (during init): no call.
            mark("invoke_start", 100, Some(1)),
            mark("invoke_end", 150, Some(1)),
            mark("invoke_start", 1_000, Some(2)),
            mark("invoke_start", 1_100, Some(3)),
            mark("invoke_end", 1_500, Some(2)),
            mark("invoke_end", 1_900, Some(3)),
            mark("invoke_start", 2_000, Some(2)),
            // A runner mark (no thread) is not a handler call.
            mark("invoke_end", 2_100, None),
            // Code other than the runtime's took a reference: no call.
            PhaseMark {
                detail: "/usr/lib/python3.12/inspect.py:signature".into(),
                ..mark("invoke_start", 3_000, Some(4))
            },
            mark("invoke_end", 3_010, Some(4)),
        ];
        let calls: Vec<_> = handler_calls(&marks, 500, Runtime::AwsLambdaRic)
            .iter()
            .map(|i| (i.start_ns, i.end_ns, i.tid))
            .collect();
        assert_eq!(calls, [(1_000, 1_500, Some(2)), (1_100, 1_900, Some(3))]);
    }
}
