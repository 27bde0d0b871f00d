//! Loads coldspy's eBPF programs, attaches them, and owns their lifetime:
//! dropping a [`Probes`] detaches everything.

use crate::python::interpreter::ImportProbePoints;
use aya::maps::{Array, HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::{PerfEvent, Program, TracePoint, UProbe};
use aya::{Ebpf, EbpfLoader};
use coldspy_common::invocation::{HandlerKey, HANDLER_BASE};
use coldspy_common::offsets::TargetConfig;
use coldspy_common::system_wide::ExeKey;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

/// Errors loading or attaching the programs.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The kernel refused to load the programs.
    #[error("cannot load the eBPF programs: {0}")]
    Load(#[from] aya::EbpfError),
    /// A program could not be attached.
    #[error("cannot attach {what}: {source}")]
    Attach {
        /// Which program.
        what: String,
        /// Why.
        source: aya::programs::ProgramError,
    },
    /// A map is missing from the object (a build problem).
    #[error("eBPF object has no map or program {0}")]
    Missing(String),
    /// A map operation failed.
    #[error("eBPF map {what}: {source}")]
    Map {
        /// Which map.
        what: String,
        /// Why.
        source: aya::maps::MapError,
    },
    /// Reading the tracepoint format or CPU list failed.
    #[error("{0}")]
    System(String),
}

/// The tracefs root.
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// The loaded and attached programs, and the maps userspace uses.
pub struct Probes {
    ebpf: Ebpf,
    /// `TARGETS`: tgid → config.
    pub targets: BpfHashMap<MapData, u32, TargetConfig>,
    /// Sample ring buffer.
    pub samples: RingBuf<MapData>,
    /// Event ring buffer (file opens, imports).
    pub events: RingBuf<MapData>,
    /// Lifecycle ring buffer (exec, fork, exit, entry stops).
    pub control: RingBuf<MapData>,
    /// Lost-record counters.
    pub lost: PerCpuArray<MapData, u64>,
    /// Read-failure counters by `coldspy_common::diag::FAIL_*` cause.
    pub read_fails: PerCpuArray<MapData, u64>,
    /// The maps of `record --all`, when loaded for it.
    pub system: Option<SystemMaps>,
    logger: Option<aya_log::EbpfLogger<&'static dyn log::Log>>,
    /// Entry uprobes attached so far: (file identity, offset).
    entry_probes: Vec<((u64, u64), u64)>,
    /// Import probes attached so far: (file identity, offset).
    import_probes: Vec<((u64, u64), u64)>,
    /// `HANDLER_REFCOUNTS`: (watched code object, process) → its last count.
    handler_refcounts: BpfHashMap<MapData, HandlerKey, u64>,
    /// The handler watchpoints set, one per thread (closed with the probes
    /// or once the process ended).
    handler_watches: Vec<HandlerWatchpoint>,
    /// The processes whose threads all watch a handler, and since when.
    handler_watched: Vec<WatchedProcess>,
    /// Held while the kernel counts the programs' run time
    /// ([`Probes::count_program_costs`]).
    stats: Option<std::os::fd::OwnedFd>,
}

/// How long after a watch is complete a fork still may not have inherited
/// it (its child copied the events before the watch, its memory after).
const FORK_INHERIT_MARGIN_NS: u64 = 50_000_000;

/// How many times a process's threads are listed while its watch is set.
const WATCH_LISTINGS: usize = 8;

/// One thread's watchpoint over a handler's code object.
struct HandlerWatchpoint {
    pid: u32,
    tid: u32,
    code: u64,
    /// Closing it removes the watchpoint.
    _fd: std::os::fd::OwnedFd,
}

/// A process whose threads all watch a handler's code object, from
/// `complete_ns` (kernel time) on.
struct WatchedProcess {
    pid: u32,
    code: u64,
    complete_ns: u64,
}

/// Bytes of a code object compared by [`holds_same_object`]: its type and
/// the fields after it, none of which change once the object is made
/// (unlike the count in front of them).
const OBJECT_HEADER_BYTES: usize = 56;

/// Whether `child` holds, at `addr`, a copy of the object `parent` has
/// there: it was forked after the object was made.
fn holds_same_object(parent: u32, child: u32, addr: u64) -> bool {
    use crate::python::memory::{ProcessMemory, ReadMemory};
    let read = |pid| {
        ProcessMemory { pid }
            .read_vec(addr + 8, OBJECT_HEADER_BYTES)
            .ok()
    };
    match (read(parent), read(child)) {
        (Some(a), Some(b)) => a == b && a.iter().any(|&byte| byte != 0),
        _ => false,
    }
}

/// What one of coldspy's kernel programs cost while its run time was
/// counted: every run, on every process and CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramCost {
    /// The program's name in the object.
    pub name: String,
    /// How many times it ran.
    pub runs: u64,
    /// Its run time in all, ns.
    pub total_ns: u64,
}

