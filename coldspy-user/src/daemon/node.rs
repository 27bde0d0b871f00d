//! The daemon's view of the node: which executables are interpreters, which
//! processes are being recorded, and what to do on each lifecycle event.
//!
//! A process is considered at its `exec` (held by the kernel hook, or armed
//! for the entry stop of a known shared build). Once its interpreter is
//! found it gets a [`Recording`] of its own; forks of a recorded process
//! (pre-fork workers) get theirs with the parent's layout. A recording ends
//! at the process's exit or next `exec`, or is cut into windows.

use crate::collect::collector::RecordSink;
use crate::collect::Collector;
use crate::loader::Probes;
use crate::model::trace::{Trace, TraceOpen};
use crate::python::elf::{path_in_process, ElfInfo};
use crate::python::interpreter::{FindError, Interpreter};
use crate::python::symbolize::Symbolizer;
use crate::sys::monotonic_ns;
use coldspy_common::connect_event::ConnectEvent;
use coldspy_common::import_event::ImportEvent;
use coldspy_common::invocation::InvocationEvent;
use coldspy_common::lifecycle::{
    LifecycleEvent, EVENT_KIND_ENTRY, EVENT_KIND_EXEC, EVENT_KIND_EXIT, EVENT_KIND_FORK,
};
use coldspy_common::module_exec::{ModuleConstsEvent, ModuleExecEvent};
use coldspy_common::offsets::{TargetConfig, TARGET_FOLLOW_CHILDREN, TARGET_STOP_AT_ENTRY};
use coldspy_common::sample::SampleEvent;
use coldspy_common::system_wide::{ExeKey, EXE_NOT_PYTHON, EXE_SHARED_PYTHON, EXE_STATIC_PYTHON};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the daemon was asked to record.
#[derive(Debug, Clone)]
pub(super) struct Filters {
    /// `--match`: on the command line joined by spaces.
    pub command: Option<regex::Regex>,
    /// `--max-processes`.
    pub max_processes: usize,
    /// `--label-env`.
    pub label_env: Vec<String>,
    /// Whether to time imports.
    pub track_imports: bool,
}

/// Counters shown by the status (all since the daemon started).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(super) struct Counters {
    /// Interpreter processes recorded (forked workers included).
    pub profiled: u64,
    /// Held processes whose command line did not match `--match`.
    pub skipped_match: u64,
    /// Interpreters not recorded because `--max-processes` were running.
    pub skipped_max_processes: u64,
    /// Interpreters of a CPython version coldspy cannot read.
    pub skipped_unsupported: u64,
    /// Held processes that were not Python (first sight of their executable).
    pub not_python_first_sight: u64,
    /// Samples of target processes with no recording.
    pub samples_without_recording: u64,
    /// Longest time a process was held, µs (from the hook to SIGCONT).
    pub max_held_us: u64,
    /// Sum of hold times, µs (for the mean).
    pub total_held_us: u64,
    /// Holds released.
    pub holds: u64,
}

/// A process being recorded.
pub(super) struct Recording {
    /// Samples, opens and imports of the current window.
    collector: Collector,
    /// Kernel time the current window started.
    window_start_ns: u64,
    /// Kernel time the process's image started (its exec or fork): older
    /// records belong to the image before.
    image_start_ns: u64,
    /// Which window (0 = the one with the process's start).
    window: u32,
    /// Its command line.
    command: Vec<String>,
    /// Its labels.
    labels: BTreeMap<String, String>,
    /// Interpreter facts for the metadata.
    python: PythonFacts,
    /// `(lost samples, lost events)` on the node when the window started.
    lost_at_start: (u64, u64),
}

/// What the metadata says about the interpreter.
#[derive(Debug, Clone, Default)]
struct PythonFacts {
    version: String,
    executable: String,
    layout_source: String,
    import_route: String,
    layout: Option<crate::python::offsets::VersionLayout>,
    /// What watching a recognized runtime's handler needs: the version and
    /// the address of the code type.
    watch: Option<(crate::python::version::PythonVersion, u64)>,
}

/// A process seen at exec whose interpreter is not readable yet (a shared
/// build before its entry stop).
struct Pending {
    exec_ns: u64,
    command: Vec<String>,
    labels: BTreeMap<String, String>,
}

