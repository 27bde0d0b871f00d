//! `record --handler … --verify`: after recording, the top findings with a
//! module to defer are verified by experiment (`bench::defer`): cold starts
//! with each finding's modules deferred by coldspy's runner, interleaved
//! with the unchanged function; the results go into the profile
//! (`verifications[]`) and beside each finding in the report.

use crate::analysis::patterns::Pattern;
use crate::analysis::{Analysis, Finding};
use crate::bench::defer::{verify_findings, Candidate};
use crate::bench::{Plan, Progress};
use crate::model::profile::Profile;
use crate::model::verification::Verification;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Findings verified at most.
pub const MAX_VERIFIED: usize = 3;

/// What `--verify` needs from the command line.
pub(super) struct VerifyOptions {
    /// The interpreter.
    pub python: PathBuf,
    /// The handler.
    pub handler: String,
    /// The event.
    pub event: Option<PathBuf>,
    /// Rounds.
    pub rounds: u64,
}

/// The top findings whose fix is not running a module's import at init
/// (never used, rarely used, a redundant feature, an unused sub-package),
/// at most [`MAX_VERIFIED`], each with the modules to defer: the finding's
/// module and the sub-modules of it that the same statement imported
/// (`from dateutil import parser` imports `dateutil.parser`). A library
/// choice is not verified by deferring: its fix is another library.
pub fn candidates(profile: &Profile, analysis: &Analysis) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for f in analysis.changes() {
        if out.len() == MAX_VERIFIED {
            break;
        }
        if !matches!(
            f.pattern,
            Some(
                Pattern::NeverUsed
                    | Pattern::RarelyUsed
                    | Pattern::FeatureRedundancy
                    | Pattern::UnusedSubpackage
            )
        ) {
            continue;
        }
        let defer = modules_to_defer(profile, f);
        if out.iter().any(|c| c.defer == defer) {
            continue;
        }
        out.push(Candidate {
            module: f.module.clone(),
            statement: Some(f.site.to_string()),
            defer,
        });
    }
    out
}

fn modules_to_defer(profile: &Profile, f: &Finding) -> Vec<String> {
    let mut names = vec![f.module.clone()];
    let prefix = format!("{}.", f.module);
    for r in &profile.imports {
        let same_site = r
            .site
            .as_ref()
            .is_some_and(|s| s.file == f.site.file && s.line == f.site.line);
        if same_site && r.module.starts_with(&prefix) && !names.contains(&r.module) {
            names.push(r.module.clone());
        }
    }
    names
}

/// Runs the experiment for the candidates, progress on stderr; a signal
/// (Ctrl-C) ends it early with the rounds so far.
pub(super) fn run(options: &VerifyOptions, candidates: &[Candidate]) -> Vec<Verification> {
    if candidates.is_empty() {
        eprintln!(
            "coldspy: --verify: no finding whose fix is deferring an import, nothing to verify"
        );
        return Vec::new();
    }
    let _ = super::session::take_signal();
    eprintln!(
        "coldspy: verifying {} finding{} by experiment ({}): {} rounds of {} cold starts, interleaved (--verify-rounds)",
        candidates.len(),
        if candidates.len() == 1 { "" } else { "s" },
        candidates
            .iter()
            .map(|c| c.defer.join("+"))
            .collect::<Vec<_>>()
            .join(", "),
        options.rounds,
        candidates.len() + 1
    );
    let began = Instant::now();
    let plan = Plan {
        runs: options.rounds,
        warmup: 0,
        drop_caches: false,
        timeout: Duration::from_secs(60),
    };
    let stop = || super::session::take_signal().is_some();
    let progress = Progress {
        label: "coldspy verify",
        lines: true,
        stop: &stop,
    };
    let results = verify_findings(
        &options.python,
        &options.handler,
        options.event.clone(),
        candidates,
        &plan,
        &progress,
    );
    eprintln!(
        "coldspy: verification took {:.1} s",
        began.elapsed().as_secs_f64()
    );
    results
}