/// The network-connection program (a `sys_enter_connect` tracepoint).
const CONNECT_PROGRAM: &str = "coldspy_connect_loop";

/// The handler-watch program.
const HANDLER_WATCH: &str = "coldspy_handler_watch";

/// The maps the `record --all` daemon shares with the exec hook (see
/// `coldspy_common::system_wide`).
pub struct SystemMaps {
    /// Verdict per executable file.
    pub verdicts: BpfHashMap<MapData, ExeKey, u32>,
    /// Allowed cgroup ids (`--cgroup`).
    pub cgroups: BpfHashMap<MapData, u64, u8>,
    /// The daemon's heartbeat.
    pub heartbeat: Array<MapData, u64>,
    /// Processes held by a hook.
    pub held: BpfHashMap<MapData, u32, u64>,
    /// Per-CPU counters by `COUNT_*`.
    pub counts: PerCpuArray<MapData, u64>,
}

impl SystemMaps {
    /// Resumes (SIGCONT) every process a hook holds and forgets it: the
    /// daemon stopping, or its guardian after the daemon died.
    pub fn resume_held(&mut self) {
        let held: Vec<u32> = self.held.keys().filter_map(Result::ok).collect();
        for pid in held {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(pid as i32, libc::SIGCONT) };
            let _ = self.held.remove(&pid);
        }
    }
}

/// How `record --all` loads the programs.
#[derive(Debug, Clone, Copy)]
pub struct SystemWide {
    /// Whether `CGROUP_ALLOW` filters execs.
    pub cgroup_filter: bool,
}

/// Reads a field's offset from a tracepoint's `format` file.
pub fn tracepoint_field_offset(category: &str, name: &str, field: &str) -> Option<u32> {
    let format =
        std::fs::read_to_string(format!("{TRACEFS}/events/{category}/{name}/format")).ok()?;
    format.lines().find_map(|line| {
        let line = line.trim();
        let decl = line.strip_prefix("field:")?.split(';').next()?;
        let name_part = decl.rsplit(' ').next()?;
        if name_part.trim_end_matches(|c| c == ']' || char::is_numeric(c) || c == '[') != field {
            return None;
        }
        let offset = line
            .split(';')
            .find_map(|p| p.trim().strip_prefix("offset:"))?;
        offset.parse().ok()
    })
}

impl Probes {
    /// Loads the programs and attaches the sampler at `sample_hz` on every
    /// CPU, the lifecycle tracepoints and (with `track_files`) the file-open ones.
    pub fn load(sample_hz: u64, track_files: bool) -> Result<Self, LoadError> {
        Self::load_with(sample_hz, track_files, None)
    }

    /// Attaches the network-connection probe (`sys_enter_connect`), where
    /// the stack walk is a `bpf_loop` (the unrolled one would add ≈ 0.6 s of
    /// verification to every start). It is verified with the programs a
    /// command needs (in parallel, before the release); `record` attaches
    /// it once the target's last stop is released.
    /// Does nothing unless `track_files` (as for the file-open probes).
    pub fn attach_connects(&mut self, track_files: bool) {
        if !track_files {
            return;
        }
        // A kernel that refuses it costs the recording its connections only.
        if let Err(e) = self.try_attach_connects() {
            log::warn!("network connections are not recorded: {e}");
        }
    }

    fn try_attach_connects(&mut self) -> Result<(), LoadError> {
        if sampler_program() != "coldspy_sample_loop" {
            log::debug!("no connect probe: the unrolled stack walk would take too long to verify");
            return Ok(());
        }
        let begun = std::time::Instant::now();
        let program: &mut TracePoint = program(&mut self.ebpf, CONNECT_PROGRAM)?;
        // Verified with the others unless that failed: once more, for its error.
        if program.fd().is_err() {
            program
                .load()
                .map_err(|source| attach_err("sys_enter_connect", source))?;
        }
        program
            .attach("syscalls", "sys_enter_connect")
            .map_err(|source| attach_err("tracepoint syscalls:sys_enter_connect", source))?;
        log::debug!(
            "connect probe attached in {} ms",
            begun.elapsed().as_millis()
        );
        Ok(())
    }