/// A record of a target that has no recording (yet).
enum Orphan {
    Open(TraceOpen),
    Import(ImportEvent),
    ModuleBody(Box<ModuleExecEvent>),
    Sample(Box<SampleEvent>),
}

impl Orphan {
    fn pid(&self) -> u32 {
        match self {
            Orphan::Open(o) => o.pid,
            Orphan::Import(i) => i.pid,
            Orphan::ModuleBody(b) => b.pid,
            Orphan::Sample(s) => s.pid,
        }
    }
}

/// Orphans kept per step at most (a sample is ~3 KiB).
const MAX_ORPHANS: usize = 4096;

/// A recording (or one window of it) handed to the writer.
pub(super) struct Finished {
    /// The trace, with its metadata filled.
    pub trace: Trace,
    /// The window number.
    pub window: u32,
    /// Whether the process was still running (a window, or the daemon stopped).
    pub partial: bool,
}

/// The daemon's state.
pub(super) struct Node {
    filters: Filters,
    verdicts: HashMap<ExeKey, u32>,
    /// Files whose entry or import probes failed to attach: never retried.
    broken: HashSet<ExeKey>,
    pending: HashMap<u32, Pending>,
    recordings: HashMap<u32, Recording>,
    /// Data of targets with no recording yet, this step and the one before:
    /// a fork's child can import before its fork event is read.
    orphans: [Vec<Orphan>; 2],
    /// Counters for the status.
    pub counters: Counters,
    sample_hz: u64,
}

impl Node {
    /// An empty node.
    pub(super) fn new(filters: Filters, sample_hz: u64) -> Self {
        Self {
            filters,
            verdicts: HashMap::new(),
            broken: HashSet::new(),
            pending: HashMap::new(),
            recordings: HashMap::new(),
            orphans: [Vec::new(), Vec::new()],
            counters: Counters::default(),
            sample_hz,
        }
    }

    /// Ends a step: orphans older than one step are dropped (counted).
    pub(super) fn age_orphans(&mut self) {
        let old = std::mem::take(&mut self.orphans[0]);
        self.counters.samples_without_recording += old
            .iter()
            .filter(|o| matches!(o, Orphan::Sample(_)))
            .count() as u64;
        self.orphans[0] = std::mem::take(&mut self.orphans[1]);
    }

    /// Keeps a record of a pid with no recording, for one step.
    fn orphan(&mut self, orphan: Orphan) {
        if self.orphans[1].len() < MAX_ORPHANS {
            self.orphans[1].push(orphan);
        } else if matches!(orphan, Orphan::Sample(_)) {
            self.counters.samples_without_recording += 1;
        }
    }

    /// Gives a new recording the orphans of its pid from its start on.
    fn adopt_orphans(&mut self, pid: u32) {
        let Some(recording) = self.recordings.get_mut(&pid) else {
            return;
        };
        let start = recording.image_start_ns;
        for generation in &mut self.orphans {
            let (mine, rest): (Vec<Orphan>, Vec<Orphan>) =
                generation.drain(..).partition(|o| o.pid() == pid);
            *generation = rest;
            for orphan in mine {
                match orphan {
                    Orphan::Open(o) if o.enter_ns >= start => {
                        recording.collector.trace.opens.push(o)
                    }
                    Orphan::Import(i) if i.ktime_ns >= start => recording.collector.import_edge(&i),
                    Orphan::ModuleBody(b) if b.ktime_ns >= start => {
                        recording.collector.module_body_edge(&b)
                    }
                    Orphan::Sample(s) if s.ktime_ns >= start => recording.collector.sample(&s),
                    _ => {}
                }
            }
        }
    }

    /// Watches the handler calls of each recognized FaaS runtime whose
    /// handler module started loading since the last call.
    pub(super) fn watch_handlers(&mut self, probes: &mut Probes) {
        for recording in self.recordings.values_mut() {
            let runtime_pids = recording.collector.take_runtime_code_pids();
            if let Some((version, code_type_addr)) = recording.python.watch {
                if crate::record::handler_watch::watchable(version) {
                    for pid in runtime_pids {
                        probes.flag_watch_handlers(pid);
                    }
                }
                crate::record::handler_watch::watch_loaded_handlers(
                    &mut recording.collector,
                    probes,
                    version,
                    code_type_addr,
                );
            }
        }
    }

