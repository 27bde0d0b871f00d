//! Golden files of every writer on a small hand-written profile (host, time,
//! pid and version normalized): any change of an output shows up as a diff
//! to review with `cargo insta review`.

mod common;

use coldspy::analysis::{Analysis, ScoreKind};
use coldspy::export::stacks::{SampleFilter, StackFilter};
use coldspy::export::{Format, View};
use coldspy::report::diff::{DiffFormat, ProfileDiff};
use prost::Message;
use std::path::Path;

fn text(format: Format, kind: ScoreKind, view: &View) -> String {
    String::from_utf8(common::render(
        &common::small_profile(true),
        kind,
        view,
        format,
    ))
    .unwrap()
}

#[test]
fn terminal_table() {
    insta::assert_snapshot!(text(
        Format::Terminal,
        ScoreKind::RunTime,
        &View {
            depth: 2,
            ..View::default()
        }
    ));
}

#[test]
fn terminal_table_classic_score() {
    insta::assert_snapshot!(text(Format::Terminal, ScoreKind::Classic, &View::default()));
}

#[test]
fn terminal_cct_of_a_module_with_children_without_import_samples() {
    let view = View {
        filter: StackFilter {
            module: Some("markdown".into()),
            children: true,
            samples: SampleFilter::HideImport,
        },
        ..View::default()
    };
    insta::assert_snapshot!(text(Format::Terminal, ScoreKind::RunTime, &view));
}

#[test]
fn terminal_cct_import_samples_only() {
    let view = View {
        cct: true,
        filter: StackFilter {
            samples: SampleFilter::OnlyImport,
            ..StackFilter::default()
        },
        ..View::default()
    };
    insta::assert_snapshot!(text(Format::Terminal, ScoreKind::RunTime, &view));
}

#[test]
fn json_profile_with_analysis() {
    insta::assert_snapshot!(text(Format::Json, ScoreKind::RunTime, &View::default()));
}

#[test]
fn html_page() {
    insta::assert_snapshot!(text(Format::Html, ScoreKind::RunTime, &View::default()));
}

#[test]
fn speedscope_file() {
    insta::assert_snapshot!(text(
        Format::Speedscope,
        ScoreKind::RunTime,
        &View::default()
    ));
}

#[test]
fn collapsed_stacks() {
    insta::assert_snapshot!(text(
        Format::Collapsed,
        ScoreKind::RunTime,
        &View::default()
    ));
}

#[test]
fn flamegraph_svg() {
    insta::assert_snapshot!(text(
        Format::Flamegraph,
        ScoreKind::RunTime,
        &View::default()
    ));
}

#[test]
fn pprof_profile_decoded() {
    let gz = common::render(
        &common::small_profile(true),
        ScoreKind::RunTime,
        &View::default(),
        Format::Pprof,
    );
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut bytes).unwrap();
    let decoded = coldspy::export::pprof::proto::Profile::decode(&bytes[..]).unwrap();
    insta::assert_debug_snapshot!(decoded);
}

#[test]
fn diff_without_boto3() {
    let before = Analysis::of(&common::small_profile(true), ScoreKind::RunTime);
    let after = Analysis::of(&common::small_profile(false), ScoreKind::RunTime);
    let diff = ProfileDiff::of(&before, &after);
    let mut out = Vec::new();
    diff.write(
        DiffFormat::Terminal,
        None,
        Path::new("before.json"),
        Path::new("after.json"),
        &mut out,
    )
    .unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
    let removed: Vec<&str> = diff
        .packages
        .iter()
        .filter(|p| p.after.is_none())
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        removed,
        ["botocore", "boto3"],
        "what the change removed comes first, largest gain first"
    );
    assert_eq!(diff.packages[0].gain_us, 86_000);
}
