//! One recording: load the probes, start or attach to the target, follow it
//! through exec and fork until the interpreter is found, drain the ring
//! buffers until the target exits (or time or a signal ends it).

use crate::collect::collector::{drain_control, drain_data};
use crate::collect::Collector;
use crate::error::SetupError;
use crate::loader::Probes;
use crate::model::profile::ProcessSamples;
use crate::model::trace::{Trace, TraceSample};
use crate::python::elf::{path_in_process, ElfInfo};
use crate::python::interpreter::{FindError, Interpreter};
use crate::python::symbolize::Symbolizer;
use crate::record::launch::HeldChild;
use crate::record::{prearm, Target};
use crate::sys::monotonic_ns;
use anyhow::Context as _;
use coldspy_common::lifecycle::{
    LifecycleEvent, EVENT_KIND_ENTRY, EVENT_KIND_EXEC, EVENT_KIND_EXIT, EVENT_KIND_FORK,
};
use coldspy_common::offsets::{
    TargetConfig, TARGET_FOLLOW_CHILDREN, TARGET_STOP_AT_ENTRY, TARGET_STOP_ON_EXEC,
};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the ring buffers are drained.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How long a signalled launch target may take to exit before we stop anyway.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Recording options.
#[derive(Debug)]
pub(super) struct Options {
    /// Sampling frequency (Hz per CPU).
    pub sample_hz: u64,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Time module imports (uprobes on the import path).
    pub track_imports: bool,
    /// Record file opens (`openat` tracepoints).
    pub track_files: bool,
    /// The runner's phase-marks pipe, for `record --handler`.
    pub marks: Option<crate::runner::MarksPipe>,
    /// With `--pid`: also the target's existing descendants and every
    /// process it forks or execs from now on.
    pub subprocesses: bool,
    /// Keep every sample one by one as well (for `--save-trace`), not
    /// only grouped as they come (memory bounded, the same profile).
    pub keep_samples: bool,
    /// Stop after this many handler calls of a watched FaaS runtime.
    pub stop_after_invocations: Option<u32>,
    /// Count what each kernel program costs ([`Recorded::program_costs`]).
    pub program_costs: bool,
}

/// What a recording produced.
#[derive(Debug)]
pub(super) struct Recorded {
    /// The symbolized trace, its samples grouped.
    pub trace: Trace,
    /// Every sample one by one, if [`Options::keep_samples`] asked for them.
    pub kept_samples: Option<Vec<TraceSample>>,
    /// The launched command's exit code (0 for `--pid`).
    pub exit_code: i32,
    /// What coldspy's runner reported failing, with `--handler`.
    pub runner_error: Option<crate::runner::RunnerError>,
    /// The SIGINT, SIGTERM or SIGHUP that ended the recording, if one did.
    pub interrupted_by: Option<i32>,
    /// The launched command ignored that signal for the grace period and
    /// was killed with SIGKILL.
    pub killed_after_grace: bool,
    /// A launched command that outlived `--duration`: the profile is
    /// written first, then [`wait_for_command`] waits for it.
    pub still_running: Option<HeldChild>,
    /// With [`Options::program_costs`]: each kernel program's cost over the
    /// recording.
    pub program_costs: Vec<crate::loader::ProgramCost>,
}