    /// As [`Probes::load`], with the exec hook looking at every process of
    /// the host when `system` is given (`record --all`).
    pub fn load_with(
        sample_hz: u64,
        track_files: bool,
        system: Option<SystemWide>,
    ) -> Result<Self, LoadError> {
        let begun = std::time::Instant::now();
        let mut ebpf = load_object(system)?;
        log::debug!(
            "eBPF object parsed and maps created in {} ms",
            begun.elapsed().as_millis()
        );
        // Kernel-side diagnostics (first read failure of each cause per
        // CPU, `maps::count_read_failures`) at debug level: shown with -vv.
        let logger = match aya_log::EbpfLogger::init(&mut ebpf) {
            Ok(logger) => Some(logger),
            Err(e) => {
                log::debug!("kernel-side log unavailable: {e}");
                None
            }
        };
        let step = std::time::Instant::now();
        let mut programs = programs_before_release();
        // The daemon's start is not a command's: verify everything up front.
        if system.is_some() {
            programs.push((HANDLER_WATCH, HANDLER_WATCH));
        }
        // The connect probe beside them: verified after the release, its
        // ≈ 13 ms of verifier competed with the target's first imports for
        // this machine's two cores. Optional: a kernel that refuses it costs
        // the recording its connections only.
        let connects = (sampler_program() == "coldspy_sample_loop").then_some(CONNECT_PROGRAM);
        programs.extend(connects.map(|name| (name, "sys_enter_connect")));
        verify_in_parallel(&mut ebpf, &programs, connects)?;
        log::debug!(
            "programs verified (in parallel) in {} ms",
            step.elapsed().as_millis()
        );
        let step = std::time::Instant::now();
        attach_sampler(&mut ebpf, sample_hz)?;
        attach_tracepoints(&mut ebpf, track_files)?;
        log::debug!(
            "sampler and tracepoints attached in {} ms; all programs ready {} ms after the start of loading",
            step.elapsed().as_millis(),
            begun.elapsed().as_millis()
        );
        let handler_refcounts = map(&mut ebpf, "HANDLER_REFCOUNTS", BpfHashMap::try_from)?;
        Ok(Self {
            targets: map(&mut ebpf, "TARGETS", BpfHashMap::try_from)?,
            samples: map(&mut ebpf, "SAMPLES", RingBuf::try_from)?,
            events: map(&mut ebpf, "EVENTS", RingBuf::try_from)?,
            control: map(&mut ebpf, "CONTROL", RingBuf::try_from)?,
            lost: map(&mut ebpf, "LOST", PerCpuArray::try_from)?,
            read_fails: map(&mut ebpf, "READ_FAILS", PerCpuArray::try_from)?,
            system: match system {
                Some(_) => Some(SystemMaps {
                    verdicts: map(&mut ebpf, "EXE_VERDICTS", BpfHashMap::try_from)?,
                    cgroups: map(&mut ebpf, "CGROUP_ALLOW", BpfHashMap::try_from)?,
                    heartbeat: map(&mut ebpf, "HEARTBEAT", Array::try_from)?,
                    held: map(&mut ebpf, "HELD", BpfHashMap::try_from)?,
                    counts: map(&mut ebpf, "SYSTEM_COUNTS", PerCpuArray::try_from)?,
                }),
                None => None,
            },
            ebpf,
            logger,
            entry_probes: Vec::new(),
            import_probes: Vec::new(),
            handler_refcounts,
            handler_watches: Vec::new(),
            handler_watched: Vec::new(),
            stats: None,
        })
    }

    /// Has the kernel count each program's runs and run time from now on
    /// (`BPF_ENABLE_STATS`, kernel 5.8+; host-wide while held, ≈ 20 ns per
    /// run of every BPF program on the host).
    pub fn count_program_costs(&mut self) -> Result<(), LoadError> {
        if self.stats.is_none() {
            let fd = aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(|e| {
                LoadError::System(format!("cannot have the kernel count BPF run time: {e}"))
            })?;
            self.stats = Some(fd);
        }
        Ok(())
    }

    /// The costs counted since [`Probes::count_program_costs`] of the
    /// programs that ran, costliest first.
    pub fn program_costs(&self) -> Vec<ProgramCost> {
        let mut costs: Vec<ProgramCost> = self
            .ebpf
            .programs()
            .filter_map(|(name, program)| {
                let info = program.info().ok()?;
                (info.run_count() > 0).then(|| ProgramCost {
                    name: name.to_string(),
                    runs: info.run_count(),
                    total_ns: info.run_time().as_nanos() as u64,
                })
            })
            .collect();
        costs.sort_by_key(|c| std::cmp::Reverse(c.total_ns));
        costs
    }

    /// Verifies the handler-watch program if not done yet (≈ 30-40 ms of
    /// the kernel's verifier): `record` calls it after the release, once a
    /// FaaS runtime is in sight, so it overlaps the runtime's start rather
    /// than holding the command; [`Probes::watch_handler`] calls it too.
    pub fn verify_handler_watch(&mut self) -> Result<(), LoadError> {
        let program: &mut PerfEvent = program(&mut self.ebpf, HANDLER_WATCH)?;
        if program.fd().is_ok() {
            return Ok(());
        }
        let begun = std::time::Instant::now();
        program
            .load()
            .map_err(|source| attach_err(HANDLER_WATCH, source))?;
        log::debug!(
            "handler watch verified in {} ms",
            begun.elapsed().as_millis()
        );
        Ok(())
    }