    /// Processes recorded right now.
    pub(super) fn live(&self) -> usize {
        self.recordings.len()
    }

    /// Acts on one lifecycle event; returns the recordings it ended.
    pub(super) fn handle(&mut self, probes: &mut Probes, event: &LifecycleEvent) -> Vec<Finished> {
        let mut finished = Vec::new();
        match event.kind {
            EVENT_KIND_EXEC => {
                if let Some(done) = self.end(probes, event.pid, event.ktime_ns, false) {
                    finished.push(done);
                }
                self.on_exec(probes, event);
            }
            EVENT_KIND_ENTRY => self.on_entry(probes, event),
            EVENT_KIND_FORK => self.on_fork(probes, event),
            EVENT_KIND_EXIT => {
                self.pending.remove(&event.pid);
                if let Some(done) = self.end(probes, event.pid, event.ktime_ns, false) {
                    finished.push(done);
                }
            }
            _ => {}
        }
        finished
    }

    /// A process exec'd: decide whether to record it, then release it.
    fn on_exec(&mut self, probes: &mut Probes, event: &LifecycleEvent) {
        let pid = event.pid;
        let key = event.exe;
        if key == ExeKey::default() {
            // A former target exec'd something the hook ignored.
            return;
        }
        let command = crate::sys::proc::cmdline(pid);
        let verdict = self.verdicts.get(&key).copied();
        let wanted = self.wanted(&command);
        if !wanted {
            forget_target(probes, pid);
            self.release(probes, event);
            return;
        }
        if event.stopped == 0 && verdict == Some(EXE_SHARED_PYTHON) {
            // Armed by the hook: the entry probe holds it once libpython is mapped.
            let pending = self.pending_of(event, command);
            self.pending.insert(pid, pending);
            return;
        }
        match Interpreter::find(pid) {
            Ok(interpreter) => {
                self.set_verdict(probes, key, EXE_STATIC_PYTHON);
                let pending = self.pending_of(event, command);
                self.start(probes, interpreter, pending);
            }
            Err(FindError::NotYetLoaded(_)) => {
                let pending = self.pending_of(event, command);
                if self.arm_entry(probes, pid, key) {
                    self.pending.insert(pid, pending);
                }
            }
            Err(FindError::NotPython { .. }) => {
                self.counters.not_python_first_sight += 1;
                self.set_verdict(probes, key, EXE_NOT_PYTHON);
            }
            Err(FindError::NoProcess(_)) => {}
            Err(e) => {
                log::info!("pid {pid}: not recorded: {e}");
                self.counters.skipped_unsupported += 1;
                self.set_verdict(probes, key, EXE_NOT_PYTHON);
            }
        }
        self.release(probes, event);
    }

    /// What is known of a process at its exec: start time, command, labels.
    fn pending_of(&self, event: &LifecycleEvent, command: Vec<String>) -> Pending {
        let labels = super::labels::of_process(
            event.pid,
            event.cgroup_id,
            &command,
            &self.filters.label_env,
        );
        Pending {
            exec_ns: event.ktime_ns,
            command,
            labels,
        }
    }

    /// A shared build reached its entry point: libpython is mapped.
    fn on_entry(&mut self, probes: &mut Probes, event: &LifecycleEvent) {
        let pid = event.pid;
        if let Some(pending) = self.pending.remove(&pid) {
            match Interpreter::find(pid) {
                Ok(interpreter) => self.start(probes, interpreter, pending),
                Err(e) => {
                    log::info!("pid {pid}: not recorded at its entry stop: {e}");
                    self.counters.skipped_unsupported += 1;
                    forget_target(probes, pid);
                }
            }
        } else {
            forget_target(probes, pid);
        }
        self.release(probes, event);
    }