/// Waits for a command that outlived `--duration`, passing SIGINT, SIGTERM
/// and SIGHUP on to it as during the recording; returns its exit code.
pub(super) fn wait_for_command(held: &HeldChild) -> i32 {
    loop {
        if let Some(code) = held.try_wait() {
            return code;
        }
        if let Some(slot) = SIGNAL_SLOT.get() {
            let sig = slot.swap(0, Ordering::SeqCst);
            if sig != 0 {
                send_signal(held.pid, sig);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn load_probes(sample_hz: u64, track_files: bool) -> anyhow::Result<Probes> {
    // Privileges were checked before; a refusal here is the verifier's or the kernel's.
    Probes::load(sample_hz, track_files).context("loading coldspy's eBPF programs")
}

fn send_signal(pid: u32, signal: i32) {
    // SAFETY: plain kill(2).
    unsafe { libc::kill(pid as i32, signal) };
}

/// State of one recording.
struct Session {
    probes: Probes,
    collector: Collector,
    main_pid: Option<u32>,
    interpreter: Option<Interpreter>,
    /// How imports are observed (`uprobe:<symbol>`), once attached.
    import_route: Option<String>,
    /// Whether to attach the import probes.
    track_imports: bool,
    /// Whether to record file opens and network connections.
    track_files: bool,
    /// The FaaS runtime whose handler calls are watched, once they are.
    watched: Option<crate::model::runtime::Runtime>,
    /// An interpreter (its pid) was released from its last stop: the work
    /// that waits for that runs once the events at hand are handled.
    released: Option<u32>,
    /// Whether the connect probe is attached (or was tried).
    connects_attached: bool,
}

impl Session {
    /// A recording with `probes` loaded, nothing attached to a target yet.
    fn new(probes: Probes, options: &Options) -> Self {
        Session {
            probes,
            collector: if options.keep_samples {
                Collector::bounded().keeping_samples()
            } else {
                Collector::bounded()
            },
            main_pid: None,
            interpreter: None,
            import_route: None,
            track_imports: options.track_imports,
            track_files: options.track_files,
            watched: None,
            released: None,
            connects_attached: false,
        }
    }

    fn configure(&mut self, interpreter: Interpreter, extra_flags: u32) -> anyhow::Result<()> {
        let pid = interpreter.pid;
        self.attach_import_probes(&interpreter);
        self.probes.set_target(
            pid,
            interpreter
                .target_config(extra_flags | super::handler_watch::target_flags(&interpreter)),
        )?;
        self.collector
            .add_process(pid, Symbolizer::new(pid, interpreter.layout));
        if self.interpreter.is_none() {
            log::info!(
                "pid {pid}: CPython {} ({} build, {}), layout {}",
                interpreter.version,
                interpreter.build,
                interpreter.binary.display(),
                interpreter.layout_source
            );
            self.main_pid = Some(pid);
            self.interpreter = Some(interpreter);
        }
        Ok(())
    }

    /// Makes the existing descendants of `pid` targets: interpreters are
    /// configured, anything else (a shell between two interpreters) is
    /// followed so that what it forks or execs is seen.
    fn adopt_descendants(&mut self, pid: u32) -> anyhow::Result<()> {
        for descendant in crate::sys::proc::descendants(pid) {
            match Interpreter::find(descendant) {
                Ok(interpreter) => self.configure(interpreter, TARGET_FOLLOW_CHILDREN)?,
                Err(FindError::NoProcess(_)) => {}
                Err(_) => {
                    let config = TargetConfig {
                        flags: TARGET_FOLLOW_CHILDREN | TARGET_STOP_ON_EXEC,
                        ..TargetConfig::default()
                    };
                    self.probes.set_target(descendant, config)?;
                }
            }
        }
        Ok(())
    }

    /// Attaches the import probes to the interpreter's binary (the loader
    /// does it once per file). Without them the recording goes on with CPU
    /// samples only.
    fn attach_import_probes(&mut self, interpreter: &Interpreter) {
        if !self.track_imports {
            return;
        }
        let on_host = path_in_process(interpreter.pid, &interpreter.binary);
        let Some((_, points)) = interpreter.import_probe_point() else {
            eprintln!(
                "coldspy: warning: {} exports no import-path function; recording CPU samples only",
                interpreter.binary.display()
            );
            return;
        };
        match self.probes.attach_import_probes(&on_host, &points) {
            Ok(()) => {
                self.import_route
                    .get_or_insert_with(|| interpreter.import_route());
            }
            Err(e) => eprintln!("coldspy: warning: no import timing: {e}"),
        }
    }

    /// Attaches what can be attached before a started command runs (see
    /// [`crate::record::prearm`]); returns the flags its first stop needs.
    fn prearm(&mut self, program: &std::path::Path) -> u32 {
        let Some(plan) = prearm::plan(program) else {
            return TARGET_STOP_ON_EXEC;
        };
        if let Some((binary, points)) = plan.import_probe.as_ref().filter(|_| self.track_imports) {
            if self.probes.attach_import_probes(binary, points).is_err() {
                return TARGET_STOP_ON_EXEC;
            }
        }
        match (plan.kind, &plan.entry_probe) {
            (prearm::Prearmed::Shared, Some((exe, offset))) => {
                if self.probes.attach_entry(exe, *offset).is_ok() {
                    TARGET_STOP_AT_ENTRY
                } else {
                    TARGET_STOP_ON_EXEC
                }
            }
            _ => TARGET_STOP_ON_EXEC,
        }
    }

    /// A launched process (or one of its descendants) stopped at exec or at
    /// its entry point: find the interpreter, or wait for the next stop.
    fn on_stop(&mut self, event: &LifecycleEvent) -> anyhow::Result<()> {
        let pid = event.pid;
        let begun = Instant::now();
        let waited_us = monotonic_ns().saturating_sub(event.ktime_ns) / 1000;
        let flags = self.probes.target(pid).map(|c| c.flags).unwrap_or(0)
            & (TARGET_FOLLOW_CHILDREN | TARGET_STOP_ON_EXEC);
        let result = match Interpreter::find(pid) {
            Ok(interpreter) => {
                // No stop follows: the configuration drops the entry stop of
                // a build found at its exec notice (its libpython mapped by
                // the time the notice is read), so this is its release,
                // stopped or not. Whatever waits for the release runs after
                // the whole drain, once an entry stop in it is resumed.
                self.released = Some(pid);
                self.configure(interpreter, TARGET_FOLLOW_CHILDREN)
            }
            Err(FindError::NotYetLoaded(_)) => self.stop_at_entry(pid, flags),
            // A wrapper (env, sh, a shim): keep following it.
            Err(FindError::NotPython { .. }) => Ok(()),
            Err(FindError::NoProcess(_)) => Ok(()),
            Err(e) => Err(e.into_user_error()),
        };
        if event.stopped != 0 {
            send_signal(pid, libc::SIGCONT);
        }
        log::debug!(
            "pid {pid}: stop (kind {}) seen after {waited_us} us, handled in {} us",
            event.kind,
            begun.elapsed().as_micros()
        );
        result
    }

    /// libpython is not mapped yet: stop again at the executable's entry point.
    fn stop_at_entry(&mut self, pid: u32, flags: u32) -> anyhow::Result<()> {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))?;
        let on_host = path_in_process(pid, &exe);
        let elf = ElfInfo::read(&on_host)?;
        let offset = elf
            .file_offset(elf.entry)
            .with_context(|| format!("entry point of {} is outside its segments", exe.display()))?;
        let config = TargetConfig {
            flags: flags | TARGET_STOP_AT_ENTRY,
            ..TargetConfig::default()
        };
        self.probes.set_target(pid, config)?;
        let attach = Instant::now();
        self.probes.attach_entry(&on_host, offset)?;
        log::debug!(
            "pid {pid}: entry uprobe attached in {} us",
            attach.elapsed().as_micros()
        );
        Ok(())
    }

    fn on_fork(&mut self, parent: u32, child: u32, fork_ns: u64) {
        // Threads share the parent's tgid and need nothing; a new process
        // shares the parent's memory layout, so symbolize it the same way.
        if !crate::sys::proc::is_process(child) {
            return;
        }
        self.probes.watch_forked(parent, child, fork_ns);
        // Any interpreter's child, at any depth (a worker of a forkserver, a
        // fork of a fork), inherits its parent's layout.
        if let Some(layout) = self.collector.layout_of(parent) {
            self.collector
                .add_process(child, Symbolizer::new(child, layout));
        }
    }
}

/// Records a target until it exits, `duration` passes, or SIGINT, SIGTERM
/// or SIGHUP (a closed terminal) arrives: each is passed on to a launched
/// command, which gets [`EXIT_GRACE`] to exit before SIGKILL.
pub(super) fn record(target: &Target, mut options: Options) -> anyhow::Result<Recorded> {
    let marks_pipe = options.marks.take();
    let signal = install_stop_signals()?;
    // Attach-time checks first: they fail fast, before loading anything.
    let attached = match target {
        Target::Pid(pid) => Some(Interpreter::find(*pid).map_err(FindError::into_user_error)?),
        Target::Launch(..) => None,
    };
    let mut probes = load_probes(options.sample_hz, options.track_files)?;
    if options.program_costs {
        probes.count_program_costs()?;
    }
    let mut session = Session::new(probes, &options);
    let (start_ns, child, mut marks) = match (target, attached) {
        (Target::Launch(program, argv), _) => {
            let (start_ns, held, marks) = session.launch(program, argv, marks_pipe, &signal)?;
            session.collector.event_time(start_ns);
            (start_ns, Some(held), marks)
        }
        (Target::Pid(pid), Some(interpreter)) => {
            session.probes.attach_connects(session.track_files);
            session.connects_attached = true;
            let start_ns = monotonic_ns();
            session.collector.event_time(start_ns);
            let follow = if options.subprocesses {
                TARGET_FOLLOW_CHILDREN
            } else {
                0
            };
            session.configure(interpreter, follow)?;
            session.watch_warm(*pid);
            if options.subprocesses {
                // After the parent follows its children, so that a fork
                // racing this walk is caught by the kernel instead.
                session.adopt_descendants(*pid)?;
            }
            (start_ns, None, None)
        }
        (Target::Pid(_), None) => unreachable!("attach checked above"),
    };
    let ended = session.follow(child.as_ref(), &signal, &options, &mut marks)?;
    let end_ns = monotonic_ns();
    session.collector.drain(&mut session.probes);
    let marks_text = marks.map(MarksReader::finish).unwrap_or_default();
    let (phases, runner_error) = crate::runner::parse_marks(&marks_text);
    for mark in &phases {
        session.collector.event_time(mark.ts_ns);
    }
    let exit_code = ended.exit_code;
    // --duration ended the recording while the command runs on: the caller
    // writes the profile, then waits for it.
    let still_running = child.filter(|held| {
        !ended.signalled
            && held.try_wait().is_none()
            && (options.duration.is_some() || options.stop_after_invocations.is_some())
    });
    let program_costs = if options.program_costs {
        session.probes.program_costs()
    } else {
        Vec::new()
    };
    let (mut trace, kept_samples) = session.finish(target, &options, start_ns, end_ns);
    // The runtime watch's marks are in already.
    trace.phases.extend(phases);
    trace.phases.sort_by_key(|m| m.ts_ns);
    Ok(Recorded {
        trace,
        kept_samples,
        exit_code,
        runner_error,
        interrupted_by: ended.interrupted_by,
        killed_after_grace: ended.killed_after_grace,
        still_running,
        program_costs,
    })
}

/// SIGINT, SIGTERM and SIGHUP (a closed terminal) recorded into the
/// returned slot instead of killing us.
fn install_stop_signals() -> anyhow::Result<Arc<AtomicI32>> {
    let signal = Arc::new(AtomicI32::new(0));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        register_signal(sig, Arc::clone(&signal))?;
    }
    Ok(signal)
}

/// How the follow loop ended.
struct Ended {
    /// The launched command's exit code, if it exited.
    exit_code: i32,
    /// The SIGINT or SIGTERM that ended the recording.
    interrupted_by: Option<i32>,
    /// Whether a signal was passed on to the launched command.
    signalled: bool,
    /// It ignored the signal for [`EXIT_GRACE`] and was killed.
    killed_after_grace: bool,
}

impl Session {
    /// Starts a command held before exec, arms its first stop, and lets it
    /// run; returns the start time, the child and the marks reader (made
    /// once the child holds its inherited write end).
    fn launch(
        &mut self,
        program: &std::path::Path,
        argv: &[String],
        marks_pipe: Option<crate::runner::MarksPipe>,
        signal: &AtomicI32,
    ) -> anyhow::Result<(u64, HeldChild, Option<MarksReader>)> {
        let mut held = HeldChild::spawn(program, argv)
            .with_context(|| format!("starting {}", program.display()))?;
        let marks = marks_pipe.map(MarksReader::new);
        let first_stop = self.prearm(program);
        let config = TargetConfig {
            flags: first_stop | TARGET_FOLLOW_CHILDREN,
            ..TargetConfig::default()
        };
        self.probes.set_target(held.pid, config)?;
        // Interrupted while loading: never start the command.
        let sig = signal.load(Ordering::SeqCst);
        if sig != 0 {
            send_signal(held.pid, libc::SIGKILL);
            held.wait();
            return Err(SetupError::Interrupted {
                signal: sig,
                what: program.display().to_string(),
            }
            .into());
        }
        let start_ns = monotonic_ns();
        held.release().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::EACCES) {
                anyhow::Error::new(SetupError::CommandNotFound(format!(
                    "{}: {e}",
                    program.display()
                )))
            } else {
                anyhow::Error::new(e).context(format!("executing {}", program.display()))
            }
        })?;
        Ok((start_ns, held, marks))
    }

    /// Drains the ring buffers and handles lifecycle events until the target
    /// exits, the duration passes, or a signal ends the recording.
    fn follow(
        &mut self,
        child: Option<&HeldChild>,
        signal: &AtomicI32,
        options: &Options,
        marks: &mut Option<MarksReader>,
    ) -> anyhow::Result<Ended> {
        let duration = options.duration;
        let started = Instant::now();
        let mut stop_deadline: Option<Instant> = None;
        let mut ended = Ended {
            exit_code: 0,
            interrupted_by: None,
            signalled: false,
            killed_after_grace: false,
        };
        loop {
            let main_exited = match self.handle_events() {
                Ok(exited) => exited,
                Err(e) => {
                    if let Some(child) = child {
                        send_signal(child.pid, libc::SIGKILL);
                        child.wait();
                    }
                    return Err(e);
                }
            };
            if let Some(held) = child {
                if let Some(code) = held.try_wait() {
                    ended.exit_code = code;
                    break;
                }
            } else if main_exited
                || !std::path::Path::new(&format!("/proc/{}", self.main_pid.unwrap_or(0))).exists()
            {
                break;
            }
            let sig = signal.swap(0, Ordering::SeqCst);
            if sig != 0 {
                ended.interrupted_by = Some(sig);
                match child {
                    Some(held) if stop_deadline.is_none() => {
                        // Pass the signal on like a supervisor; record until it exits.
                        send_signal(held.pid, sig);
                        stop_deadline = Some(Instant::now() + EXIT_GRACE);
                        ended.signalled = true;
                    }
                    _ => break,
                }
            }
            if stop_deadline.is_some_and(|d| Instant::now() > d) {
                if let Some(held) = child {
                    match held.try_wait() {
                        Some(code) => ended.exit_code = code,
                        None => {
                            // It ignored the signal for the whole grace period.
                            send_signal(held.pid, libc::SIGKILL);
                            ended.exit_code = held.wait();
                            ended.killed_after_grace = true;
                        }
                    }
                }
                break;
            }
            if duration.is_some_and(|d| started.elapsed() >= d)
                || self.invocations_done(options.stop_after_invocations)
            {
                break;
            }
            if let Some(reader) = marks {
                reader.read_available();
                // Before the samples near them are grouped.
                for ts_ns in reader.new_mark_times() {
                    self.collector.event_time(ts_ns);
                }
            }
            self.probes.wait_for_control(POLL_INTERVAL);
        }
        Ok(ended)
    }

    /// One drain: lifecycle events handled; whether the main process exited.
    fn handle_events(&mut self) -> anyhow::Result<bool> {
        // Forks before the data: a child's first samples and handler calls
        // may be in this drain, and are read with its symbolizer (a
        // pre-fork server's worker answers its first requests at once).
        let mut events = drain_control(&mut self.probes);
        for event in events.iter().filter(|e| e.kind == EVENT_KIND_FORK) {
            self.on_fork(event.pid, event.other_pid, event.ktime_ns);
        }
        events.extend(drain_data(&mut self.probes, &mut self.collector));
        let runtime_pids = self.collector.take_runtime_code_pids();
        if !runtime_pids.is_empty() {
            self.ready_handler_watch();
            if self
                .interpreter
                .as_ref()
                .is_some_and(|i| super::handler_watch::watchable(i.version))
            {
                for pid in runtime_pids {
                    self.probes.flag_watch_handlers(pid);
                }
            }
        }
        self.watch_handlers();
        let mut main_exited = false;
        for event in &events {
            match event.kind {
                EVENT_KIND_EXEC | EVENT_KIND_ENTRY => self.on_stop(event)?,
                EVENT_KIND_EXIT => main_exited |= Some(event.pid) == self.main_pid,
                _ => {}
            }
        }
        if let Some(pid) = self.released.take() {
            self.after_release(pid);
        }
        Ok(main_exited)
    }

    /// Loads what the interpreter's start does not wait for, once every
    /// stop at hand is released: done at the release itself, the connect
    /// probe (≈ 13 ms) held a shared build waiting at its entry stop for
    /// that long. The handler watch too when the command line names a FaaS
    /// runtime (long before it can have loaded its handler).
    fn after_release(&mut self, pid: u32) {
        if !std::mem::replace(&mut self.connects_attached, true) {
            self.probes.attach_connects(self.track_files);
        }
        let command = crate::sys::proc::cmdline(pid);
        if crate::model::runtime::Runtime::of_command(&command).is_some() {
            self.ready_handler_watch();
        }
    }

    /// Verifies the handler watch (≈ 30 ms, once) when a FaaS runtime is in
    /// sight: its command line, or a module body of its own code. Only
    /// then: the event loop drains nothing while the verifier runs, and a
    /// short script that ends meanwhile has its last samples read after its
    /// exit, when its code objects can no longer be read.
    fn ready_handler_watch(&mut self) {
        if !self
            .interpreter
            .as_ref()
            .is_some_and(|i| super::handler_watch::watchable(i.version))
        {
            return;
        }
        if let Err(e) = self.probes.verify_handler_watch() {
            eprintln!("coldspy: warning: FaaS handler calls cannot be watched: {e}");
        }
    }

    /// Sets the handler watch for each handler module a known runtime
    /// started loading (while its body runs, its code object is alive).
    fn watch_handlers(&mut self) {
        let Some(interpreter) = &self.interpreter else {
            return;
        };
        if let Some(runtime) = super::handler_watch::watch_loaded_handlers(
            &mut self.collector,
            &mut self.probes,
            interpreter.version,
            interpreter.code_type_addr,
        ) {
            self.watched = Some(runtime);
        }
    }

    /// Attached to a warm FaaS runtime: watches its handler's calls from
    /// now on (the import that would show the handler happened long ago).
    fn watch_warm(&mut self, pid: u32) {
        let command = crate::sys::proc::cmdline(pid);
        let Some(runtime) = crate::model::runtime::Runtime::of_command(&command) else {
            return;
        };
        let Some(interpreter) = &self.interpreter else {
            return;
        };
        if !super::handler_watch::watchable(interpreter.version) {
            eprintln!(
                "coldspy: warning: {}: handler calls are watched on CPython 3.11+ only",
                runtime.name()
            );
            return;
        }
        let Some(function) = super::handler_watch::handler_function_of(pid, runtime) else {
            return;
        };
        match super::warm::handler_code(interpreter, runtime, &function) {
            Ok(code) => {
                if super::handler_watch::watch(&mut self.probes, pid, runtime, &function, code) {
                    self.watched = Some(runtime);
                }
            }
            Err(why) => eprintln!("coldspy: warning: invocations are not counted: {why}"),
        }
    }

    /// Whether the handler calls asked for (`--invocations`) were seen.
    fn invocations_done(&self, wanted: Option<u32>) -> bool {
        match (wanted, self.watched) {
            (Some(n), Some(runtime)) => {
                crate::model::phases::count_handler_calls(&self.collector.trace.phases, runtime)
                    >= n as usize
            }
            _ => false,
        }
    }

    /// The trace of the session, with its metadata.
    fn finish(
        self,
        target: &Target,
        options: &Options,
        start_ns: u64,
        end_ns: u64,
    ) -> (Trace, Option<Vec<TraceSample>>) {
        let (lost_samples, lost_events) = self.probes.lost_counts();
        let read_failures = self.probes.read_failures();
        let (mut trace, kept) = self.collector.finish_keeping(end_ns);
        trace.read_failures = read_failures;
        trace.start_ns = start_ns;
        fill_meta(
            &mut trace,
            target,
            self.interpreter.as_ref(),
            self.main_pid,
            options,
            lost_samples,
            lost_events,
        );
        trace.meta.import_route = self.import_route.unwrap_or_else(|| "none".to_string());
        (trace, kept)
    }
}

