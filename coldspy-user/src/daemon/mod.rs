//! `coldspy record --all`: the system-wide daemon. Every `exec` on the host
//! passes the kernel's exec hook; Python interpreters that match the filters
//! are held before their first instruction, their layout written to the
//! targets map, and released; each is then recorded until it exits and
//! written as its own profile ([`output`]).
//!
//! The event loop runs on tokio: the lifecycle ring buffer is an `AsyncFd`,
//! signals and timers are streams, and building and writing a finished
//! profile runs on the blocking pool, off the path that releases held
//! processes. A [`guardian`] process resumes anything still held if the
//! daemon dies.

mod guardian;
pub mod labels;
mod node;
mod output;
pub mod status;

use crate::collect::collector::{drain_control, drain_data};
use crate::loader::{Probes, SystemWide};
use crate::record::RecordArgs;
use crate::sys::monotonic_ns;
use anyhow::Context as _;
use node::{Filters, Finished, Node};
use output::{IndexSummary, Writer};
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the data rings are drained when the lifecycle ring is quiet.
const DRAIN_PERIOD: Duration = Duration::from_millis(10);
/// How often a long step refreshes the heartbeat.
const BEAT_WITHIN_STEP: Duration = Duration::from_millis(100);
/// The nice value of the daemon's event loop: processes wait for it while
/// held, so it runs before ordinary work (a burst of starts competes with
/// it for the CPU). Its blocking pool runs at 0.
const NICE: i32 = -10;
/// How often windows are cut and the status file is rewritten.
const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(1);

/// Runs `coldspy record --all` until SIGINT or SIGTERM.
pub fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    crate::record::preflight::check_privileges()?;
    crate::record::preflight::check_tracefs()?;
    let all = &args.system_wide;
    let command = all
        .match_command
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .context("--match")?;
    let cgroup_ids = all
        .cgroups
        .iter()
        .map(|path| labels::cgroup_id(path).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<u64>>>()?;
    let table = all
        .table
        .as_deref()
        .map(|dir| (dir, Duration::from_secs_f64(all.table_window)));
    let writer = Writer::open(&all.output_dir, all.keep, all.max_disk, table)?;
    let system = SystemWide {
        cgroup_filter: !cgroup_ids.is_empty(),
    };
    let mut probes = Probes::load_with(args.rate, !args.no_files, Some(system))
        .context("loading coldspy's eBPF programs")?;
    probes.attach_connects(!args.no_files);
    let maps = probes.system.as_mut().context("the system-wide maps")?;
    for id in &cgroup_ids {
        maps.cgroups.insert(id, 1, 0).context("CGROUP_ALLOW")?;
    }
    // Forked while we have one thread; from here on it guards the holds.
    let guardian = guardian::Guardian::spawn(maps).context("starting the guardian")?;
    beat(&mut probes);
    // SAFETY: setpriority on ourselves.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICE) } != 0 {
        log::info!(
            "cannot raise the daemon's priority (nice {NICE}): {}",
            std::io::Error::last_os_error()
        );
    }
    let filters = Filters {
        command,
        max_processes: all.max_processes as usize,
        label_env: all.label_env.clone(),
        track_imports: !args.no_imports,
    };
    eprintln!(
        "coldspy: recording every Python process{} at {} Hz into {} (SIGINT/SIGTERM stop, SIGUSR1 prints the status)",
        if cgroup_ids.is_empty() { String::new() } else { format!(" in {} cgroup subtree(s)", cgroup_ids.len()) },
        args.rate,
        all.output_dir.display()
    );
    let mut daemon = Daemon {
        node: Node::new(filters, args.rate),
        writer: Arc::new(Mutex::new(writer)),
        max_window_ns: (all.max_window * 1e9) as u64,
        started: std::time::Instant::now(),
        to_table: all.table.is_some(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Only the loop that releases held processes runs at NICE: building
        // and writing finished profiles on the blocking pool must not
        // preempt the function instances starting meanwhile.
        .on_thread_start(|| {
            // SAFETY: setpriority on the calling thread (Linux: per thread).
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 0) };
        })
        .build()
        .context("starting the event loop")?;
    let served = runtime.block_on(daemon.serve(&mut probes));
    // The daemon released everything it held; the guardian exits, then
    // the programs are detached.
    guardian.finish();
    drop(probes);
    served?;
    let status = daemon.status_lines(None);
    eprintln!("coldspy: stopped. {status}");
    Ok(ExitCode::SUCCESS)
}

