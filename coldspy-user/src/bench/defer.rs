//! Advice verified by experiment: the function started cold with a
//! finding's modules deferred by coldspy's runner (`--defer`, no code
//! change), interleaved with the unchanged function, and the verdict:
//! verified (end-to-end faster, its 95 % CI excluding 0, answers
//! identical), not significant, or not verified and why.

use super::{measure_all, Measured, Plan, Progress};
use crate::model::verification::{signed_ms, Change, DeferredModule, Outcome, Verification};
use crate::runner::{measure::Start, RunnerError, RunnerSpec};
use crate::stats;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A finding to verify: its module, its statement, the modules to defer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The finding's module.
    pub module: String,
    /// The finding's statement, `file:line`.
    pub statement: Option<String>,
    /// What the runner defers.
    pub defer: Vec<String>,
}

/// Runs one experiment for all candidates at once: the unchanged function
/// and each candidate's deferred variant, interleaved round by round (the
/// unchanged starts are shared). Never fails: what goes wrong becomes a
/// "not verified" with the reason.
pub fn verify_findings(
    python: &Path,
    handler: &str,
    event: Option<PathBuf>,
    candidates: &[Candidate],
    plan: &Plan,
    progress: &Progress,
) -> Vec<Verification> {
    let base = RunnerSpec::new(python, handler).event(event).answers(true);
    let mut specs = vec![base.clone()];
    specs.extend(candidates.iter().map(|c| base.clone().defer(&c.defer)));
    match measure_all(plan, &specs, progress) {
        Ok(measured) => candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut v = verdict(&c.module, c.statement.clone(), &c.defer, &measured, i + 1);
                if measured.interrupted {
                    v.summary
                        .push_str(&format!(" (interrupted after {} rounds)", measured.rounds));
                }
                v
            })
            .collect(),
        Err(e) => candidates
            .iter()
            .map(|c| Verification {
                summary: format!(
                    "not verified: the unchanged function could not be measured: {e:#}"
                ),
                ..empty(&c.module, c.statement.clone(), &c.defer)
            })
            .collect(),
    }
}

fn empty(module: &str, statement: Option<String>, deferred: &[String]) -> Verification {
    Verification {
        module: module.to_string(),
        statement,
        deferred: deferred.to_vec(),
        method: String::new(),
        starts: 0,
        outcome: Outcome::NotVerified,
        summary: String::new(),
        init_ms: None,
        exec_ms: None,
        end_to_end_ms: None,
        answers_identical: None,
        modules: Vec::new(),
    }
}

/// The verdict on `variant` (deferred) against variant 0 (unchanged).
pub fn verdict(
    module: &str,
    statement: Option<String>,
    deferred: &[String],
    m: &Measured,
    variant: usize,
) -> Verification {
    let mut v = empty(module, statement, deferred);
    let mine: Vec<&Start> = m.starts.iter().filter(|s| s.variant == variant).collect();
    let base: Vec<&Start> = m.starts.iter().filter(|s| s.variant == 0).collect();
    if let Some(d) = mine.iter().find_map(|s| s.deferral.as_ref()) {
        v.method = d.method.clone();
        v.modules = d.modules.clone();
    }
    v.starts = mine.len() as u64;
    let what = deferred.join(", ");
    if let Some(e) = m.stopped.get(variant).and_then(Option::as_ref) {
        v.summary = format!("not verified: {} with {what} deferred", raised(e));
        return v;
    }
    if mine.is_empty() {
        let why = m
            .failures
            .iter()
            .find(|f| f.0 == variant)
            .map(|f| f.2.to_string())
            .unwrap_or_else(|| "none was started".into());
        v.summary = format!("not verified: no start with {what} deferred completed ({why})");
        return v;
    }
    if v.modules.iter().all(|x| x.state != "deferred") {
        v.summary = format!("not verified: {}", not_deferred(&v.modules));
        return v;
    }
    let phase = |f: fn(&Start) -> f64| change(&base, &mine, f);
    v.init_ms = phase(|s| s.init_ms);
    v.exec_ms = phase(|s| s.exec_ms);
    v.end_to_end_ms = phase(|s| s.end_to_end_ms);
    let answers = answers(&base, &mine);
    v.answers_identical = answers.as_ref().ok().copied();
    let (outcome, summary) = conclude(&v, &answers, &what);
    v.outcome = outcome;
    v.summary = summary + &partly(&v.modules);
    v
}