static SIGNAL_SLOT: std::sync::OnceLock<Arc<AtomicI32>> = std::sync::OnceLock::new();

/// A SIGINT, SIGTERM or SIGHUP caught since the last call (the handlers stay
/// installed after the recording: `--verify` stops on one).
pub(super) fn take_signal() -> Option<i32> {
    let sig = SIGNAL_SLOT.get()?.swap(0, Ordering::SeqCst);
    (sig != 0).then_some(sig)
}

extern "C" fn on_signal(sig: i32) {
    if let Some(slot) = SIGNAL_SLOT.get() {
        slot.store(sig, Ordering::SeqCst);
    }
}

fn register_signal(sig: i32, slot: Arc<AtomicI32>) -> anyhow::Result<()> {
    let _ = SIGNAL_SLOT.set(slot);
    // SAFETY: the handler only stores into an atomic (async-signal-safe).
    let previous = unsafe { libc::signal(sig, on_signal as *const () as usize) };
    anyhow::ensure!(
        previous != libc::SIG_ERR,
        "cannot install a handler for signal {sig}"
    );
    Ok(())
}

/// The read end of the runner's marks pipe, read without blocking.
struct MarksReader {
    /// The pipe, until EOF.
    file: Option<std::fs::File>,
    /// What was read so far.
    text: String,
    /// How much of `text` [`MarksReader::new_mark_times`] has parsed.
    parsed: usize,
}

