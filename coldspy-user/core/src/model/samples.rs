//! Aggregates CPU samples as they arrive, so that a recording's memory stops
//! growing with its length while the profile built from it stays the one
//! the samples one by one give.
//!
//! [`crate::model::build`] looks at a sample's time only to compare it with
//! event times ("cuts"): the import edges (which import is innermost on the
//! thread), the end of init (an import's end or the `init_end` mark, rounded
//! down to the µs since the trace's start, or the start itself), the
//! invocations (`invoke_start ..= invoke_end`) and the trace's end. Each of
//! those comparisons with a cut `C` tells apart only samples on either side
//! of a point in `(C - 1 µs, C]` ([`GUARD_NS`]). So the samples of one
//! (pid, tid, stack, truncated) that fall between two consecutive cuts,
//! outside that guard, are interchangeable: they are kept as one
//! [`SampleGroup`] with a count and the earliest time (the program's first
//! run-time sample needs an exact time). A sample inside a guard keeps its
//! own time (a group per time).
//!
//! Events come on another ring buffer (imports) or a pipe (phase marks), a
//! little before or after the samples near them: a sample waits until it is
//! [`HORIZON_NS`] older than the newest sample seen, by when every event
//! before it has arrived. An event that comes later still is counted in
//! [`SampleTable::late_events`].
//!
//! Memory bound: each distinct stack once; groups at most the distinct
//! (pid, tid, stack, truncated) sampled between each two consecutive cuts,
//! plus the samples inside guards (1 µs before each cut: at most one per CPU
//! and cut); pending samples (16 bytes each) of the last [`HORIZON_NS`] only.
//! Between events nothing grows once the stacks have been seen: a long
//! attach to a steady process stays flat.

use crate::model::trace::{SampleGroup, SampleTable, Trace, TRACE_FORMAT_AGGREGATED};
use std::collections::{BTreeSet, HashMap};

/// How much older than the newest sample a sample must be before it is
/// grouped: longer than any delay between an event and its arrival.
pub const HORIZON_NS: u64 = 2_000_000_000;

/// Width of the guard before each cut, inside which samples keep their
/// time: the profile rounds times down to whole µs since the start.
pub const GUARD_NS: u64 = 1_000;

/// Pending samples are grouped every this many samples.
const SETTLE_EVERY: u32 = 1024;

/// Groups samples as they come (see the module's documentation).
#[derive(Debug)]
pub struct SampleAggregator {
    stacks: Vec<Vec<u32>>,
    stack_index: HashMap<Vec<u32>, u32>,
    groups: Vec<SampleGroup>,
    group_index: HashMap<GroupKey, u32>,
    pending: Vec<Pending>,
    cuts: BTreeSet<u64>,
    horizon_ns: u64,
    newest_ns: u64,
    settled_max_ns: Option<u64>,
    since_settle: u32,
    late_events: u64,
}

/// A sample not grouped yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    ts_ns: u64,
    pid: u32,
    tid: u32,
    stack: u32,
    truncated: bool,
}

/// What samples of one group share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct GroupKey {
    /// The last cut before the samples (0: none), or the time of a guarded sample.
    epoch_ns: u64,
    /// The sample is inside a guard: `epoch_ns` is its own time.
    exact: bool,
    pid: u32,
    tid: u32,
    stack: u32,
    truncated: bool,
}

impl Default for SampleAggregator {
    fn default() -> Self {
        Self::with_horizon(HORIZON_NS)
    }
}

impl SampleAggregator {
    /// An aggregator that groups samples `horizon_ns` older than the newest.
    pub fn with_horizon(horizon_ns: u64) -> Self {
        Self {
            stacks: Vec::new(),
            stack_index: HashMap::new(),
            groups: Vec::new(),
            group_index: HashMap::new(),
            pending: Vec::new(),
            cuts: BTreeSet::new(),
            horizon_ns,
            newest_ns: 0,
            settled_max_ns: None,
            since_settle: 0,
            late_events: 0,
        }
    }