    /// A recorded process forked: the child is recorded too, with the
    /// parent's layout (the kernel already made it a target).
    fn on_fork(&mut self, probes: &mut Probes, event: &LifecycleEvent) {
        let (parent, child) = (event.pid, event.other_pid);
        if !crate::sys::proc::is_process(child) {
            return;
        }
        probes.watch_forked(parent, child, event.ktime_ns);
        let Some(recording) = self.recordings.get(&parent) else {
            return;
        };
        let Some(layout) = recording.python.layout else {
            return;
        };
        if self.recordings.len() >= self.filters.max_processes {
            self.counters.skipped_max_processes += 1;
            forget_target(probes, child);
            return;
        }
        let mut labels = recording.labels.clone();
        labels.insert("parent_pid".to_string(), parent.to_string());
        let python = recording.python.clone();
        let command = recording.command.clone();
        let mut collector = Collector::bounded();
        collector.event_time(event.ktime_ns);
        collector.add_process(child, Symbolizer::new(child, layout));
        self.counters.profiled += 1;
        self.recordings.insert(
            child,
            Recording {
                collector,
                window_start_ns: event.ktime_ns,
                image_start_ns: event.ktime_ns,
                window: 0,
                command,
                labels,
                python,
                lost_at_start: probes.lost_counts(),
            },
        );
        self.adopt_orphans(child);
    }

    /// Whether a process with this command line should be recorded.
    fn wanted(&mut self, command: &[String]) -> bool {
        if let Some(pattern) = &self.filters.command {
            if !pattern.is_match(&command.join(" ")) {
                self.counters.skipped_match += 1;
                return false;
            }
        }
        true
    }

    /// Starts recording an interpreter process.
    fn start(&mut self, probes: &mut Probes, interpreter: Interpreter, seen: Pending) {
        let Pending {
            exec_ns,
            command,
            labels,
        } = seen;
        let pid = interpreter.pid;
        if self.recordings.len() >= self.filters.max_processes {
            self.counters.skipped_max_processes += 1;
            forget_target(probes, pid);
            return;
        }
        let import_route = self.attach_import_probes(probes, &interpreter);
        let flags =
            TARGET_FOLLOW_CHILDREN | crate::record::handler_watch::target_flags(&interpreter);
        if let Err(e) = probes.set_target(pid, interpreter.target_config(flags)) {
            log::warn!("pid {pid}: cannot make it a target: {e}");
            return;
        }
        let mut collector = Collector::bounded();
        collector.event_time(exec_ns);
        collector.add_process(pid, Symbolizer::new(pid, interpreter.layout));
        self.counters.profiled += 1;
        self.recordings.insert(
            pid,
            Recording {
                collector,
                window_start_ns: exec_ns,
                image_start_ns: exec_ns,
                window: 0,
                command,
                labels,
                python: PythonFacts {
                    version: interpreter.version.to_string(),
                    executable: interpreter.binary.display().to_string(),
                    layout_source: interpreter.layout_source.clone(),
                    import_route,
                    layout: Some(interpreter.layout),
                    watch: Some((interpreter.version, interpreter.code_type_addr)),
                },
                lost_at_start: probes.lost_counts(),
            },
        );
        self.adopt_orphans(pid);
    }

    /// Attaches the import probes to the interpreter's file (once per
    /// file); returns the import route, or `none`.
    fn attach_import_probes(&mut self, probes: &mut Probes, interpreter: &Interpreter) -> String {
        if !self.filters.track_imports {
            return "none".to_string();
        }
        let Some((_, points)) = interpreter.import_probe_point() else {
            return "none".to_string();
        };
        let on_host = path_in_process(interpreter.pid, &interpreter.binary);
        match probes.attach_import_probes(&on_host, &points) {
            Ok(()) => interpreter.import_route(),
            Err(e) => {
                log::warn!("no import timing for {}: {e}", on_host.display());
                "none".to_string()
            }
        }
    }

    /// A shared build seen for the first time: attach its entry probe and
    /// remember it, so the hook arms the next ones itself.
    fn arm_entry(&mut self, probes: &mut Probes, pid: u32, key: ExeKey) -> bool {
        if self.broken.contains(&key) {
            return false;
        }
        let armed = (|| -> anyhow::Result<()> {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe"))?;
            let on_host = path_in_process(pid, &exe);
            let elf = ElfInfo::read(&on_host)?;
            let offset = elf
                .file_offset(elf.entry)
                .ok_or_else(|| anyhow::anyhow!("entry point outside the segments"))?;
            probes.attach_entry(&on_host, offset)?;
            let config = TargetConfig {
                flags: TARGET_STOP_AT_ENTRY | TARGET_FOLLOW_CHILDREN,
                ..TargetConfig::default()
            };
            probes.set_target(pid, config)?;
            Ok(())
        })();
        match armed {
            Ok(()) => {
                self.set_verdict(probes, key, EXE_SHARED_PYTHON);
                true
            }
            Err(e) => {
                log::warn!("pid {pid}: cannot arm the entry stop: {e:#}");
                self.broken.insert(key);
                self.set_verdict(probes, key, EXE_NOT_PYTHON);
                false
            }
        }
    }