impl MarksReader {
    /// Keeps the read end (non-blocking) and closes our copy of the write
    /// end: the runner writes to the one it inherited.
    fn new(pipe: crate::runner::MarksPipe) -> Self {
        use std::os::fd::AsRawFd;
        drop(pipe.write);
        let file = std::fs::File::from(pipe.read);
        // SAFETY: setting O_NONBLOCK on our own descriptor.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        Self {
            file: Some(file),
            text: String::new(),
            parsed: 0,
        }
    }

    /// Reads what the runner wrote so far; drops the pipe at EOF.
    fn read_available(&mut self) {
        use std::io::Read;
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let mut buf = [0u8; 4096];
        loop {
            match file.read(&mut buf) {
                Ok(0) => {
                    self.file = None;
                    return;
                }
                Ok(n) => self.text.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(_) => return,
            }
        }
    }

    /// The times of the marks whose lines were completed since the last call.
    fn new_mark_times(&mut self) -> Vec<u64> {
        let Some(end) = self.text.rfind('\n').map(|i| i + 1) else {
            return Vec::new();
        };
        if end <= self.parsed {
            return Vec::new();
        }
        let (marks, _) = crate::runner::parse_marks(&self.text[self.parsed..end]);
        self.parsed = end;
        marks.into_iter().map(|m| m.ts_ns).collect()
    }

    /// Everything the runner wrote.
    fn finish(mut self) -> String {
        self.read_available();
        self.text
    }
}