    /// Attaches the entry uprobe to `binary` (file offset `offset`). It is
    /// attached for all processes, because a task-bound uprobe costs ~25 ms
    /// to install while the target waits; the program acts only on targets
    /// flagged `TARGET_STOP_AT_ENTRY`. Once per binary.
    pub fn attach_entry(&mut self, binary: &Path, offset: u64) -> Result<(), LoadError> {
        let key = (file_identity(binary)?, offset);
        if self.entry_probes.contains(&key) {
            return Ok(());
        }
        let program: &mut UProbe = program(&mut self.ebpf, "coldspy_entry")?;
        program
            .attach(
                aya::programs::uprobe::UProbeAttachLocation::AbsoluteOffset(offset),
                binary,
                aya::programs::uprobe::UProbeScope::AllProcesses,
            )
            .map_err(|source| {
                attach_err(&format!("entry uprobe on {}", binary.display()), source)
            })?;
        self.entry_probes.push(key);
        Ok(())
    }

    /// Attaches the import probes (entry and return) at `points` of
    /// `binary`, for every process (the programs filter on `TARGETS`): on
    /// the function that calls `_find_and_load` and, when exported, on
    /// `PyEval_EvalCode` (module bodies). Once per file, whatever path names it.
    pub fn attach_import_probes(
        &mut self,
        binary: &Path,
        points: &ImportProbePoints,
    ) -> Result<(), LoadError> {
        let identity = file_identity(binary)?;
        let pairs = [
            (
                Some(points.find_and_load),
                ["coldspy_import_enter", "coldspy_import_exit"],
            ),
            (
                points.module_body,
                ["coldspy_module_exec_enter", "coldspy_module_exec_exit"],
            ),
        ];
        for (offset, names) in pairs {
            let Some(offset) = offset else { continue };
            // Each pair once per file: a retry after a failure does not
            // attach the pair that succeeded a second time.
            if self.import_probes.contains(&(identity, offset)) {
                continue;
            }
            for name in names {
                let program: &mut UProbe = program(&mut self.ebpf, name)?;
                program
                    .attach(
                        aya::programs::uprobe::UProbeAttachLocation::AbsoluteOffset(offset),
                        binary,
                        aya::programs::uprobe::UProbeScope::AllProcesses,
                    )
                    .map_err(|source| {
                        attach_err(&format!("{name} on {}", binary.display()), source)
                    })?;
            }
            self.import_probes.push((identity, offset));
        }
        Ok(())
    }

    /// Watches the calls of a handler function: a write watchpoint over its
    /// code object's reference count (`refcnt` now) on every thread of
    /// `pid`, inherited by the threads and processes they start. Returns
    /// the threads watched.
    pub fn watch_handler(
        &mut self,
        pid: u32,
        code_addr: u64,
        refcnt: u64,
    ) -> Result<usize, LoadError> {
        // The process's count, and the one a process it forks starts from.
        for tgid in [pid, HANDLER_BASE] {
            let key = HandlerKey {
                code: code_addr,
                tgid,
                _pad: 0,
            };
            self.handler_refcounts
                .insert(key, refcnt, 0)
                .map_err(|source| LoadError::Map {
                    what: "HANDLER_REFCOUNTS".into(),
                    source,
                })?;
        }
        self.verify_handler_watch()?;
        // The processes `pid` forked since the handler's code object was
        // made hold a copy of it and did not inherit a watch set after
        // their fork (a small handler module's body is over in a
        // millisecond, a pre-fork server's worker forked soon after).
        // Children first: one forked after this scan, before `pid`'s own
        // watch is complete, is caught by [`Probes::watch_forked`].
        let mut watched = 0;
        for child in crate::sys::proc::descendants(pid) {
            if holds_same_object(pid, child, code_addr) {
                log::info!("pid {child}: forked by {pid} before its handler watch: watched too");
                watched += self.watch_process(child, code_addr)?;
            }
        }
        Ok(watched + self.watch_process(pid, code_addr)?)
    }

    /// A fork of a watched process that came before its watch was complete,
    /// or so soon after it that the child may have copied its parent's
    /// events before the watch was set (a big process's fork copies its
    /// memory after its events, then reports the fork): watches the child's
    /// threads when it holds the same code object (a second watchpoint of
    /// an inherited one fires on the same writes and is ignored: the count
    /// did not change). `fork_ns` is the fork's kernel time.
    pub fn watch_forked(&mut self, parent: u32, child: u32, fork_ns: u64) {
        let missed: Vec<u64> = self
            .handler_watched
            .iter()
            .filter(|w| w.pid == parent && fork_ns < w.complete_ns + FORK_INHERIT_MARGIN_NS)
            .map(|w| w.code)
            .filter(|&code| {
                !self
                    .handler_watched
                    .iter()
                    .any(|w| w.pid == child && w.code == code)
            })
            .collect();
        for code in missed {
            if holds_same_object(parent, child, code) {
                log::info!(
                    "pid {child}: forked by {parent} while its handler watch was set: watched too"
                );
                if let Err(e) = self.watch_process(child, code) {
                    log::warn!("pid {child}: handler calls not watched: {e}");
                }
            }
        }
    }