    /// Remembers a verdict, here and in the kernel.
    fn set_verdict(&mut self, probes: &mut Probes, key: ExeKey, verdict: u32) {
        if self.verdicts.insert(key, verdict) == Some(verdict) {
            return;
        }
        if self.verdicts.len() > 60_000 {
            // The kernel map holds 65,536: start over rather than fail.
            self.verdicts.clear();
            self.verdicts.insert(key, verdict);
            if let Some(system) = probes.system.as_mut() {
                let keys: Vec<ExeKey> = system.verdicts.keys().filter_map(Result::ok).collect();
                for key in keys {
                    let _ = system.verdicts.remove(&key);
                }
            }
        }
        if let Some(system) = probes.system.as_mut() {
            if let Err(e) = system.verdicts.insert(key, verdict, 0) {
                log::warn!("cannot store a verdict in the kernel: {e}");
            }
        }
    }

    /// Resumes a held process (SIGCONT) and counts how long it waited.
    fn release(&mut self, probes: &mut Probes, event: &LifecycleEvent) {
        if event.stopped == 0 {
            return;
        }
        // SAFETY: plain kill(2).
        unsafe { libc::kill(event.pid as i32, libc::SIGCONT) };
        if let Some(system) = probes.system.as_mut() {
            let _ = system.held.remove(&event.pid);
        }
        let held_us = monotonic_ns().saturating_sub(event.ktime_ns) / 1000;
        log::debug!(
            "pid {}: held {held_us} us (stop kind {})",
            event.pid,
            event.kind
        );
        self.counters.holds += 1;
        self.counters.total_held_us += held_us;
        self.counters.max_held_us = self.counters.max_held_us.max(held_us);
    }

    /// Ends the recording of `pid` at `end_ns` (exit, exec, or the daemon
    /// stopping with `partial`).
    fn end(&mut self, probes: &Probes, pid: u32, end_ns: u64, partial: bool) -> Option<Finished> {
        let recording = self.recordings.remove(&pid)?;
        Some(self.seal(probes, pid, recording, end_ns, partial))
    }

    /// Ends every recording (the daemon stops): each written as partial.
    pub(super) fn end_all(&mut self, probes: &Probes) -> Vec<Finished> {
        let now = monotonic_ns();
        let pids: Vec<u32> = self.recordings.keys().copied().collect();
        pids.into_iter()
            .filter_map(|pid| self.end(probes, pid, now, true))
            .collect()
    }

    /// Cuts the recordings older than `max_window_ns` into a window each.
    pub(super) fn cut_windows(&mut self, probes: &Probes, max_window_ns: u64) -> Vec<Finished> {
        let now = monotonic_ns();
        let lost = probes.lost_counts();
        let due: Vec<u32> = self
            .recordings
            .iter()
            .filter(|(_, r)| now.saturating_sub(r.window_start_ns) >= max_window_ns)
            .map(|(&pid, _)| pid)
            .collect();
        let mut finished = Vec::new();
        for pid in due {
            let Some(recording) = self.recordings.get_mut(&pid) else {
                continue;
            };
            let trace = recording.collector.take_window(now);
            let window = Recording {
                collector: Collector::default(),
                window_start_ns: recording.window_start_ns,
                image_start_ns: recording.image_start_ns,
                window: recording.window,
                command: recording.command.clone(),
                labels: recording.labels.clone(),
                python: recording.python.clone(),
                lost_at_start: recording.lost_at_start,
            };
            recording.window_start_ns = now;
            recording.window += 1;
            recording.lost_at_start = lost;
            let mut done = self.seal_trace(probes, pid, window, trace, true);
            done.partial = true;
            finished.push(done);
        }
        finished
    }

    fn seal(
        &self,
        probes: &Probes,
        pid: u32,
        recording: Recording,
        end_ns: u64,
        partial: bool,
    ) -> Finished {
        let mut recording = recording;
        let collector = std::mem::take(&mut recording.collector);
        let trace = collector.finish(end_ns);
        self.seal_trace(probes, pid, recording, trace, partial)
    }

