//! Accumulates a [`Trace`] from kernel records: symbolizes samples per
//! process, interns frames, keeps file opens and import edges. A
//! [`Collector::bounded`] one groups samples as they come
//! ([`crate::model::samples`]): its memory does not grow with the
//! recording's length, and the profile is the same.

use crate::collect::decode::{self, Event};
use crate::collect::module_body::{asking_frame, BodyKind, BodySpans, ModuleNames};
use crate::collect::native::NativeMaps;
use crate::loader::Probes;
use crate::model::import_tree::MAIN_MODULE;
use crate::model::modules::NATIVE_FUNCTION;
use crate::model::profile::Frame;
use crate::model::runtime::Runtime;
use crate::model::samples::SampleAggregator;
use crate::model::trace::{
    ImportEdge, PhaseMark, Trace, TraceConnect, TraceImportEdge, TraceOpen, TraceSample,
    TRACE_FORMAT_AGGREGATED,
};
use crate::python::symbolize::Symbolizer;
use coldspy_common::{
    connect_event::ConnectEvent,
    import_event::{ImportEvent, EVENT_KIND_IMPORT_START},
    invocation::{InvocationEvent, EVENT_KIND_INVOCATION_START},
    lifecycle::LifecycleEvent,
    module_exec::{ModuleConstsEvent, ModuleExecEvent, EVENT_KIND_MODULE_EXEC_START},
    sample::{RawFrame, SampleEvent, SAMPLE_TRUNCATED},
};
use std::collections::HashMap;

/// Where [`drain`] puts what it reads from the data rings.
pub trait RecordSink {
    /// A file open.
    fn open(&mut self, open: TraceOpen);
    /// An import start or end.
    fn import(&mut self, event: &ImportEvent);
    /// A module body's start or end.
    fn module_body(&mut self, event: &ModuleExecEvent);
    /// The first constants of a module body just started.
    fn module_consts(&mut self, event: &ModuleConstsEvent);
    /// A handler call's start or end.
    fn invocation(&mut self, event: &InvocationEvent);
    /// A CPU sample.
    fn sample(&mut self, sample: &SampleEvent);
    /// A network connection started.
    fn connect(&mut self, event: &ConnectEvent);
}

/// Reads everything available from the three ring buffers (`CONTROL`,
/// `EVENTS`, `SAMPLES`, in that order) into `sink`; returns the lifecycle
/// events for the caller to act on.
pub fn drain(probes: &mut Probes, sink: &mut impl RecordSink) -> Vec<LifecycleEvent> {
    // Lifecycle first (a stopped target waits), then events: an exec
    // must be seen before the samples of the new image.
    let mut lifecycle = drain_control(probes);
    lifecycle.extend(drain_data(probes, sink));
    lifecycle
}

/// Reads the lifecycle ring (`CONTROL`).
pub fn drain_control(probes: &mut Probes) -> Vec<LifecycleEvent> {
    let mut lifecycle = Vec::new();
    while let Some(item) = probes.control.next() {
        if let Some(Event::Lifecycle(event)) = decode::event(&item) {
            lifecycle.push(event);
        }
    }
    lifecycle
}

/// Reads the data rings (`EVENTS`, then `SAMPLES`) into `sink`; returns
/// any lifecycle events found among them.
pub fn drain_data(probes: &mut Probes, sink: &mut impl RecordSink) -> Vec<LifecycleEvent> {
    let mut lifecycle = Vec::new();
    while let Some(item) = probes.events.next() {
        match decode::event(&item) {
            Some(Event::Open(open)) => sink.open(TraceOpen {
                pid: open.pid,
                tid: open.tid,
                enter_ns: open.enter_ns,
                exit_ns: open.exit_ns,
                ret: open.ret,
                path: decode::c_string(&open.path),
            }),
            Some(Event::Import(import)) => sink.import(&import),
            Some(Event::ModuleBody(body)) => sink.module_body(&body),
            Some(Event::ModuleConsts(consts)) => sink.module_consts(&consts),
            Some(Event::Invocation(call)) => sink.invocation(&call),
            Some(Event::Lifecycle(event)) => lifecycle.push(event),
            Some(Event::Connect(event)) => sink.connect(&event),
            None => {}
        }
    }
    while let Some(item) = probes.samples.next() {
        if let Some(sample) = decode::sample(&item) {
            sink.sample(&sample);
        }
    }
    probes.flush_logs();
    lifecycle
}