/// The outcome and its line, from the phase changes and the answers.
fn conclude(v: &Verification, answers: &Result<bool, String>, what: &str) -> (Outcome, String) {
    let Some(e2e) = v.end_to_end_ms else {
        return (
            Outcome::NotVerified,
            format!("not verified: too few starts to compare ({})", v.starts),
        );
    };
    let init = v
        .init_ms
        .map(|c| format!("{} ms init, ", signed_ms(c.difference_ms)))
        .unwrap_or_default();
    let exec = v
        .exec_ms
        .filter(Change::significant)
        .map(|c| format!("{} ms exec, ", signed_ms(c.difference_ms)))
        .unwrap_or_default();
    let answer_text = match answers {
        Ok(true) => "answers identical".to_string(),
        Ok(false) => format!("the answers differ with {what} deferred"),
        Err(why) => format!("answers not comparable: {why}"),
    };
    let ci = format!(
        "95 % CI [{}, {}]",
        signed_ms(e2e.ci95_ms[0]),
        signed_ms(e2e.ci95_ms[1])
    );
    let gain = format!("{init}{exec}{} ms end-to-end", signed_ms(e2e.difference_ms));
    if *answers == Ok(false) {
        return (
            Outcome::NotVerified,
            format!("not verified: {answer_text} ({gain})"),
        );
    }
    if e2e.significant() && e2e.difference_ms > 0.0 {
        let first = v
            .modules
            .iter()
            .filter(|x| x.first_used_in == Some(1))
            .map(|x| x.module.as_str())
            .collect::<Vec<_>>();
        let why = if first.is_empty() {
            String::new()
        } else {
            format!(
                ": the first invocation uses {}, so its import only moves there",
                first.join(", ")
            )
        };
        return (
            Outcome::NotVerified,
            format!("not verified: slower with {what} deferred, {gain} ({ci}){why}; {answer_text}"),
        );
    }
    if !e2e.significant() {
        return (
            Outcome::NotSignificant,
            format!("not significant: {gain}, {ci} includes 0; {answer_text}"),
        );
    }
    match answers {
        Ok(true) => (
            Outcome::Verified,
            format!("verified: {gain}, {answer_text}"),
        ),
        _ => (
            Outcome::NotVerified,
            format!("not verified: {gain} ({ci}), but {answer_text}"),
        ),
    }
}

/// `median(deferred) − median(unchanged)` of one phase with its CI.
fn change(base: &[&Start], mine: &[&Start], f: fn(&Start) -> f64) -> Option<Change> {
    let a: Vec<f64> = base.iter().map(|s| f(s)).collect();
    let b: Vec<f64> = mine.iter().map(|s| f(s)).collect();
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (lo, hi) = stats::median_difference_ci(&a, &b);
    Some(Change {
        difference_ms: stats::median(&b) - stats::median(&a),
        ci95_ms: [lo, hi],
    })
}

/// Whether every answer of both variants is the same one; `Err` when that
/// cannot be told.
fn answers(base: &[&Start], mine: &[&Start]) -> Result<bool, String> {
    let set = |starts: &[&Start]| -> BTreeSet<String> {
        starts
            .iter()
            .flat_map(|s| s.answers.iter().cloned())
            .collect()
    };
    let (a, b) = (set(base), set(mine));
    if let Some(u) = a.iter().chain(&b).find(|x| x.starts_with("unserializable")) {
        return Err(format!(
            "the return value is not JSON ({})",
            u.trim_start_matches("unserializable ")
        ));
    }
    if a.is_empty() || b.is_empty() {
        return Err("no answers were reported".into());
    }
    if a.len() > 1 {
        return Err("the unchanged function's answers differ from run to run".into());
    }
    Ok(a == b)
}