    /// Fills a trace's metadata from its recording.
    fn seal_trace(
        &self,
        probes: &Probes,
        pid: u32,
        recording: Recording,
        mut trace: Trace,
        partial: bool,
    ) -> Finished {
        let (lost_samples, lost_events) = probes.lost_counts();
        trace.start_ns = recording.window_start_ns;
        let samples = trace.sample_count();
        let meta = &mut trace.meta;
        meta.coldspy_version = env!("CARGO_PKG_VERSION").to_string();
        meta.host = crate::sys::proc::host_name();
        meta.kernel = crate::sys::proc::kernel_release();
        meta.started_at = humantime::format_rfc3339_millis(
            std::time::SystemTime::now()
                - std::time::Duration::from_nanos(monotonic_ns().saturating_sub(trace.start_ns)),
        )
        .to_string();
        meta.sample_hz = self.sample_hz as u32;
        // The kernel counts losses per node: these are the node's during
        // this window (an upper bound for this process).
        meta.lost_samples = lost_samples.saturating_sub(recording.lost_at_start.0);
        meta.lost_events = lost_events.saturating_sub(recording.lost_at_start.1);
        meta.pid = pid;
        meta.pids = vec![pid];
        meta.processes = vec![crate::model::profile::ProcessSamples { pid, samples }];
        meta.command = recording.command;
        meta.python_version = recording.python.version;
        meta.python_executable = recording.python.executable;
        meta.layout_source = recording.python.layout_source;
        meta.import_route = recording.python.import_route;
        meta.labels = recording.labels;
        meta.labels.insert("host".to_string(), meta.host.clone());
        if recording.window > 0 || partial {
            meta.labels
                .insert("window".to_string(), recording.window.to_string());
        }
        Finished {
            trace,
            window: recording.window,
            partial,
        }
    }
}

/// Removes a process from the kernel's targets (it runs on unrecorded).
fn forget_target(probes: &mut Probes, pid: u32) {
    let _ = probes.targets.remove(&pid);
}

impl RecordSink for Node {
    fn open(&mut self, open: TraceOpen) {
        match self.recordings.get_mut(&open.pid) {
            Some(recording) if open.enter_ns >= recording.image_start_ns => {
                recording.collector.trace.opens.push(open)
            }
            Some(_) => {}
            None => self.orphan(Orphan::Open(open)),
        }
    }

    fn import(&mut self, event: &ImportEvent) {
        match self.recordings.get_mut(&event.pid) {
            Some(recording) if event.ktime_ns >= recording.image_start_ns => {
                recording.collector.import_edge(event)
            }
            Some(_) => {}
            None => self.orphan(Orphan::Import(*event)),
        }
    }

    fn module_body(&mut self, event: &ModuleExecEvent) {
        match self.recordings.get_mut(&event.pid) {
            Some(recording) if event.ktime_ns >= recording.image_start_ns => {
                recording.collector.module_body_edge(event)
            }
            Some(_) => {}
            None => self.orphan(Orphan::ModuleBody(Box::new(*event))),
        }
    }

    fn module_consts(&mut self, event: &ModuleConstsEvent) {
        // Only a body seen (its start arrives first) has use for them.
        if let Some(recording) = self.recordings.get_mut(&event.pid) {
            recording.collector.module_consts_of(event);
        }
    }

    fn invocation(&mut self, event: &InvocationEvent) {
        if let Some(recording) = self.recordings.get_mut(&event.pid) {
            recording.collector.invocation_mark(event);
        }
    }

    fn connect(&mut self, event: &ConnectEvent) {
        // A connection of a process not (or no longer) recorded is dropped.
        if let Some(recording) = self.recordings.get_mut(&event.pid) {
            if event.ktime_ns >= recording.image_start_ns {
                recording.collector.connect(event);
            }
        }
    }

    fn sample(&mut self, sample: &SampleEvent) {
        match self.recordings.get_mut(&sample.pid) {
            // Older samples belong to the image before an exec.
            Some(recording) if sample.ktime_ns >= recording.image_start_ns => {
                recording.collector.sample(sample)
            }
            Some(_) => self.counters.samples_without_recording += 1,
            None => self.orphan(Orphan::Sample(Box::new(*sample))),
        }
    }
}