impl RecordSink for Collector {
    fn open(&mut self, open: TraceOpen) {
        self.trace.opens.push(open);
    }

    fn import(&mut self, event: &ImportEvent) {
        self.import_edge(event);
    }

    fn module_body(&mut self, event: &ModuleExecEvent) {
        self.module_body_edge(event);
    }

    fn module_consts(&mut self, event: &ModuleConstsEvent) {
        self.module_consts_of(event);
    }

    fn invocation(&mut self, event: &InvocationEvent) {
        self.invocation_mark(event);
    }

    fn sample(&mut self, sample: &SampleEvent) {
        Collector::sample(self, sample);
    }

    fn connect(&mut self, event: &ConnectEvent) {
        Collector::connect(self, event);
    }
}

/// The runtime whose loader runs a module body, from its callers up to the
/// enclosing module's top-level code: a wrapper of the loader (a test's
/// oracle) may sit between the runtime's frame and the body, but a module
/// the handler module imports is not the handler module.
fn loader_among(module: &str, callers: &[Option<Frame>]) -> Option<Runtime> {
    for frame in callers.iter().flatten() {
        if let Some(runtime) = Runtime::loader_of(module, &frame.file, &frame.function) {
            return Some(runtime);
        }
        if frame.function == "<module>" {
            return None;
        }
    }
    None
}

/// A module a known FaaS runtime's loader started running: its handler
/// function is defined in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerModule {
    /// The process.
    pub pid: u32,
    /// The runtime that loads it.
    pub runtime: Runtime,
    /// The module's code object (alive while its body runs).
    pub module_code: u64,
    /// When its body began (kernel time).
    pub started_ns: u64,
    /// The first of its code's constants, as the kernel read them while
    /// the body ran (its functions' code objects outlive the module's).
    pub consts: Vec<u64>,
}

/// Builds the trace of one recording.
#[derive(Debug, Default)]
pub struct Collector {
    /// The trace so far.
    pub trace: Trace,
    symbolizers: HashMap<u32, Symbolizer>,
    /// Per process: its executable mappings, for native leaf frames.
    native: HashMap<u32, NativeMaps>,
    frame_index: HashMap<Frame, u32>,
    /// Module names of imports in flight, per thread (end edges carry none).
    import_stacks: HashMap<u32, Vec<String>>,
    /// Module bodies in flight, per thread: the name each start edge
    /// carried, `None` for a body that made no edge.
    body_stacks: HashMap<u32, Vec<Option<String>>>,
    /// Module names of files, found on disk once.
    module_names: ModuleNames,
    /// Modules a known FaaS runtime started loading, not yet taken by
    /// [`Collector::take_handler_modules`].
    handler_modules: Vec<HandlerModule>,
    /// The processes in which a module body of a known runtime's own code
    /// started since [`Collector::take_runtime_code_pids`].
    runtime_code_pids: Vec<u32>,
    /// When each module body ran: names the frames of bodies whose code
    /// object was freed before their samples were read.
    body_spans: BodySpans,
    /// Samples dropped because their process had no symbolizer.
    pub samples_without_python: u64,
    /// Groups samples as they come; without it each sample is kept in
    /// [`Trace::samples`] (what `--save-trace` writes).
    aggregator: Option<SampleAggregator>,
    /// A sample's frame indices, reused from sample to sample.
    scratch: Vec<u32>,
    /// With the aggregator, every sample one by one as well (`--save-trace`),
    /// apart from the trace: see [`Collector::finish_keeping`].
    kept: Option<Vec<TraceSample>>,
}

/// The innermost frame of a sample whose user instruction pointer was in
/// a package's native library `file` (an extension module, a library its
/// wheel vendors): the work of that package that no Python frame shows.
pub fn native_frame(file: &str) -> Frame {
    Frame {
        function: NATIVE_FUNCTION.into(),
        qualname: String::new(),
        file: file.into(),
        line: 0,
        module: None,
    }
}

/// The frame that stands where a code object could not be read (freed
/// before userspace read it, or unreadable memory).
pub fn unknown_frame() -> Frame {
    Frame {
        function: "<unknown>".into(),
        qualname: "<unknown>".into(),
        file: "<unknown>".into(),
        line: 0,
        module: None,
    }
}

impl Collector {
    /// A collector that groups samples as they come (see
    /// [`crate::model::samples`]); give it the recording's start with
    /// [`Collector::event_time`].
    pub fn bounded() -> Self {
        Collector {
            aggregator: Some(SampleAggregator::default()),
            ..Collector::default()
        }
    }