/// The runner's error, as what the handler did.
fn raised(e: &RunnerError) -> String {
    match e.kind.as_str() {
        "init_raised" => format!("the handler module raises {} at import", e.message),
        "handler_raised" => format!("the handler raises {}", e.message),
        _ => e.to_string(),
    }
}

/// Why nothing was deferred, module by module.
fn not_deferred(modules: &[DeferredModule]) -> String {
    if modules.is_empty() {
        return "the runner reported no deferred module".into();
    }
    modules
        .iter()
        .map(|x| match (x.state.as_str(), x.site.as_deref()) {
            ("not_imported", _) => format!("nothing imports {} at init", x.module),
            (_, Some(site)) if site.starts_with("before the handler") => {
                format!("{} is loaded {site}", x.module)
            }
            (_, site) => format!(
                "{} is loaded at init anyway: its code runs from {} (reading a name from it, importing a sub-module of it, or using it at import time runs it)",
                x.module,
                site.unwrap_or("?"),
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The modules that were loaded at init anyway when others were deferred.
fn partly(modules: &[DeferredModule]) -> String {
    let loaded: Vec<String> = modules
        .iter()
        .filter(|x| x.state == "loaded")
        .map(|x| {
            format!(
                "{} loaded at init anyway ({})",
                x.module,
                x.site.as_deref().unwrap_or("?")
            )
        })
        .collect();
    if loaded.is_empty() {
        String::new()
    } else {
        format!("; {}", loaded.join("; "))
    }
}

/// What became of one deferred module, in words.
pub fn fate(x: &DeferredModule) -> String {
    match (x.state.as_str(), x.first_used_in) {
        ("deferred", None) => "deferred; no invocation ran it".into(),
        ("deferred", Some(k)) => format!(
            "deferred; first run by invocation {k} ({})",
            x.site.as_deref().unwrap_or("?")
        ),
        ("not_imported", _) => "not imported at init".into(),
        _ => format!(
            "loaded at init anyway ({})",
            x.site.as_deref().unwrap_or("?")
        ),
    }
}

/// The experiment's lines in `coldspy bench --defer`'s output.
pub fn print(v: &Verification, out: &mut dyn Write) -> std::io::Result<()> {
    let method = match v.method.as_str() {
        "pep810" => "PEP 810 lazy imports (sys.set_lazy_imports_filter)",
        "lazy_loader" => "a lazy loader (importlib.util.LazyLoader's way)",
        _ => "coldspy's runner",
    };
    writeln!(out, "deferred by {method}:")?;
    for x in &v.modules {
        writeln!(out, "  {}: {}", x.module, fate(x))?;
    }
    if let Some(e2e) = v.end_to_end_ms {
        let (is, what) = if e2e.significant() {
            ("significant", "excludes")
        } else {
            ("not significant", "includes")
        };
        writeln!(
            out,
            "end-to-end change {is}: {} ms, 95 % CI [{}, {}] {what} 0 (bootstrap of the difference of medians)",
            signed_ms(e2e.difference_ms),
            signed_ms(e2e.ci95_ms[0]),
            signed_ms(e2e.ci95_ms[1])
        )?;
    }
    writeln!(out, "{}", v.summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Deferral;

    fn start(variant: usize, init: f64, e2e: f64, answer: &str, state: &str) -> Start {
        Start {
            variant,
            init_ms: init,
            exec_ms: 5.0,
            end_to_end_ms: e2e,
            peak_rss_kib: 0,
            answers: vec![answer.into()],
            deferral: (variant > 0).then(|| Deferral {
                method: "lazy_loader".into(),
                modules: vec![DeferredModule {
                    module: "pandas".into(),
                    state: state.into(),
                    site: (state == "loaded").then(|| "/app.py:3".into()),
                    first_used_in: None,
                }],
            }),
        }
    }

    fn measured(deferred: &[(f64, f64, &str)], state: &str) -> Measured {
        let mut m = Measured {
            stopped: vec![None, None],
            nothing_deferred: vec![false, false],
            ..Measured::default()
        };
        for (i, (init, e2e, answer)) in deferred.iter().enumerate() {
            let jitter = i as f64;
            m.starts
                .push(start(0, 300.0 + jitter, 400.0 + jitter, "a", ""));
            m.starts.push(start(1, *init, *e2e, answer, state));
        }
        m
    }

    #[test]
    fn a_real_gain_with_identical_answers_is_verified() {
        let rows: Vec<(f64, f64, &str)> = (0..8)
            .map(|i| (190.0 + i as f64, 290.0 + i as f64, "a"))
            .collect();
        let v = verdict(
            "pandas",
            None,
            &["pandas".into()],
            &measured(&rows, "deferred"),
            1,
        );
        assert_eq!(v.outcome, Outcome::Verified, "{}", v.summary);
        assert!(
            v.summary.starts_with(
                "verified: \u{2212}110 ms init, \u{2212}110 ms end-to-end, answers identical"
            ),
            "{}",
            v.summary
        );
        assert_eq!(v.answers_identical, Some(true));
    }

    #[test]
    fn no_gain_is_not_significant_and_says_the_ci_includes_zero() {
        let rows: Vec<(f64, f64, &str)> = (0..8)
            .map(|i| (296.0 + i as f64, 396.0 + 2.0 * i as f64, "a"))
            .collect();
        let v = verdict(
            "pandas",
            None,
            &["pandas".into()],
            &measured(&rows, "deferred"),
            1,
        );
        assert_eq!(v.outcome, Outcome::NotSignificant, "{}", v.summary);
        assert!(v.summary.contains("includes 0"), "{}", v.summary);
    }

    #[test]
    fn different_answers_or_nothing_deferred_or_a_raise_are_not_verified() {
        let rows: Vec<(f64, f64, &str)> = (0..8).map(|_| (190.0, 290.0, "b")).collect();
        let v = verdict(
            "pandas",
            None,
            &["pandas".into()],
            &measured(&rows, "deferred"),
            1,
        );
        assert_eq!(v.outcome, Outcome::NotVerified);
        assert!(v.summary.contains("answers differ"), "{}", v.summary);
        assert_eq!(v.answers_identical, Some(false));

        let rows: Vec<(f64, f64, &str)> = vec![(300.0, 400.0, "a")];
        let v = verdict(
            "pandas",
            None,
            &["pandas".into()],
            &measured(&rows, "loaded"),
            1,
        );
        assert_eq!(v.outcome, Outcome::NotVerified);
        assert!(
            v.summary
                .contains("pandas is loaded at init anyway: its code runs from /app.py:3"),
            "{}",
            v.summary
        );

        let mut m = measured(&[], "deferred");
        m.stopped[1] = Some(RunnerError {
            kind: "handler_raised".into(),
            message: "ImportError: no".into(),
        });
        let v = verdict("pandas", None, &["pandas".into()], &m, 1);
        assert_eq!(
            v.summary,
            "not verified: the handler raises ImportError: no with pandas deferred"
        );
    }

    #[test]
    fn answers_that_vary_between_unchanged_runs_are_not_comparable() {
        let mut m = measured(&[(190.0, 290.0, "a"), (191.0, 291.0, "a")], "deferred");
        m.starts[0].answers = vec!["other".into()];
        let v = verdict("pandas", None, &["pandas".into()], &m, 1);
        assert_eq!(v.answers_identical, None);
        assert_eq!(v.outcome, Outcome::NotVerified, "{}", v.summary);
        assert!(
            v.summary.contains("differ from run to run"),
            "{}",
            v.summary
        );
    }
}