    /// Sets the watchpoint over `code_addr` on each thread of `pid` not
    /// watching it yet, listing the threads again until no new one shows
    /// (a thread started between the listing and its creator's watch did
    /// not inherit it). Returns the threads watched.
    fn watch_process(&mut self, pid: u32, code_addr: u64) -> Result<usize, LoadError> {
        let program: &mut PerfEvent = program(&mut self.ebpf, HANDLER_WATCH)?;
        let program_fd = program
            .fd()
            .map_err(|source| attach_err(HANDLER_WATCH, source))?
            .as_fd()
            .as_raw_fd();
        let mut watched = 0;
        for _ in 0..WATCH_LISTINGS {
            let new: Vec<u32> = crate::sys::proc::threads(pid)
                .into_iter()
                .filter(|&tid| {
                    !self
                        .handler_watches
                        .iter()
                        .any(|w| w.tid == tid && w.code == code_addr)
                })
                .collect();
            if new.is_empty() {
                break;
            }
            for tid in new {
                match crate::sys::watchpoint::watch_writes(tid, code_addr, program_fd) {
                    Ok(fd) => {
                        self.handler_watches.push(HandlerWatchpoint {
                            pid,
                            tid,
                            code: code_addr,
                            _fd: fd,
                        });
                        watched += 1;
                    }
                    // A thread that ended meanwhile.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(e) => {
                        return Err(LoadError::System(format!(
                            "cannot set a watchpoint in thread {tid}: {e}"
                        )))
                    }
                }
            }
        }
        self.handler_watched.push(WatchedProcess {
            pid,
            code: code_addr,
            complete_ns: crate::sys::clock::monotonic_ns(),
        });
        Ok(watched)
    }

    /// Closes the handler watchpoints of processes that ended, and forgets
    /// the counts of ended processes (forked workers included) and of code
    /// objects no live process watches (a long-running daemon).
    pub fn drop_ended_handler_watches(&mut self) {
        // One /proc read per process, not per watched thread.
        let mut ended: Vec<u32> = self.handler_watched.iter().map(|w| w.pid).collect();
        ended.sort_unstable();
        ended.dedup();
        ended.retain(|&pid| !crate::sys::proc::is_process(pid));
        self.handler_watches.retain(|w| !ended.contains(&w.pid));
        self.handler_watched.retain(|w| !ended.contains(&w.pid));
        let watched: Vec<u64> = self.handler_watched.iter().map(|w| w.code).collect();
        let stale: Vec<HandlerKey> = self
            .handler_refcounts
            .keys()
            .filter_map(Result::ok)
            .filter(|key| {
                !watched.contains(&key.code)
                    || (key.tgid != HANDLER_BASE && !crate::sys::proc::is_process(key.tgid))
            })
            .collect();
        for key in stale {
            let _ = self.handler_refcounts.remove(&key);
        }
    }

    /// Flags target `pid` [`TARGET_WATCH_HANDLERS`] (a runtime recognized by
    /// its code, not its command line: its module bodies send their
    /// constants from now on).
    pub fn flag_watch_handlers(&mut self, pid: u32) {
        use coldspy_common::offsets::TARGET_WATCH_HANDLERS;
        if let Some(mut config) = self.target(pid) {
            if config.flags & TARGET_WATCH_HANDLERS == 0 {
                config.flags |= TARGET_WATCH_HANDLERS;
                if let Err(e) = self.set_target(pid, config) {
                    log::warn!("pid {pid}: {e}");
                }
            }
        }
    }

    /// Inserts or replaces a target.
    pub fn set_target(&mut self, pid: u32, config: TargetConfig) -> Result<(), LoadError> {
        self.targets
            .insert(pid, config, 0)
            .map_err(|source| LoadError::Map {
                what: "TARGETS".into(),
                source,
            })
    }

    /// The current config of a target.
    pub fn target(&self, pid: u32) -> Option<TargetConfig> {
        self.targets.get(&pid, 0).ok()
    }

    /// `(lost samples, lost events)`, summed over CPUs.
    pub fn lost_counts(&self) -> (u64, u64) {
        let sum = |index: u32| {
            self.lost
                .get(&index, 0)
                .map(|values| values.iter().sum::<u64>())
                .unwrap_or(0)
        };
        (sum(0), sum(1))
    }

    /// Kernel-side read failures by cause name (only causes seen), summed over CPUs.
    pub fn read_failures(&self) -> std::collections::BTreeMap<String, u64> {
        (0..coldspy_common::diag::FAIL_CAUSES)
            .filter_map(|cause| {
                let count: u64 = self.read_fails.get(&cause, 0).ok()?.iter().sum();
                (count > 0).then(|| (coldspy_common::diag::cause_name(cause).to_string(), count))
            })
            .collect()
    }

    /// Waits until a lifecycle event is ready or `timeout` passes.
    pub fn wait_for_control(&self, timeout: std::time::Duration) {
        use std::os::fd::AsRawFd;
        let mut fds = libc::pollfd {
            fd: self.control.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd; a ring buffer fd is pollable.
        unsafe { libc::poll(&mut fds, 1, millis) };
    }

    /// Per program: `(runs, total ns)` from the kernel's BPF statistics
    /// (the programs' fdinfo); zero unless `kernel.bpf_stats_enabled` is 1.
    pub fn program_stats(&self) -> std::collections::BTreeMap<String, (u64, u64)> {
        use std::os::fd::{AsFd as _, AsRawFd as _};
        self.ebpf
            .programs()
            .filter_map(|(name, program)| {
                let fd = program.fd().ok()?.as_fd().as_raw_fd();
                let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
                let field = |key: &str| -> u64 {
                    info.lines()
                        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
                        .unwrap_or(0)
                };
                Some((name.to_string(), (field("run_cnt:"), field("run_time_ns:"))))
            })
            .collect()
    }

    /// Forwards kernel-side log records to the `log` crate.
    pub fn flush_logs(&mut self) {
        if let Some(logger) = self.logger.as_mut() {
            logger.flush();
        }
    }
}

fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, LoadError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let program = ebpf
        .program_mut(name)
        .ok_or_else(|| LoadError::Missing(name.to_string()))?;
    program
        .try_into()
        .map_err(|source| attach_err(name, source))
}

/// `(device, inode)` of a file: the same file under any path.
fn file_identity(path: &Path) -> Result<(u64, u64), LoadError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::System(format!("cannot stat {}: {e}", path.display())))?;
    Ok((meta.dev(), meta.ino()))
}

/// Takes map `name` out of the object as the type `convert` makes of it.
fn map<T>(
    ebpf: &mut Ebpf,
    name: &str,
    convert: impl FnOnce(aya::maps::Map) -> Result<T, aya::maps::MapError>,
) -> Result<T, LoadError> {
    let map = ebpf
        .take_map(name)
        .ok_or_else(|| LoadError::Missing(name.to_string()))?;
    convert(map).map_err(|source| LoadError::Map {
        what: name.to_string(),
        source,
    })
}

/// The eBPF object, with the globals that describe this kernel set: the
/// tracepoint field offsets from tracefs and the struct offsets from BTF.
fn load_object(system: Option<SystemWide>) -> Result<Ebpf, LoadError> {
    let fork_child = tracepoint_field_offset("sched", "sched_process_fork", "child_pid")
        .ok_or_else(|| {
            LoadError::System("cannot read sched_process_fork's format from tracefs".into())
        })?;
    let group_dead =
        tracepoint_field_offset("sched", "sched_process_exit", "group_dead").unwrap_or(u32::MAX);
    // The defaults in the object are x86-64's; tracefs says what this kernel has.
    let field = |category: &str, event: &str, field: &str, default: u32| {
        tracepoint_field_offset(category, event, field).unwrap_or(default)
    };
    let openat_filename = field("syscalls", "sys_enter_openat", "filename", 24);
    let openat_ret = field("syscalls", "sys_exit_openat", "ret", 16);
    let connect_addr = field("syscalls", "sys_enter_connect", "uservaddr", 24);
    let exec_filename = field("sched", "sched_process_exec", "filename", 8);
    let self_tgid = std::process::id();
    // Without it, 3.9/3.10 threads other than the GIL holder are not told apart.
    // Read once for every offset this load needs.
    // aya parses the kernel's BTF once more when its loader is made: both
    // parses run at once (≈ 20 ms each here).
    let btf_begun = std::time::Instant::now();
    let ours = std::thread::spawn(|| crate::kernel_btf::KernelBtf::from_sys_fs().ok());
    let mut loader = EbpfLoader::new();
    let btf = ours
        .join()
        .map_err(|_| LoadError::System("reading the kernel BTF panicked".into()))?;
    let fsbase = btf
        .as_ref()
        .and_then(|btf| btf.task_fsbase_offset())
        .unwrap_or(u32::MAX);
    log::debug!(
        "kernel BTF read (ours and aya's, at once) in {} ms",
        btf_begun.elapsed().as_millis()
    );
    let (system_wide, cgroup_filter, exe_chain) = match system {
        Some(system) => {
            let chain = btf.as_ref().and_then(|btf| btf.exe_identity_chain()).ok_or_else(|| {
                LoadError::System(format!(
                    "record --all needs the kernel's BTF ({}) to name task_struct.mm, mm_struct.exe_file, file.f_inode, inode.i_ino/i_sb and super_block.s_dev; this kernel's does not",
                    crate::kernel_btf::VMLINUX_BTF
                ))
            })?;
            (1u32, system.cgroup_filter as u32, chain)
        }
        None => (0, 0, [u32::MAX; 6]),
    };
    if system.is_some() {
        // The object's maps are sized for one process tree; the daemon's
        // hold a host's importing threads and its executables.
        use coldspy_common::limits::{MAX_EXE_VERDICTS, MAX_IMPORTING_THREADS_SYSTEM_WIDE};
        loader
            .map_max_entries("IMPORT_STACKS", MAX_IMPORTING_THREADS_SYSTEM_WIDE)
            .map_max_entries("EXEC_STACKS", MAX_IMPORTING_THREADS_SYSTEM_WIDE)
            .map_max_entries("EXE_VERDICTS", MAX_EXE_VERDICTS);
    }
    Ok(loader
        .override_global("SYSTEM_WIDE", &system_wide, true)
        .override_global("CGROUP_FILTER", &cgroup_filter, true)
        .override_global("EXE_CHAIN", &exe_chain, true)
        .override_global("FORK_CHILD_PID_OFFSET", &fork_child, true)
        .override_global("EXIT_GROUP_DEAD_OFFSET", &group_dead, true)
        .override_global("OPENAT_FILENAME_OFFSET", &openat_filename, true)
        .override_global("OPENAT_RET_OFFSET", &openat_ret, true)
        .override_global("CONNECT_ADDR_OFFSET", &connect_addr, true)
        .override_global("EXEC_FILENAME_LOC_OFFSET", &exec_filename, true)
        .override_global("SELF_TGID", &self_tgid, true)
        .override_global("TASK_FSBASE_OFFSET", &fsbase, true)
        .load(aya::include_bytes_aligned!(concat!(
            env!("OUT_DIR"),
            "/coldspy"
        )))?)
}