    /// Also keeps every sample one by one, for a trace file
    /// ([`Collector::finish_keeping`] returns them).
    pub fn keeping_samples(mut self) -> Self {
        self.kept = Some(Vec::new());
        self
    }

    /// Notes the time of a phase mark (or any time the profile compares
    /// sample times with) as it arrives, before samples near it are grouped.
    pub fn event_time(&mut self, ts_ns: u64) {
        if let Some(aggregator) = &mut self.aggregator {
            aggregator.cut(ts_ns);
        }
    }

    /// Symbolizes the samples of `pid` with this symbolizer from now on.
    pub fn add_process(&mut self, pid: u32, symbolizer: Symbolizer) {
        self.symbolizers.insert(pid, symbolizer);
    }

    /// The layout of an interpreter process being symbolized, if it is one.
    pub fn layout_of(&self, pid: u32) -> Option<crate::python::offsets::VersionLayout> {
        self.symbolizers.get(&pid).map(Symbolizer::layout)
    }

    /// Reads everything available from the three ring buffers (see
    /// [`drain`]); returns the lifecycle events for the caller to act on.
    pub fn drain(&mut self, probes: &mut Probes) -> Vec<LifecycleEvent> {
        drain(probes, self)
    }

    /// Takes the trace recorded so far and starts an empty one (the
    /// symbolizers and imports in flight are kept): a window of a
    /// long-running process.
    pub fn take_window(&mut self, end_ns: u64) -> Trace {
        let trace = std::mem::take(&mut self.trace);
        self.frame_index.clear();
        let mut window = Collector {
            trace,
            ..Collector::default()
        };
        window.samples_without_python = std::mem::take(&mut self.samples_without_python);
        if let Some(aggregator) = &mut self.aggregator {
            // The next window starts where this one ends.
            let mut next = SampleAggregator::default();
            next.cut(end_ns);
            window.aggregator = Some(std::mem::replace(aggregator, next));
        }
        window.finish(end_ns)
    }

    fn intern(&mut self, frame: Frame) -> u32 {
        if let Some(&index) = self.frame_index.get(&frame) {
            return index;
        }
        let index = self.trace.frames.len() as u32;
        self.trace.frames.push(frame.clone());
        self.frame_index.insert(frame, index);
        index
    }

    /// Symbolizes and keeps one sample.
    pub fn sample(&mut self, sample: &SampleEvent) {
        let depth = (sample.depth as usize).min(sample.frames.len());
        // Only interpreters are targets: a wrapper (sh, env) that a sample
        // lands in is followed, never counted.
        if !self.symbolizers.contains_key(&sample.pid) {
            self.samples_without_python += 1;
            return;
        }
        let mut stack = std::mem::take(&mut self.scratch);
        stack.clear();
        stack.reserve_exact(depth + 1);
        let native = self
            .native
            .entry(sample.pid)
            .or_insert_with(|| NativeMaps::new(sample.pid))
            .package_file(sample.user_ip, sample.ktime_ns);
        if let Some(file) = native {
            let index = self.intern(native_frame(&file));
            stack.push(index);
        }
        self.trace.unsymbolized_frames += self.symbolize_into(
            sample.pid,
            sample.ktime_ns,
            &sample.frames[..depth],
            &mut stack,
        );
        let truncated = sample.flags & SAMPLE_TRUNCATED != 0;
        let raw = |stack| TraceSample {
            ts_ns: sample.ktime_ns,
            pid: sample.pid,
            tid: sample.tid,
            stack,
            truncated,
        };
        match &mut self.aggregator {
            Some(aggregator) => {
                aggregator.add(sample.ktime_ns, sample.pid, sample.tid, &stack, truncated);
                if let Some(kept) = &mut self.kept {
                    kept.push(raw(stack.clone()));
                }
                self.scratch = stack;
            }
            None => self.trace.samples.push(raw(stack)),
        }
    }

