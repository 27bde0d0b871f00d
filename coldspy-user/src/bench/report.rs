//! The result of a benchmark as data: every run, the summary of each
//! variant, and the comparison of every variant with the first. This is the
//! JSON schema of `coldspy bench -o` (documented in docs/bench.md).

use super::runner::RunnerScript;
use super::start::{StartFailure, StartMeasurement};
use super::stats::{self, MannWhitney, MedianChange, Summary};
use super::{BenchError, Variant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the JSON layout; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// A measured quantity of a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Spawn → runner ready.
    InterpreterStart,
    /// Spawn → handler module imported.
    Init,
    /// The first handler invocation.
    FirstExec,
    /// Spawn → exit (or → first HTTP answer).
    EndToEnd,
    /// Peak resident set size.
    PeakRss,
}

impl Phase {
    /// Every phase, in display order.
    pub const ALL: [Phase; 5] = [
        Phase::Init,
        Phase::FirstExec,
        Phase::EndToEnd,
        Phase::InterpreterStart,
        Phase::PeakRss,
    ];

    /// The phases that are durations, plotted as CDFs.
    pub const TIMED: [Phase; 3] = [Phase::Init, Phase::FirstExec, Phase::EndToEnd];

    /// Label for people.
    pub fn label(self) -> &'static str {
        match self {
            Phase::InterpreterStart => "Interpreter start",
            Phase::Init => "Init",
            Phase::FirstExec => "First exec",
            Phase::EndToEnd => "End-to-end",
            Phase::PeakRss => "Peak RSS",
        }
    }

    /// The value of this phase in a measurement (ms, or KiB for RSS).
    pub fn value(self, measurement: &StartMeasurement) -> f64 {
        match self {
            Phase::InterpreterStart => measurement.interpreter_start_ms,
            Phase::Init => measurement.init_ms,
            Phase::FirstExec => measurement.exec_ms,
            Phase::EndToEnd => measurement.end_to_end_ms,
            Phase::PeakRss => measurement.peak_rss_kib as f64,
        }
    }

    /// Formats a value of this phase.
    pub fn format(self, value: f64) -> String {
        match self {
            Phase::PeakRss => super::format::memory_kib(value),
            _ => super::format::duration(value),
        }
    }

    /// Formats a signed change of this phase.
    pub fn format_signed(self, value: f64) -> String {
        let sign = if value < 0.0 { "−" } else { "+" };
        format!("{sign}{}", self.format(value.abs()))
    }
}

/// The benchmark's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Measured starts per variant.
    pub runs: u32,
    /// Unmeasured starts per variant first.
    pub warmup: u32,
    /// Page cache dropped before each start.
    pub drop_caches: bool,
    /// Per-start timeout, ms.
    pub timeout_ms: f64,
    /// Handler invocations per start.
    pub invocations: u32,
    /// `direct` (the runner calls the handler) or `http` (`--serve`).
    pub mode: String,
}

/// One start, in the order the starts ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Position among all measured starts of all variants (0-based).
    pub order: usize,
    /// The round (0-based); each round starts every variant once.
    pub round: usize,
    /// The start measured everything.
    pub ok: bool,
    /// The measurement of a successful start.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<StartMeasurement>,
    /// Why the start failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<StartFailure>,
}

impl RunRecord {
    /// A record of one start's outcome.
    pub fn new(
        order: usize,
        round: usize,
        outcome: Result<StartMeasurement, StartFailure>,
    ) -> RunRecord {
        let (measurement, failure) = match outcome {
            Ok(measurement) => (Some(measurement), None),
            Err(failure) => (None, Some(failure)),
        };
        RunRecord {
            order,
            round,
            ok: measurement.is_some(),
            measurement,
            failure,
        }
    }
}

/// The summary of one variant over its successful runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VariantSummary {
    /// Successful runs (the ones summarized).
    pub successful: usize,
    /// Failed runs (never averaged in).
    pub failed: usize,
    /// Failure messages and how often each occurred.
    pub failures: BTreeMap<String, usize>,
    /// Spawn → runner ready, ms.
    pub interpreter_start_ms: Option<Summary>,
    /// Spawn → handler imported, ms.
    pub init_ms: Option<Summary>,
    /// First invocation, ms.
    pub exec_ms: Option<Summary>,
    /// Spawn → exit (or first answer), ms.
    pub end_to_end_ms: Option<Summary>,
    /// Peak RSS, KiB.
    pub peak_rss_kib: Option<Summary>,
}

impl VariantSummary {
    /// The summary of one phase.
    pub fn phase(&self, phase: Phase) -> Option<&Summary> {
        match phase {
            Phase::InterpreterStart => self.interpreter_start_ms.as_ref(),
            Phase::Init => self.init_ms.as_ref(),
            Phase::FirstExec => self.exec_ms.as_ref(),
            Phase::EndToEnd => self.end_to_end_ms.as_ref(),
            Phase::PeakRss => self.peak_rss_kib.as_ref(),
        }
    }
}

