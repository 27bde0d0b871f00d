//! The analysis on a real cold start (boto3, tqdm, markdown, pkg_resources,
//! jinja2, replayed from a fixture trace): ranking, patterns, evidence, advice.

mod common;

use coldspy::analysis::{analyze, Analysis, ScoreKind};
use coldspy::export::{Format, View};

#[test]
fn print_fixture_report() {
    let profile = common::coldstart_profile();
    let out = common::render(
        &profile,
        ScoreKind::RunTime,
        &View {
            top: None,
            ..View::default()
        },
        Format::Terminal,
    );
    println!("{}", String::from_utf8(out).unwrap());
    let _ = (analyze, Analysis::of);
}
