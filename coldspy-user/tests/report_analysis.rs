//! The analysis on a real cold start (boto3, tqdm, markdown, pkg_resources,
//! jinja2; see tests/fixtures/gen/make_trace.py), replayed without a kernel:
//! ranking, patterns, evidence and advice.

mod common;

use coldspy::analysis::module_tree::ModuleNode;
use coldspy::analysis::{analyze, Analysis, ScoreKind};
use coldspy::model::profile::Profile;

fn node<'a>(analysis: &'a Analysis, name: &str) -> &'a ModuleNode {
    analysis
        .tree
        .roots
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("{name} not ranked"))
}

#[test]
fn the_unused_boto3_import_is_the_first_thing_to_change() {
    let analysis = Analysis::of(&common::coldstart_profile(), ScoreKind::RunTime);
    let first = &analysis.actions[0];
    assert_eq!(
        (first.module.as_str(), first.pattern.as_str()),
        ("boto3", "never_used")
    );
    let site = first.site.as_ref().unwrap();
    assert_eq!(
        (site.file.as_str(), site.line),
        ("/app/handler.py", 3),
        "`import boto3` is line 3"
    );
    assert!(
        first.packages.iter().any(|p| p == "botocore")
            && first.packages.iter().any(|p| p == "urllib3")
    );
    assert!(
        first
            .advice
            .starts_with("Remove the import of `boto3` at /app/handler.py:3"),
        "{}",
        first.advice
    );
    // Its saving is the sum over the packages it covers, and the largest of all.
    let sum: u64 = first
        .packages
        .iter()
        .map(|p| node(&analysis, p).self_by_dot_us)
        .sum();
    assert_eq!(first.saving_us, sum);
    assert!(analysis
        .actions
        .iter()
        .all(|a| a.saving_us <= first.saving_us));
    // In the ranked table, botocore (the heaviest package of boto3's tree) is the top never-used package.
    let top_never_used = analysis
        .tree
        .roots
        .iter()
        .find(|r| r.pattern.as_deref() == Some("never_used"))
        .unwrap();
    assert_eq!(top_never_used.name, "botocore");
}

#[test]
fn every_package_of_the_fixture_gets_the_right_pattern_and_advice() {
    let analysis = Analysis::of(&common::coldstart_profile(), ScoreKind::RunTime);
    let pattern = |name: &str| node(&analysis, name).pattern.clone();
    let advice = |name: &str| node(&analysis, name).advice.clone().unwrap_or_default();

    assert_eq!(pattern("tqdm").as_deref(), Some("never_used"));
    assert!(
        advice("tqdm").contains("/app/handler.py:4"),
        "{}",
        advice("tqdm")
    );
    let tqdm = node(&analysis, "tqdm").evidence.as_ref().unwrap();
    assert!(tqdm
        .curated_reason
        .as_deref()
        .unwrap()
        .starts_with("progress bars"));

    assert_eq!(pattern("pkg_resources").as_deref(), Some("library_choice"));
    assert!(
        advice("pkg_resources").contains("/app/handler.py:6 with importlib.metadata"),
        "{}",
        advice("pkg_resources")
    );

    assert_eq!(pattern("jinja2").as_deref(), Some("rarely_used"));
    assert!(
        advice("jinja2").contains("into `error_page` (/app/handler.py:"),
        "{}",
        advice("jinja2")
    );
    assert!(
        !advice("jinja2").contains("PEP 810"),
        "CPython 3.11 has no lazy import"
    );

    for used in ["markdown", "handler", "json"] {
        assert_eq!(pattern(used), None, "{used} is used at run time");
        assert!(node(&analysis, used).cumulative_samples_by_dot > 0);
    }
    for start_up in ["site", "encodings", "_distutils_hack"] {
        assert_eq!(
            pattern(start_up),
            None,
            "{start_up} comes with the interpreter's start-up"
        );
    }
    assert!(analysis
        .tree
        .walk()
        .all(|n| (0.0..=100.0).contains(&n.score)));
}

#[test]
fn on_cpython_3_15_rarely_used_suggests_lazy_import() {
    let mut profile = common::coldstart_profile();
    profile.meta.python_version = "3.15.0".into();
    let analysis = Analysis::of(&profile, ScoreKind::RunTime);
    let advice = node(&analysis, "jinja2").advice.clone().unwrap();
    assert!(
        advice.contains("`lazy import jinja2` (PEP 810)"),
        "{advice}"
    );
}

#[test]
fn classic_score_counts_import_samples_as_use() {
    let profile = common::coldstart_profile();
    let runtime = Analysis::of(&profile, ScoreKind::RunTime);
    let classic = Analysis::of(&profile, ScoreKind::Classic);
    let (r, c) = (node(&runtime, "botocore"), node(&classic, "botocore"));
    assert_eq!(r.cumulative_samples_by_dot, 0);
    assert!(
        c.all_samples_by_dot > 0,
        "botocore's own import samples count in the classic score"
    );
    assert!(c.score < r.score);
    assert_eq!(classic.score_kind, ScoreKind::Classic);
}

#[test]
fn analyze_fills_the_profile_and_the_json_reads_back() {
    let mut profile = common::coldstart_profile();
    let analysis = analyze(&mut profile, ScoreKind::RunTime);
    let boto3 = profile.modules.iter().find(|m| m.name == "boto3").unwrap();
    assert_eq!(boto3.pattern.as_deref(), Some("never_used"));
    assert_eq!(boto3.cumulative_samples_by_dot, Some(0));
    assert!(boto3.advice.as_deref().unwrap().contains("handler.py:3"));
    assert_eq!(
        boto3.score,
        Some(coldspy::analysis::round_score(
            node(&analysis, "boto3").score
        ))
    );
    assert!(profile.modules.iter().all(|m| m.score.is_some()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    std::fs::write(&path, serde_json::to_vec(&profile).unwrap()).unwrap();
    // Deep import stacks nest the CCT deeper than serde_json's default limit:
    // regression test for Profile::read refusing real profiles.
    let read = Profile::read(&path).expect("a profile with deep stacks reads back");
    assert!(read.cct == profile.cct, "the CCT reads back unchanged");
    let patterns = |p: &Profile| -> Vec<(String, Option<String>, Option<String>)> {
        p.modules
            .iter()
            .map(|m| (m.name.clone(), m.pattern.clone(), m.advice.clone()))
            .collect()
    };
    assert!(
        patterns(&read) == patterns(&profile),
        "the analysis fields read back"
    );
}

#[test]
fn print_summary_is_what_record_shows_at_its_end() {
    let mut out = Vec::new();
    coldspy::report::print_summary(&common::coldstart_profile(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("coldspy report: python3 /app/main.py\n"),
        "{text}"
    );
    assert!(
        text.contains(" 1. ") && text.contains("`boto3` and what it pulls in"),
        "{text}"
    );
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("  # package"))
        .collect();
    let ranked = |n: usize| table.iter().any(|l| l.starts_with(&format!("{n:>3} ")));
    assert!(
        (1..=10).all(ranked) && !ranked(11),
        "the ten highest-ranked packages:\n{text}"
    );
    assert!(text.contains("… ") && text.contains("more packages"));
}