/// Which sampler program this kernel runs: the `bpf_loop` walk from 5.17
/// (verified ~10x faster), else the unrolled one. `COLDSPY_SAMPLER=unrolled`
/// or `=loop` forces one (for comparing them).
pub fn sampler_program() -> &'static str {
    match std::env::var("COLDSPY_SAMPLER").as_deref() {
        Ok("unrolled") => return "coldspy_sample",
        Ok("loop") => return "coldspy_sample_loop",
        _ => {}
    }
    let release = crate::sys::proc::kernel_release();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    if version >= (5, 17) {
        "coldspy_sample_loop"
    } else {
        "coldspy_sample"
    }
}

/// The programs verified before a command is released, each with what an
/// error names: the sampler, the lifecycle and file-open tracepoints and
/// the uprobes (attached once the interpreter is known). Not the handler
/// watch: it is set only after a runtime loaded its handler, so
/// [`Probes::verify_handler_watch`] runs after the release, for a runtime.
fn programs_before_release() -> Vec<(&'static str, &'static str)> {
    let mut programs = vec![(sampler_program(), "the CPU sampler")];
    programs.extend(TRACEPOINTS.iter().map(|&(name, _, event)| (name, event)));
    programs.extend(UPROBE_PROGRAMS.iter().map(|&name| (name, name)));
    programs
}

/// The tracepoint programs: (program, category, event).
const TRACEPOINTS: [(&str, &str, &str); 5] = [
    ("coldspy_openat_enter", "syscalls", "sys_enter_openat"),
    ("coldspy_openat_exit", "syscalls", "sys_exit_openat"),
    ("coldspy_exec", "sched", "sched_process_exec"),
    ("coldspy_fork", "sched", "sched_process_fork"),
    ("coldspy_exit", "sched", "sched_process_exit"),
];

/// The uprobe programs, attached once a binary is known.
const UPROBE_PROGRAMS: [&str; 5] = [
    "coldspy_entry",
    "coldspy_import_enter",
    "coldspy_import_exit",
    "coldspy_module_exec_enter",
    "coldspy_module_exec_exit",
];

/// The programs whose verification takes longest, longest first (`-vv`
/// prints each one's time): the others take under a millisecond.
const SLOWEST_TO_VERIFY: [&str; 6] = [
    "coldspy_sample",
    "coldspy_sample_loop",
    HANDLER_WATCH,
    "coldspy_module_exec_enter",
    CONNECT_PROGRAM,
    "coldspy_import_enter",
];

/// Where `name` comes in the order of verification: the slowest first.
fn verification_rank(name: &str) -> usize {
    SLOWEST_TO_VERIFY
        .iter()
        .position(|slow| *slow == name)
        .unwrap_or(SLOWEST_TO_VERIFY.len())
}