    /// Symbolizes `raw` frames of `pid` (innermost first) onto `stack` as
    /// interned frame indices; returns how many could not be read. Slots with
    /// no code object are skipped frames (C-stack shims); an unreadable one
    /// keeps its place as `<unknown>`: dropping it would join two frames that
    /// never called each other. A module body's frame whose code object is
    /// gone by now is named from the body's start (`ts_ns` is the sample's).
    fn symbolize_into(
        &mut self,
        pid: u32,
        ts_ns: u64,
        raw: &[RawFrame],
        stack: &mut Vec<u32>,
    ) -> u64 {
        let Some(symbolizer) = self.symbolizers.get_mut(&pid) else {
            return 0;
        };
        let bodies = &self.body_spans;
        let mut unknown = 0;
        let frames: Vec<Frame> = raw
            .iter()
            .filter(|f| f.code_addr != 0)
            .map(|f| {
                symbolizer
                    .frame(*f)
                    .or_else(|| bodies.frame(pid, f.code_addr, ts_ns))
                    .unwrap_or_else(|| {
                        unknown += 1;
                        unknown_frame()
                    })
            })
            .collect();
        for frame in frames {
            stack.push(self.intern(frame));
        }
        unknown
    }

    /// Keeps a network connection with the Python stack that made it.
    pub fn connect(&mut self, event: &ConnectEvent) {
        if !self.symbolizers.contains_key(&event.pid) {
            return;
        }
        let depth = (event.depth as usize).min(event.frames.len());
        let mut stack = Vec::with_capacity(depth);
        self.symbolize_into(
            event.pid,
            event.ktime_ns,
            &event.frames[..depth],
            &mut stack,
        );
        self.trace.connects.push(TraceConnect {
            pid: event.pid,
            tid: event.tid,
            ts_ns: event.ktime_ns,
            address: decode::socket_address(&event.addr),
            stack,
        });
    }

    /// Keeps one import start or end.
    pub fn import_edge(&mut self, event: &ImportEvent) {
        let start = event.kind == EVENT_KIND_IMPORT_START;
        let site = if start && event.site.code_addr != 0 {
            self.symbolizers
                .get_mut(&event.pid)
                .and_then(|s| s.frame(event.site))
                .map(|frame| self.intern(frame))
        } else {
            None
        };
        let stack = self.import_stacks.entry(event.tid).or_default();
        let module = if start {
            let module = decode::c_string(&event.name);
            stack.push(module.clone());
            module
        } else {
            // An end without its start (attached mid-import) is dropped.
            let Some(module) = stack.pop() else { return };
            module
        };
        self.event_time(event.ktime_ns);
        self.trace.imports.push(TraceImportEdge {
            edge: if start {
                ImportEdge::Start
            } else {
                ImportEdge::End
            },
            pid: event.pid,
            tid: event.tid,
            ts_ns: event.ktime_ns,
            module,
            failed: !start && event.result == 0,
            site,
            file: None,
            loader: None,
        });
    }

    /// Keeps one module body start or end as a body edge (the import tree
    /// decides whether it is an import of its own).
    pub fn module_body_edge(&mut self, event: &ModuleExecEvent) {
        let stack = self.body_stacks.entry(event.tid).or_default();
        let (edge, module, site, file, loader) = if event.kind == EVENT_KIND_MODULE_EXEC_START {
            let file = decode::c_string(&event.path);
            self.body_spans.started(event, file.clone());
            let Some(symbolizer) = self.symbolizers.get_mut(&event.pid) else {
                stack.push(None);
                return;
            };
            let count = (event.caller_count as usize).min(event.callers.len());
            let callers: Vec<Option<Frame>> = event.callers[..count]
                .iter()
                .filter(|f| f.code_addr != 0)
                .map(|&raw| symbolizer.frame(raw))
                .collect();
            if Runtime::of_code_file(&file).is_some()
                && !self.runtime_code_pids.contains(&event.pid)
            {
                self.runtime_code_pids.push(event.pid);
            }
            let module = match self.module_names.kind(event.pid, &file, &callers) {
                BodyKind::Main => MAIN_MODULE.to_string(),
                BodyKind::Module(name) => name,
                BodyKind::NotModule => {
                    stack.push(None);
                    return;
                }
            };
            stack.push(Some(module.clone()));
            let asking = asking_frame(&callers).and_then(|i| callers[i].clone());
            let runtime = loader_among(&module, &callers);
            if let Some(runtime) = runtime {
                self.handler_modules.push(HandlerModule {
                    pid: event.pid,
                    runtime,
                    module_code: event.code_addr,
                    started_ns: event.ktime_ns,
                    consts: Vec::new(),
                });
            }
            let site = asking.map(|frame| self.intern(frame));
            let loader = runtime.map(|r| r.name().to_string());
            (ImportEdge::BodyStart, module, site, Some(file), loader)
        } else {
            self.body_spans.ended(event);
            // An end without its start (attached mid-body) is dropped.
            let Some(Some(module)) = stack.pop() else {
                return;
            };
            (ImportEdge::BodyEnd, module, None, None, None)
        };
        self.event_time(event.ktime_ns);
        self.trace.imports.push(TraceImportEdge {
            edge,
            pid: event.pid,
            tid: event.tid,
            ts_ns: event.ktime_ns,
            module,
            failed: edge == ImportEdge::BodyEnd && event.code_addr == 0,
            site,
            file,
            loader,
        });
    }