    /// Adds one sample (`stack`: frame indices, innermost first).
    pub fn add(&mut self, ts_ns: u64, pid: u32, tid: u32, stack: &[u32], truncated: bool) {
        let stack = self.intern(stack);
        self.pending.push(Pending {
            ts_ns,
            pid,
            tid,
            stack,
            truncated,
        });
        self.newest_ns = self.newest_ns.max(ts_ns);
        self.since_settle += 1;
        if self.since_settle >= SETTLE_EVERY {
            self.settle(self.newest_ns.saturating_sub(self.horizon_ns));
        }
    }

    /// Notes the time of an event the profile compares sample times with
    /// (an import edge, a phase mark, the trace's start or end).
    pub fn cut(&mut self, ts_ns: u64) {
        if self.cuts.contains(&ts_ns) {
            return;
        }
        if self
            .settled_max_ns
            .is_some_and(|max| ts_ns < max.saturating_add(GUARD_NS))
        {
            self.late_events += 1;
        }
        self.cuts.insert(ts_ns);
    }

    /// Groups the pending samples older than `before_ns`.
    pub fn settle(&mut self, before_ns: u64) {
        self.since_settle = 0;
        let pending = std::mem::take(&mut self.pending);
        let mut rest = Vec::with_capacity(pending.len());
        for sample in pending {
            if sample.ts_ns < before_ns {
                self.group(sample);
            } else {
                rest.push(sample);
            }
        }
        self.pending = rest;
    }

    /// What is held: distinct stacks, groups and pending samples (for tests
    /// of the memory bound).
    pub fn entries(&self) -> usize {
        self.stacks.len() + self.groups.len() + self.pending.len()
    }

    /// Groups every sample and returns the table; the aggregator starts
    /// empty again (a window of a long recording). `end_ns` is the trace's end.
    pub fn take(&mut self, end_ns: u64) -> SampleTable {
        self.cut(end_ns);
        self.settle(u64::MAX);
        let mut groups = std::mem::take(&mut self.groups);
        groups.sort_by_key(|g| (g.first_ns, g.tid, g.stack, g.pid, g.truncated));
        let table = SampleTable {
            stacks: std::mem::take(&mut self.stacks),
            groups,
            late_events: self.late_events,
        };
        *self = Self::with_horizon(self.horizon_ns);
        table
    }

    fn intern(&mut self, stack: &[u32]) -> u32 {
        if let Some(&id) = self.stack_index.get(stack) {
            return id;
        }
        let id = self.stacks.len() as u32;
        self.stacks.push(stack.to_vec());
        self.stack_index.insert(stack.to_vec(), id);
        id
    }

    /// The group key's time part: inside a guard, the sample's own time;
    /// otherwise the last cut before it.
    fn epoch_of(&self, ts_ns: u64) -> (u64, bool) {
        if let Some(&next) = self.cuts.range(ts_ns..).next() {
            if next - ts_ns < GUARD_NS {
                return (ts_ns, true);
            }
        }
        (
            self.cuts.range(..ts_ns).next_back().copied().unwrap_or(0),
            false,
        )
    }

    fn group(&mut self, sample: Pending) {
        let (epoch_ns, exact) = self.epoch_of(sample.ts_ns);
        let key = GroupKey {
            epoch_ns,
            exact,
            pid: sample.pid,
            tid: sample.tid,
            stack: sample.stack,
            truncated: sample.truncated,
        };
        self.settled_max_ns = Some(self.settled_max_ns.unwrap_or(0).max(sample.ts_ns));
        match self.group_index.get(&key) {
            Some(&i) => {
                let group = &mut self.groups[i as usize];
                group.count += 1;
                group.first_ns = group.first_ns.min(sample.ts_ns);
            }
            None => {
                self.group_index.insert(key, self.groups.len() as u32);
                self.groups.push(SampleGroup {
                    first_ns: sample.ts_ns,
                    pid: sample.pid,
                    tid: sample.tid,
                    stack: sample.stack,
                    truncated: sample.truncated,
                    count: 1,
                });
            }
        }
    }
}