/// Loads (has the kernel verify) the `programs` named, on one worker per
/// CPU taking the slowest first: verification is CPU work inside
/// `bpf(BPF_PROG_LOAD)`. One program after the other kept the command
/// waiting for their sum; one thread each had the sampler, the slowest,
/// share its CPU with the others and finish last.
/// A program named `optional` that fails is logged, not an error (it is
/// tried again when attached).
fn verify_in_parallel(
    ebpf: &mut Ebpf,
    programs: &[(&str, &str)],
    optional: Option<&str>,
) -> Result<(), LoadError> {
    if let Some((name, _)) = programs
        .iter()
        .find(|(name, _)| ebpf.program(name).is_none())
    {
        return Err(LoadError::Missing(name.to_string()));
    }
    let mut queue: Vec<_> = ebpf
        .programs_mut()
        .filter_map(|(name, program)| {
            let (_, what) = programs.iter().find(|(wanted, _)| *wanted == name)?;
            Some((
                verification_rank(name),
                *what,
                optional == Some(name),
                program,
            ))
        })
        .collect();
    // Popped from the end: the slowest last in the vector.
    queue.sort_by_key(|(rank, ..)| std::cmp::Reverse(*rank));
    let queue = std::sync::Mutex::new(queue);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let verify_next = || {
        let mut outcomes = Vec::new();
        while let Some((_, what, optional, program)) = queue.lock().ok().and_then(|mut q| q.pop()) {
            let begun = std::time::Instant::now();
            let loaded = load_in_place(program).map_err(|e| attach_err(what, e));
            log::debug!("{what} verified in {} ms", begun.elapsed().as_millis());
            outcomes.push((optional, what, loaded));
        }
        outcomes
    };
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers).map(|_| scope.spawn(verify_next)).collect();
        threads
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .map_err(|_| LoadError::System("a program load panicked".into()))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    outcomes
        .into_iter()
        .flatten()
        .try_for_each(|(optional, what, loaded)| match loaded {
            Err(e) if optional => {
                log::debug!("{what} not verified: {e}");
                Ok(())
            }
            other => other,
        })
}

/// Loads a program of a kind coldspy uses, leaving the value in place.
fn load_in_place(program: &mut Program) -> Result<(), aya::programs::ProgramError> {
    match program {
        Program::UProbe(p) => p.load(),
        Program::TracePoint(p) => p.load(),
        Program::PerfEvent(p) => p.load(),
        _ => Ok(()),
    }
}

/// The CPU sampler (verified already), on every online CPU.
fn attach_sampler(ebpf: &mut Ebpf, sample_hz: u64) -> Result<(), LoadError> {
    let cpus =
        aya::util::online_cpus().map_err(|(what, e)| LoadError::System(format!("{what}: {e}")))?;
    let name = sampler_program();
    log::debug!("sampler: {name}");
    let program: &mut PerfEvent = program(ebpf, name)?;
    for cpu in cpus {
        program
            .attach(
                PerfEventConfig::Software(SoftwareEvent::CpuClock),
                PerfEventScope::AllProcessesOneCpu { cpu },
                SamplePolicy::Frequency(sample_hz),
                false,
            )
            .map_err(|source| attach_err(&format!("the CPU sampler on CPU {cpu}"), source))?;
    }
    Ok(())
}

/// The lifecycle tracepoints (verified already), and the file-open ones
/// with `track_files`.
fn attach_tracepoints(ebpf: &mut Ebpf, track_files: bool) -> Result<(), LoadError> {
    for (name, category, event) in TRACEPOINTS {
        if category == "syscalls" && !track_files {
            continue;
        }
        let program: &mut TracePoint = program(ebpf, name)?;
        program
            .attach(category, event)
            .map_err(|source| attach_err(&format!("tracepoint {category}:{event}"), source))?;
    }
    Ok(())
}

fn attach_err(what: &str, source: aya::programs::ProgramError) -> LoadError {
    LoadError::Attach {
        what: what.to_string(),
        source,
    }
}

impl Drop for Probes {
    /// Detaches every program in parallel. Each detach waits for an RCU
    /// grace period in the kernel (≈ 80-110 ms on this VM kind); one after
    /// the other they kept `record` alive ≈ 0.7 s after its target exited,
    /// while concurrent waits share their grace periods.
    fn drop(&mut self) {
        std::thread::scope(|scope| {
            // Programs a run never needed were never loaded: nothing to undo.
            let loaded = self.ebpf.programs_mut().filter(|(_, p)| p.fd().is_ok());
            for (_, program) in loaded {
                scope.spawn(move || unload_in_place(program));
            }
        });
    }
}

/// Detaches a program's links and unloads it, leaving the value in place.
fn unload_in_place(program: &mut Program) {
    let unloaded = match program {
        Program::UProbe(p) => p.unload(),
        Program::TracePoint(p) => p.unload(),
        Program::PerfEvent(p) => p.unload(),
        _ => Ok(()),
    };
    if let Err(e) = unloaded {
        log::debug!("unloading a program: {e}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_offsets_from_tracefs_when_mounted() {
        assert!(
            std::path::Path::new(super::TRACEFS).join("events").exists(),
            "tracefs is not mounted at {}: run `cargo xtask setup` (it mounts it)",
            super::TRACEFS
        );
        assert_eq!(
            super::tracepoint_field_offset("syscalls", "sys_enter_openat", "filename"),
            Some(24)
        );
        assert!(
            super::tracepoint_field_offset("sched", "sched_process_fork", "child_pid").is_some()
        );
    }
}