/// One variant: what ran, every run, and the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantReport {
    /// Its name.
    pub name: String,
    /// The interpreter.
    pub interpreter: PathBuf,
    /// The handler.
    pub handler: String,
    /// The event file.
    pub event: Option<PathBuf>,
    /// The command each start ran, without the marks descriptor (the runner
    /// path is a temporary file).
    pub command: Vec<String>,
    /// Every measured run in order.
    pub runs: Vec<RunRecord>,
    /// The summary.
    pub summary: VariantSummary,
}

impl VariantReport {
    /// The values of one phase over the successful runs, in run order.
    pub fn values(&self, phase: Phase) -> Vec<f64> {
        self.runs
            .iter()
            .filter_map(|run| run.measurement.as_ref())
            .map(|measurement| phase.value(measurement))
            .collect()
    }
}

/// The verdict on one phase of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly lower.
    Lower,
    /// Significantly higher.
    Higher,
    /// p ≥ 0.05.
    NoSignificantDifference,
}

/// One phase of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseComparison {
    /// Which phase.
    pub phase: Phase,
    /// Median of the baseline.
    pub baseline_median: f64,
    /// Median of the candidate.
    pub candidate_median: f64,
    /// The change of the median with its 95 % CI.
    pub change: MedianChange,
    /// The Mann–Whitney U test (U of the baseline).
    pub mann_whitney: MannWhitney,
    /// The verdict at α = 0.05.
    pub verdict: Verdict,
}

/// A candidate variant against the baseline (the first variant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The baseline's name.
    pub baseline: String,
    /// The candidate's name.
    pub candidate: String,
    /// Every phase with data on both sides.
    pub phases: Vec<PhaseComparison>,
}

impl Comparison {
    /// The comparison of one phase.
    pub fn phase(&self, phase: Phase) -> Option<&PhaseComparison> {
        self.phases.iter().find(|p| p.phase == phase)
    }
}

/// The whole result of `coldspy bench`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `coldspy <version>`.
    pub tool: String,
    /// How every statistic is computed.
    pub methods: String,
    /// The settings.
    pub config: BenchConfig,
    /// Every variant.
    pub variants: Vec<VariantReport>,
    /// Every variant after the first against the first.
    pub comparisons: Vec<Comparison>,
}

impl BenchReport {
    /// Summarizes the runs of every variant and compares them.
    pub fn new(
        config: BenchConfig,
        variants: &[Variant],
        script: &RunnerScript,
        records: Vec<Vec<RunRecord>>,
    ) -> BenchReport {
        let variants: Vec<VariantReport> = variants
            .iter()
            .zip(records)
            .map(|(variant, runs)| {
                let mut report = VariantReport {
                    name: variant.name.clone(),
                    interpreter: variant.spec.interpreter.clone(),
                    handler: variant.spec.handler.clone(),
                    event: variant.spec.event.clone(),
                    command: variant
                        .spec
                        .argv(script.path(), None)
                        .iter()
                        .map(|arg| arg.to_string_lossy().into_owned())
                        .collect(),
                    runs,
                    summary: VariantSummary::default(),
                };
                report.summary = summarize(&report);
                report
            })
            .collect();
        let comparisons = variants
            .iter()
            .skip(1)
            .map(|candidate| compare(&variants[0], candidate))
            .collect();
        BenchReport {
            schema_version: SCHEMA_VERSION,
            tool: format!("coldspy {}", env!("CARGO_PKG_VERSION")),
            methods: stats::METHODS.to_owned(),
            config,
            variants,
            comparisons,
        }
    }