/// The trace with its raw samples aggregated into [`Trace::sample_table`]:
/// builds the same profile (see [`crate::model::build::build_profile`]).
pub fn aggregated(trace: &Trace) -> Trace {
    let mut aggregator = SampleAggregator::default();
    aggregator.cut(trace.start_ns);
    for edge in &trace.imports {
        aggregator.cut(edge.ts_ns);
    }
    for mark in &trace.phases {
        aggregator.cut(mark.ts_ns);
    }
    for s in trace.sample_groups() {
        for _ in 0..s.count {
            aggregator.add(s.first_ns, s.pid, s.tid, s.stack, s.truncated);
        }
    }
    let mut out = Trace {
        samples: Vec::new(),
        sample_table: None,
        ..trace.clone()
    };
    out.sample_table = Some(aggregator.take(trace.end_ns));
    out.format = Some(TRACE_FORMAT_AGGREGATED);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::build_profile;
    use crate::model::profile::Frame;
    use crate::model::trace::{ImportEdge, PhaseMark, TraceImportEdge, TraceOpen, TraceSample};

    /// A small deterministic generator (64-bit LCG).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn frame(function: &str, file: &str, line: u32) -> Frame {
        Frame {
            function: function.into(),
            qualname: function.into(),
            file: file.into(),
            line,
            module: None,
        }
    }

    /// A gap between two steps: mostly ~1 ms, often within a few µs (the
    /// guards), sometimes 0 (a sample at an event's very time).
    fn gap(rng: &mut Rng) -> u64 {
        match rng.below(10) {
            0 => 0,
            1..=3 => rng.below(2_500),
            _ => 200_000 + rng.below(1_600_000),
        }
    }

    /// A trace of `steps` samples and events on three threads of process 7:
    /// nested imports (some never ended, some ends without a start), lazy
    /// imports from a function, native and truncated samples, samples
    /// before the start and after the end, and, with `handler`, the
    /// runner's marks.
    fn synthetic(seed: u64, steps: usize, handler: bool) -> Trace {
        let mut rng = Rng(seed);
        let start_ns = 1_000_000_000 + rng.below(1_000);
        let mut trace = Trace {
            start_ns,
            ..Trace::default()
        };
        trace.meta.pid = 7;
        trace.frames = vec![
            frame("<module>", "/app/main.py", 1),
            frame("<module>", "/app/pkg/mod.py", 1),
            frame("later", "/app/main.py", 20),
            frame("_find_and_load", "<frozen importlib._bootstrap>", 1),
            frame("decode", "/usr/lib/python3.12/json/decoder.py", 30),
            frame("get", "/v/lib/python3.12/site-packages/req/api.py", 5),
            frame("work", "/app/pkg/mod.py", 9),
        ];
        let stacks: Vec<Vec<u32>> = vec![
            vec![],
            vec![0],
            vec![1, 3, 0],
            vec![6, 2, 0],
            vec![4, 3, 1, 3, 0],
            vec![5, 2, 0],
            vec![4, 6, 2, 0],
            vec![3, 0],
        ];
        let modules = ["pkg", "pkg.mod", "json", "req", "req.api", "lazy"];
        let mut open: HashMap<u32, Vec<&str>> = HashMap::new();
        let mut t = start_ns - 3_000_000;
        let mut invoking = false;
        for _ in 0..steps {
            t += gap(&mut rng);
            let tid = 7 + rng.below(3) as u32;
            match rng.below(100) {
                0..=79 => trace.samples.push(TraceSample {
                    ts_ns: t,
                    pid: 7,
                    tid,
                    stack: stacks[rng.below(stacks.len() as u64) as usize].clone(),
                    truncated: rng.below(20) == 0,
                }),
                80..=91 => {
                    let stack = open.entry(tid).or_default();
                    let ending = !stack.is_empty() && rng.below(2) == 0;
                    let (edge, module) = if ending {
                        (ImportEdge::End, stack.pop().unwrap())
                    } else if rng.below(15) == 0 {
                        (ImportEdge::End, "never_started")
                    } else {
                        let m = modules[rng.below(modules.len() as u64) as usize];
                        stack.push(m);
                        (ImportEdge::Start, m)
                    };
                    trace.imports.push(TraceImportEdge {
                        edge,
                        pid: 7,
                        tid,
                        ts_ns: t,
                        module: module.into(),
                        failed: rng.below(10) == 0,
                        site: Some(rng.below(trace.frames.len() as u64) as u32),
                        file: None,
                    });
                }
                92..=95 if handler => {
                    let name = if trace.phases.is_empty() {
                        "init_end"
                    } else if invoking {
                        "invoke_end"
                    } else {
                        "invoke_start"
                    };
                    invoking = name == "invoke_start";
                    // Marks are whole µs since the start, now and then.
                    let ts_ns = if rng.below(2) == 0 {
                        t - (t - start_ns) % 1_000
                    } else {
                        t
                    };
                    trace.phases.push(PhaseMark {
                        name: name.into(),
                        ts_ns: ts_ns.max(t),
                        detail: String::new(),
                        tid: None,
                    });
                }
                _ => trace.opens.push(TraceOpen {
                    pid: 7,
                    tid,
                    enter_ns: t,
                    exit_ns: t + 5_000,
                    ret: 3,
                    path: "/app/pkg/__pycache__/mod.cpython-312.pyc".into(),
                }),
            }
        }
        trace.end_ns = t - rng.below(3_000_000);
        trace
    }

    /// Feeds a trace to an aggregator as the collector does: samples and
    /// events in time order, each event arriving `delay_ns` late.
    fn streamed(trace: &Trace, horizon_ns: u64, delay_ns: u64) -> (Trace, usize) {
        let mut events: Vec<u64> = trace.imports.iter().map(|e| e.ts_ns).collect();
        events.extend(trace.phases.iter().map(|m| m.ts_ns));
        events.sort_unstable();
        let mut events = events.into_iter().peekable();
        let mut aggregator = SampleAggregator::with_horizon(horizon_ns);
        aggregator.cut(trace.start_ns);
        let mut most = 0;
        for s in &trace.samples {
            while let Some(e) = events.next_if(|&e| e + delay_ns <= s.ts_ns) {
                aggregator.cut(e);
            }
            aggregator.add(s.ts_ns, s.pid, s.tid, &s.stack, s.truncated);
            most = most.max(aggregator.entries());
        }
        events.for_each(|e| aggregator.cut(e));
        let mut out = Trace {
            samples: Vec::new(),
            ..trace.clone()
        };
        out.sample_table = Some(aggregator.take(trace.end_ns));
        (out, most)
    }

    #[test]
    fn a_long_synthetic_trace_aggregated_builds_the_per_sample_profile() {
        for (seed, handler) in [(1, false), (2, true), (3, false), (4, true)] {
            let raw = synthetic(seed, 60_000, handler);
            let per_sample = build_profile(&raw);
            assert!(
                per_sample.stats.import_samples > 1_000,
                "imports are sampled"
            );
            let table = aggregated(&raw);
            let groups = table.sample_table.as_ref().unwrap().groups.len();
            assert!(groups < raw.samples.len(), "{groups} groups");
            assert_eq!(build_profile(&table), per_sample, "seed {seed}");
            assert_eq!(table.sample_count(), raw.sample_count());
            assert_eq!(table.samples_by_pid(), raw.samples_by_pid());
            // Streamed with events arriving late, within the horizon.
            let (streamed, _) = streamed(&raw, 20_000_000, 5_000_000);
            assert_eq!(build_profile(&streamed), per_sample, "seed {seed} streamed");
            assert_eq!(streamed.sample_table.unwrap().late_events, 0);
        }
    }

    #[test]
    fn a_sample_between_the_rounded_init_end_and_the_import_end_is_exec() {
        // init ends at the import's end rounded down to the µs (20,000 µs),
        // 500 ns before the import really ends: a sample 200 ns after that
        // rounded end is after init, though inside the import.
        let ms = 1_000_000;
        let mut raw = Trace {
            start_ns: 100 * ms,
            end_ns: 200 * ms,
            ..Trace::default()
        };
        raw.meta.pid = 7;
        raw.frames = vec![
            frame("<module>", "/app/main.py", 1),
            frame("run", "/app/main.py", 5),
        ];
        let edge = |edge, ts_ns| TraceImportEdge {
            edge,
            pid: 7,
            tid: 7,
            ts_ns,
            module: "a".into(),
            failed: false,
            site: Some(0),
            file: None,
        };
        raw.imports = vec![
            edge(ImportEdge::Start, 110 * ms),
            edge(ImportEdge::End, 120 * ms + 500),
        ];
        let sample = |ts_ns, stack: Vec<u32>| TraceSample {
            ts_ns,
            pid: 7,
            tid: 7,
            stack,
            truncated: false,
        };
        raw.samples = vec![
            sample(115 * ms, vec![0]),
            sample(120 * ms + 200, vec![0]),
            sample(130 * ms, vec![1, 0]),
        ];
        let p = build_profile(&raw);
        assert_eq!(
            (p.stats.init_us, p.stats.init_samples, p.stats.exec_samples),
            (20_000, 1, 2)
        );
        assert_eq!(build_profile(&aggregated(&raw)), p);
    }

    #[test]
    fn an_event_later_than_the_horizon_is_counted() {
        let raw = synthetic(5, 5_000, false);
        let (streamed, _) = streamed(&raw, 1_000_000, 50_000_000);
        assert!(streamed.sample_table.unwrap().late_events > 0);
    }

    #[test]
    fn an_aggregated_trace_round_trips_through_json() {
        let table = aggregated(&synthetic(6, 3_000, true));
        let json = serde_json::to_string(&table).unwrap();
        assert!(json.contains("\"format\":2"));
        let back: Trace = serde_json::from_str(&json).unwrap();
        assert_eq!(back, table);
        assert_eq!(build_profile(&back), build_profile(&table));
    }

    #[test]
    fn memory_stops_growing_between_events() {
        // 1 kHz on 4 threads, 8 stacks, no events: a million samples
        // (over four minutes) hold what the first seconds held.
        let mut aggregator = SampleAggregator::default();
        let stacks: [&[u32]; 8] = [&[0], &[1, 0], &[2, 1, 0], &[3], &[4, 3], &[], &[5], &[6, 5]];
        let mut rng = Rng(7);
        let mut at_quarter = 0;
        let mut most = 0;
        for i in 0..1_000_000u64 {
            let tid = (i % 4) as u32;
            let stack = stacks[rng.below(8) as usize];
            aggregator.add(i * 250_000, 1, tid, stack, false);
            most = most.max(aggregator.entries());
            if i == 250_000 {
                at_quarter = most;
            }
        }
        // Stacks + groups (8 x 4) + 2 s of pending samples at 4 kHz + a batch.
        assert!(most <= 8 + 32 + 8_000 + 1_024 + 1, "{most} entries");
        assert_eq!(most, at_quarter, "no growth after the first seconds");
        let table = aggregator.take(u64::MAX);
        assert_eq!(table.groups.iter().map(|g| g.count).sum::<u64>(), 1_000_000);
        assert!(table.groups.len() <= 32, "{} groups", table.groups.len());
    }

    #[test]
    fn memory_grows_with_events_not_samples() {
        // One import edge a second: the groups follow the edges.
        let mut aggregator = SampleAggregator::default();
        let stacks: [&[u32]; 4] = [&[0], &[1, 0], &[2, 1, 0], &[3]];
        let seconds = 200u64;
        for i in 0..seconds * 4_000 {
            let ts = i * 250_000;
            if i % 4_000 == 0 {
                aggregator.cut(ts + 100_000);
            }
            aggregator.add(ts, 1, (i % 4) as u32, stacks[(i / 4 % 4) as usize], false);
        }
        let table = aggregator.take(u64::MAX);
        // At most every (thread, stack) once per second between two edges.
        assert!(
            table.groups.len() as u64 <= (seconds + 1) * 16,
            "{} groups for {seconds} edges",
            table.groups.len()
        );
    }
}