fn fill_meta(
    trace: &mut Trace,
    target: &Target,
    interpreter: Option<&Interpreter>,
    main_pid: Option<u32>,
    options: &Options,
    lost_samples: u64,
    lost_events: u64,
) {
    let by_pid = trace.samples_by_pid();
    let meta = &mut trace.meta;
    meta.coldspy_version = env!("CARGO_PKG_VERSION").to_string();
    meta.host = crate::sys::proc::host_name();
    meta.kernel = crate::sys::proc::kernel_release();
    meta.started_at = humantime::format_rfc3339_seconds(
        std::time::SystemTime::now()
            - Duration::from_nanos(monotonic_ns().saturating_sub(trace.start_ns)),
    )
    .to_string();
    meta.sample_hz = options.sample_hz as u32;
    meta.lost_samples = lost_samples;
    meta.lost_events = lost_events;
    meta.pid = main_pid.unwrap_or(0);
    let mut pids: Vec<u32> = by_pid.keys().copied().collect();
    pids.retain(|&p| Some(p) != main_pid);
    if let Some(main) = main_pid {
        pids.insert(0, main);
    }
    meta.processes = pids
        .iter()
        .map(|&pid| ProcessSamples {
            pid,
            samples: by_pid.get(&pid).copied().unwrap_or(0),
        })
        .collect();
    meta.pids = pids;
    meta.command = match target {
        Target::Launch(_, argv) => argv.clone(),
        Target::Pid(pid) => crate::sys::proc::cmdline(*pid),
    };
    if let Some(interpreter) = interpreter {
        meta.python_version = interpreter.version.to_string();
        meta.python_executable = interpreter.binary.display().to_string();
        meta.layout_source = interpreter.layout_source.clone();
    }
}