    /// Writes the report as pretty JSON.
    pub fn write_json(&self, path: &Path) -> Result<(), BenchError> {
        let text = serde_json::to_string_pretty(self).expect("a bench report always serializes");
        std::fs::write(path, text + "\n").map_err(|e| BenchError::Output {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    /// An error when some variant has no successful run at all.
    pub fn check_all_failed(&self) -> Result<(), BenchError> {
        match self.variants.iter().find(|v| v.summary.successful == 0) {
            Some(variant) => Err(BenchError::AllFailed {
                variant: variant.name.clone(),
                runs: variant.runs.len(),
                first: variant
                    .runs
                    .iter()
                    .find_map(|run| run.failure.as_ref())
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            }),
            None => Ok(()),
        }
    }
}

fn summarize(variant: &VariantReport) -> VariantSummary {
    let mut failures = BTreeMap::new();
    for failure in variant.runs.iter().filter_map(|run| run.failure.as_ref()) {
        *failures.entry(failure.to_string()).or_insert(0) += 1;
    }
    let of = |phase| Summary::of(&variant.values(phase));
    let successful = variant.runs.iter().filter(|run| run.ok).count();
    VariantSummary {
        successful,
        failed: variant.runs.len() - successful,
        failures,
        interpreter_start_ms: of(Phase::InterpreterStart),
        init_ms: of(Phase::Init),
        exec_ms: of(Phase::FirstExec),
        end_to_end_ms: of(Phase::EndToEnd),
        peak_rss_kib: of(Phase::PeakRss),
    }
}

fn compare(baseline: &VariantReport, candidate: &VariantReport) -> Comparison {
    let phases = Phase::ALL
        .iter()
        .filter_map(|&phase| {
            let (before, after) = (baseline.values(phase), candidate.values(phase));
            let change = stats::median_change(&before, &after)?;
            let mann_whitney = stats::mann_whitney_u(&before, &after)?;
            let verdict = if mann_whitney.p_value >= stats::ALPHA {
                Verdict::NoSignificantDifference
            } else if change.difference < 0.0 {
                Verdict::Lower
            } else {
                Verdict::Higher
            };
            Some(PhaseComparison {
                phase,
                baseline_median: stats::median(&before),
                candidate_median: stats::median(&after),
                change,
                mann_whitney,
                verdict,
            })
        })
        .collect();
    Comparison {
        baseline: baseline.name.clone(),
        candidate: candidate.name.clone(),
        phases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(init_ms: f64) -> StartMeasurement {
        StartMeasurement {
            interpreter_start_ms: 10.0,
            init_ms,
            exec_ms: 1.0,
            end_to_end_ms: init_ms + 5.0,
            peak_rss_kib: 10_000,
        }
    }

    fn variant_report(name: &str, inits: &[f64], failures: usize) -> VariantReport {
        let mut runs: Vec<RunRecord> = inits
            .iter()
            .enumerate()
            .map(|(i, &init)| RunRecord::new(i, i, Ok(measurement(init))))
            .collect();
        for i in 0..failures {
            runs.push(RunRecord::new(
                inits.len() + i,
                inits.len() + i,
                Err(StartFailure::Timeout { after_ms: 1000.0 }),
            ));
        }
        let mut report = VariantReport {
            name: name.into(),
            interpreter: "python3".into(),
            handler: "app.py:h".into(),
            event: None,
            command: vec![],
            runs,
            summary: VariantSummary::default(),
        };
        report.summary = summarize(&report);
        report
    }

    #[test]
    fn failed_runs_are_counted_not_averaged() {
        let report = variant_report("a", &[100.0, 110.0, 120.0], 2);
        assert_eq!(report.summary.successful, 3);
        assert_eq!(report.summary.failed, 2);
        assert_eq!(report.summary.failures["timed out after 1.000 s"], 2);
        assert_eq!(report.summary.init_ms.as_ref().unwrap().median, 110.0);
        assert_eq!(report.summary.init_ms.as_ref().unwrap().count, 3);
    }

    #[test]
    fn comparison_verdicts() {
        let base = variant_report(
            "a",
            &[
                300.0, 301.0, 302.0, 303.0, 304.0, 305.0, 306.0, 307.0, 308.0, 309.0,
            ],
            0,
        );
        let faster = variant_report(
            "b",
            &[
                150.0, 151.0, 152.0, 153.0, 154.0, 155.0, 156.0, 157.0, 158.0, 159.0,
            ],
            0,
        );
        let comparison = compare(&base, &faster);
        let init = comparison.phase(Phase::Init).unwrap();
        assert_eq!(init.verdict, Verdict::Lower);
        assert_eq!(init.change.difference, -150.0);
        assert!(init.mann_whitney.p_value < 0.001);
        // Constant values on both sides: no difference.
        let exec = comparison.phase(Phase::FirstExec).unwrap();
        assert_eq!(exec.verdict, Verdict::NoSignificantDifference);
    }

    #[test]
    fn run_records_round_trip_through_json() {
        let ok = RunRecord::new(0, 0, Ok(measurement(5.0)));
        let failed = RunRecord::new(
            1,
            0,
            Err(StartFailure::Runner {
                kind: super::super::runner::RunnerErrorKind::HandlerError,
                message: "handler raised ValueError: boom".into(),
            }),
        );
        let json = serde_json::to_value([&ok, &failed]).unwrap();
        assert_eq!(json[0]["init_ms"], 5.0);
        assert_eq!(json[0]["ok"], true);
        assert_eq!(json[1]["failure"]["reason"], "runner");
        assert_eq!(json[1]["failure"]["kind"], "handler_error");
        let back: Vec<RunRecord> = serde_json::from_value(json).unwrap();
        assert_eq!(back, vec![ok, failed]);
    }
}