    /// Keeps a handler call's edge as an `invoke_start` / `invoke_end` mark
    /// of its thread.
    pub fn invocation_mark(&mut self, event: &InvocationEvent) {
        let name = if event.kind == EVENT_KIND_INVOCATION_START {
            "invoke_start"
        } else {
            "invoke_end"
        };
        // The caller, as `FILE:FUNCTION`: the phases keep the calls a
        // runtime's own code made. Its names as the kernel read them when
        // the process is gone (a worker stopped before this drain).
        let caller = self
            .symbolizers
            .get_mut(&event.pid)
            .filter(|_| event.caller.code_addr != 0)
            .and_then(|s| s.frame(event.caller))
            .map(|f| format!("{}:{}", f.file, f.function))
            .unwrap_or_else(|| {
                let file = decode::c_string(&event.caller_file);
                if file.is_empty() {
                    return String::new();
                }
                let qualname = decode::c_string(&event.caller_qualname);
                let function = qualname.rsplit_once('.').map_or(&*qualname, |(_, f)| f);
                format!("{file}:{function}")
            });
        self.event_time(event.ktime_ns);
        self.trace.phases.push(PhaseMark {
            name: name.to_string(),
            ts_ns: event.ktime_ns,
            detail: caller,
            tid: Some(event.tid),
        });
    }

    /// The code object of function `name` defined in a handler module (see
    /// [`Symbolizer::nested_function_code`]).
    pub fn handler_code(&self, module: &HandlerModule, name: &str, code_type: u64) -> Option<u64> {
        let symbolizer = self.symbolizers.get(&module.pid)?;
        symbolizer
            .nested_function_code(module.module_code, name, code_type)
            .or_else(|| symbolizer.function_code_among(&module.consts, name, code_type))
    }

    /// Keeps a module body's constants with its handler module, if it is
    /// one not watched yet (they follow its start in the ring).
    pub fn module_consts_of(&mut self, event: &ModuleConstsEvent) {
        let count = (event.count as usize).min(event.items.len());
        if let Some(module) = self
            .handler_modules
            .iter_mut()
            .rev()
            .find(|m| m.pid == event.pid && m.module_code == event.module_code)
        {
            module.consts = event.items[..count].to_vec();
        }
    }

    /// Handler modules seen since the last call: a known runtime's loader
    /// started running them (the recorder then watches the handler's calls).
    pub fn take_handler_modules(&mut self) -> Vec<HandlerModule> {
        std::mem::take(&mut self.handler_modules)
    }

    /// The processes in which a module body of a known FaaS runtime's own
    /// code (see [`Runtime::of_code_file`]) started since the last call.
    pub fn take_runtime_code_pids(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.runtime_code_pids)
    }

    /// [`Collector::finish`], and the samples one by one if they were kept
    /// ([`Collector::keeping_samples`]), in time order.
    pub fn finish_keeping(mut self, end_ns: u64) -> (Trace, Option<Vec<TraceSample>>) {
        let mut kept = self.kept.take();
        if let Some(kept) = &mut kept {
            kept.sort_by_key(|s| s.ts_ns);
        }
        (self.finish(end_ns), kept)
    }

    /// Puts samples, opens and imports in time order (the ring buffers
    /// interleave, and each is per CPU in submission order only).
    pub fn finish(mut self, end_ns: u64) -> Trace {
        self.trace.samples.sort_by_key(|s| s.ts_ns);
        self.trace.opens.sort_by_key(|o| o.enter_ns);
        self.trace.connects.sort_by_key(|c| c.ts_ns);
        self.trace.imports.sort_by_key(|e| e.ts_ns);
        self.trace.end_ns = end_ns;
        if let Some(mut aggregator) = self.aggregator.take() {
            self.trace.sample_table = Some(aggregator.take(end_ns));
            self.trace.format = Some(TRACE_FORMAT_AGGREGATED);
        }
        self.trace
    }
}