/// A descriptor borrowed for `AsyncFd` (the ring buffer keeps it).
struct BorrowedRawFd(RawFd);

impl AsRawFd for BorrowedRawFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// The daemon's state around the node.
struct Daemon {
    node: Node,
    writer: Arc<Mutex<Writer>>,
    max_window_ns: u64,
    started: std::time::Instant,
    /// `--table`: finished processes also become fleet-table starts (known
    /// here so that finishing one never waits for the writer's lock).
    to_table: bool,
}

impl Daemon {
    /// The event loop: until SIGINT or SIGTERM.
    async fn serve(&mut self, probes: &mut Probes) -> anyhow::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        // SAFETY: the ring buffer's descriptor stays open (`probes` outlives
        // this loop, and the AsyncFd is dropped at its end).
        let control = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(
                BorrowedRawFd(probes.control.as_raw_fd()),
                tokio::io::Interest::READABLE,
            )
        }
        .map_err(|e| anyhow::anyhow!("watching the lifecycle ring: {e}"))?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let mut user1 = signal(SignalKind::user_defined1())?;
        let mut drain_tick = tokio::time::interval(DRAIN_PERIOD);
        let mut heartbeat = tokio::time::interval(Duration::from_nanos(
            coldspy_common::system_wide::HEARTBEAT_PERIOD_NS,
        ));
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_PERIOD);
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                ready = control.readable() => {
                    if let Ok(mut guard) = ready {
                        guard.clear_ready();
                    }
                }
                _ = drain_tick.tick() => {}
                _ = heartbeat.tick() => beat(probes),
                _ = housekeeping.tick() => {
                    probes.drop_ended_handler_watches();
                    for done in self.node.cut_windows(probes, self.max_window_ns) {
                        self.finish(&mut tasks, done);
                    }
                    let status = self.status(probes);
                    self.writer.lock().expect("writer lock").write_status(&status);
                    let writer = Arc::clone(&self.writer);
                    tasks.spawn_blocking(move || writer.lock().expect("writer lock").finish_table_window(false));
                }
                _ = interrupt.recv() => break,
                _ = terminate.recv() => break,
                _ = hangup.recv() => self.writer.lock().expect("writer lock").reopen_index(),
                _ = user1.recv() => eprintln!("coldspy: {}", self.status_lines(Some(probes))),
            }
            self.step(probes, &mut tasks);
            while tasks.try_join_next().is_some() {}
        }
        self.shut_down(probes, &mut tasks);
        while tasks.join_next().await.is_some() {}
        self.writer
            .lock()
            .expect("writer lock")
            .finish_table_window(true);
        let status = self.status(probes);
        self.writer
            .lock()
            .expect("writer lock")
            .write_status(&status);
        Ok(())
    }

    /// One drain of the rings and the lifecycle events it brought. Execs,
    /// entry stops and forks are handled before the data (a fork's child
    /// imports at once), exits after it (a process's last samples precede
    /// its exit); data that arrives before its recording exists waits one
    /// step in the node.
    fn step(&mut self, probes: &mut Probes, tasks: &mut tokio::task::JoinSet<()>) {
        let mut events = drain_control(probes);
        let (exits, first): (Vec<_>, Vec<_>) = events
            .drain(..)
            .partition(|e| e.kind == coldspy_common::lifecycle::EVENT_KIND_EXIT);
        // A burst of held processes can take a while: keep the heartbeat
        // fresh meanwhile, or the hooks would stop holding new ones.
        let mut last_beat = std::time::Instant::now();
        for event in &first {
            self.handle(probes, tasks, event);
            if last_beat.elapsed() >= BEAT_WITHIN_STEP {
                beat(probes);
                last_beat = std::time::Instant::now();
            }
        }
        let late = drain_data(probes, &mut self.node);
        self.node.watch_handlers(probes);
        for event in late.iter().chain(&exits) {
            self.handle(probes, tasks, event);
        }
        self.node.age_orphans();
    }

    fn handle(
        &mut self,
        probes: &mut Probes,
        tasks: &mut tokio::task::JoinSet<()>,
        event: &coldspy_common::lifecycle::LifecycleEvent,
    ) {
        for done in self.node.handle(probes, event) {
            self.finish(tasks, done);
        }
    }

    /// Stops holding, releases what is held, and ends every recording.
    fn shut_down(&mut self, probes: &mut Probes, tasks: &mut tokio::task::JoinSet<()>) {
        if let Some(system) = probes.system.as_mut() {
            let _ = system.heartbeat.set(0, 0, 0);
        }
        // What the hooks held before seeing the stale heartbeat.
        self.step(probes, tasks);
        if let Some(system) = probes.system.as_mut() {
            system.resume_held();
        }
        for done in self.node.end_all(probes) {
            self.finish(tasks, done);
        }
    }

    /// Builds and writes a finished recording on the blocking pool.
    fn finish(&self, tasks: &mut tokio::task::JoinSet<()>, done: Finished) {
        let writer = Arc::clone(&self.writer);
        let to_table = self.to_table;
        tasks.spawn_blocking(move || {
            let mut profile = crate::model::build::build_profile(&done.trace);
            crate::record::statements::fill(&mut profile, done.trace.meta.pid);
            crate::analysis::analyze(&mut profile, crate::analysis::ScoreKind::Runtime);
            let start = to_table.then(|| crate::fleet_core::start_from_profile(&profile));
            let summary = IndexSummary {
                init_us: profile.stats.init_us,
                exec_us: profile.stats.exec_us,
                duration_us: profile.meta.duration_us,
            };
            let json = serde_json::to_vec(&profile).unwrap_or_default();
            drop(profile);
            writer
                .lock()
                .expect("writer lock")
                .write(&done, &json, summary, start);
        });
    }

    /// The status as JSON (also `DIR/status.json`).
    fn status(&self, probes: &Probes) -> serde_json::Value {
        let (lost_samples, lost_events) = probes.lost_counts();
        let kernel: serde_json::Map<String, serde_json::Value> = probes
            .system
            .as_ref()
            .map(|system| {
                (0..coldspy_common::system_wide::SYSTEM_COUNTERS)
                    .map(|i| {
                        let total: u64 = system
                            .counts
                            .get(&i, 0)
                            .map(|v| v.iter().sum())
                            .unwrap_or(0);
                        (
                            coldspy_common::system_wide::counter_name(i).to_string(),
                            total.into(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let writer = self.writer.lock().expect("writer lock");
        serde_json::json!({
            "pid": std::process::id(),
            "uptime_s": self.started.elapsed().as_secs(),
            "live_processes": self.node.live(),
            "kernel": kernel,
            "daemon": self.node.counters,
            "written": writer.written,
            "lost_samples": lost_samples,
            "lost_events": lost_events,
            "rss_bytes": rss_bytes(),
            // Zero unless kernel.bpf_stats_enabled=1 (cargo xtask bench node sets it).
            "programs": probes.program_stats().into_iter().map(|(name, (runs, ns))| {
                (name, serde_json::json!({"runs": runs, "ns": ns}))
            }).collect::<serde_json::Map<String, serde_json::Value>>(),
        })
    }

    /// The status in one line of text.
    fn status_lines(&self, probes: Option<&Probes>) -> String {
        let counters = &self.node.counters;
        let written = self.writer.lock().expect("writer lock").written.clone();
        let lost = probes.map(Probes::lost_counts).unwrap_or_default();
        format!(
            "{} processes profiled ({} live), {} written, {} lost, {} skipped (match {}, max-processes {}, unsupported {}), {} samples lost; holds: {}, mean {} us, max {} us",
            counters.profiled,
            self.node.live(),
            written.profiles,
            written.lost_profiles,
            counters.skipped_match + counters.skipped_max_processes + counters.skipped_unsupported,
            counters.skipped_match,
            counters.skipped_max_processes,
            counters.skipped_unsupported,
            lost.0,
            counters.holds,
            counters.total_held_us.checked_div(counters.holds).unwrap_or(0),
            counters.max_held_us,
        )
    }
}

/// Refreshes the heartbeat the hooks check before holding anything.
fn beat(probes: &mut Probes) {
    if let Some(system) = probes.system.as_mut() {
        if let Err(e) = system.heartbeat.set(0, monotonic_ns(), 0) {
            log::warn!("heartbeat: {e}");
        }
    }
}

/// This process's resident set size (`VmRSS`), in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    crate::sys::proc::status_field(&status, "VmRSS:")
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
