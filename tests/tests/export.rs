//! Every output format on a recorded fixture (`examples/handler.py`),
//! opened by its real consumer: headless Chromium for the HTML report,
//! `go tool pprof` for pprof, inferno for collapsed stacks, the speedscope
//! file-format schema's constraints for speedscope; golden files for the
//! deterministic text formats.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy::analysis::{analyze, ScoreKind};
use coldspy::export::Format;
use coldspy::model::build::build_profile;
use coldspy::model::profile::Profile;
use coldspy::model::trace::Trace;
use coldspy_tests::{repo_root, scratch};
use std::process::Command;

fn profile() -> (Profile, coldspy::analysis::Analysis) {
    let path = repo_root().join("tests/fixtures/handler.trace.json");
    let trace: Trace = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut profile = build_profile(&trace);
    let analysis = analyze(&mut profile, ScoreKind::Runtime);
    (profile, analysis)
}

fn render(format: Format) -> (Profile, Vec<u8>) {
    let (profile, analysis) = profile();
    let mut out = Vec::new();
    format
        .exporter(coldspy::flame::inferno_svg)
        .write(&profile, &analysis, &mut out)
        .unwrap();
    (profile, out)
}

/// Compares with a golden file; `COLDSPY_BLESS=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = repo_root().join("tests/fixtures/golden").join(name);
    if std::env::var_os("COLDSPY_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with COLDSPY_BLESS=1", path.display()));
    if expected != actual {
        panic!(
            "{name} differs from its golden file (COLDSPY_BLESS=1 to accept):\n{}",
            line_diff(&expected, actual)
        );
    }
}

/// The differing lines of two texts (`-` golden, `+` actual), at most 40,
/// with their line numbers: enough to see what changed without a diff tool.
fn line_diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = Vec::new();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            if let Some(x) = x {
                out.push(format!("{:>5} - {x}", i + 1));
            }
            if let Some(y) = y {
                out.push(format!("{:>5} + {y}", i + 1));
            }
        }
        if out.len() >= 40 {
            out.push("      … (more)".into());
            break;
        }
    }
    out.join("\n")
}

#[test]
fn a_golden_mismatch_shows_the_differing_lines() {
    let diff = line_diff("a\nb\nc\n", "a\nB\nc\nd\n");
    assert_eq!(diff, "    2 - b\n    2 + B\n    4 + d");
}

#[test]
fn collapsed_stacks_sum_to_the_samples_and_match_the_golden_file() {
    let (profile, out) = render(Format::Collapsed);
    let text = String::from_utf8(out).unwrap();
    let mut total = 0;
    for line in text.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("`stack count`");
        assert!(!stack.is_empty());
        total += count.parse::<u64>().unwrap();
    }
    assert_eq!(total, profile.stats.samples);
    golden("handler.collapsed", &text);
}

#[test]
fn flame_graph_is_drawn_by_inferno_from_the_collapsed_stacks() {
    let (_, out) = render(Format::Flamegraph);
    let svg = String::from_utf8(out).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("markdown"),
        "inferno's SVG names the frames"
    );
}

#[test]
fn speedscope_meets_its_file_format_schema() {
    let (profile, out) = render(Format::Speedscope);
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    // The constraints of https://www.speedscope.app/file-format-schema.json
    // that apply to a sampled profile.
    assert_eq!(
        doc["$schema"],
        "https://www.speedscope.app/file-format-schema.json"
    );
    let frames = doc["shared"]["frames"].as_array().unwrap();
    assert!(frames
        .iter()
        .all(|f| f["name"].is_string() && f["line"].is_u64() && f["file"].is_string()));
    let p = &doc["profiles"][0];
    assert_eq!(p["type"], "sampled");
    assert!([
        "none",
        "nanoseconds",
        "microseconds",
        "milliseconds",
        "seconds",
        "bytes"
    ]
    .contains(&p["unit"].as_str().unwrap()));
    assert!(p["name"].is_string() && p["startValue"].is_number() && p["endValue"].is_number());
    let samples = p["samples"].as_array().unwrap();
    let weights = p["weights"].as_array().unwrap();
    assert_eq!(samples.len(), weights.len());
    for s in samples {
        assert!(s
            .as_array()
            .unwrap()
            .iter()
            .all(|i| (i.as_u64().unwrap() as usize) < frames.len()));
    }
    let total: u64 = weights.iter().map(|w| w.as_u64().unwrap()).sum();
    assert_eq!(total, profile.stats.samples);
    let mut normalized = doc.clone();
    normalized["exporter"] = "coldspy".into();
    golden(
        "handler.speedscope.json",
        &serde_json::to_string_pretty(&normalized).unwrap(),
    );
}

#[test]
fn go_tool_pprof_reads_the_pprof_output() {
    let (profile, out) = render(Format::Pprof);
    let dir = scratch("pprof");
    let path = dir.join("profile.pb.gz");
    std::fs::write(&path, out).unwrap();
    let top = Command::new("go")
        .args(["tool", "pprof", "-top"])
        .arg(&path)
        .env("HOME", &dir)
        .output()
        .expect("go (golang-go) is missing: run `cargo xtask setup`");
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(
        top.status.success(),
        "{}",
        String::from_utf8_lossy(&top.stderr)
    );
    assert!(
        text.contains(&format!("Total samples = {}", profile.stats.samples)),
        "{text}"
    );
    // The hottest self frame of the CCT is pprof's first row.
    let collapsed = coldspy::export::collapsed::lines(&profile);
    assert!(!collapsed.is_empty());
    let first_row = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .nth(1)
        .unwrap_or("");
    let function = first_row.split_whitespace().last().unwrap_or("");
    assert!(
        profile
            .cct
            .frames
            .iter()
            .any(|f| f.shown_name().ends_with(function)),
        "{first_row}"
    );
}

/// The package rows of the ranked table in a DOM Chromium dumped, each as
/// the text of its cells (`▸ boto3`, score, samples, …).
fn ranked_rows(dom: &str) -> Vec<Vec<String>> {
    let text = |cell: &str| {
        let mut out = String::new();
        let mut in_tag = false;
        for c in cell.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.trim().to_string()
    };
    // The table only: the page's own script (in the DOM too) writes such rows.
    let table = &dom[dom
        .find(r#"<table id="ranked">"#)
        .expect("the ranked table")..];
    let table = &table[..table.find("</table>").expect("the table's end")];
    table
        .split(r#"<tr class="pkg""#)
        .skip(1)
        .map(|row| {
            let row = &row[..row.find("</tr>").unwrap_or(row.len())];
            let row = &row[row.find('>').map_or(0, |i| i + 1)..];
            row.split("<td")
                .skip(1)
                .map(|cell| text(&format!("<td{cell}")))
                .collect()
        })
        .collect()
}

/// Whether a column of numbers (cell `k` of every row) is descending.
fn descending(rows: &[Vec<String>], k: usize) -> bool {
    let values: Vec<f64> = rows.iter().map(|r| r[k].parse().unwrap()).collect();
    values.windows(2).all(|w| w[0] >= w[1])
}

/// The sample count the CCT explorer shows (`(N samples)`).
fn cct_total(dom: &str) -> u64 {
    let at = dom.find(r#"<div id="cct">"#).expect("the CCT element");
    let rest = &dom[at..];
    let end = rest
        .find(" samples)")
        .expect("the CCT explorer rendered its header");
    let start = rest[..end].rfind('(').unwrap() + 1;
    rest[start..end].parse().unwrap()
}

#[test]
fn html_report_loads_sorts_and_renders_in_headless_chromium() {
    let (profile, out) = render(Format::Html);
    let html = String::from_utf8(out).unwrap();
    for remote in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "src='http",
        "import(",
    ] {
        assert!(!html.contains(remote), "no remote resources ({remote})");
    }
    let dir = scratch("html");
    let page = dir.join("report.html");
    std::fs::write(&page, &html).unwrap();
    let chromium =
        |page: &std::path::Path, extra: &[&str]| coldspy_tests::chromium(page, &dir, extra);
    // What the shipped page renders by itself, read from the DOM.
    let dom = String::from_utf8_lossy(&chromium(&page, &["--dump-dom"]).stdout).into_owned();
    let rows = ranked_rows(&dom);
    // One row per package of the application's imports (the interpreter's
    // start-up and the runner's are summarized apart).
    let analysis = coldspy::analysis::analyze_profile(&profile, ScoreKind::Runtime);
    let application: std::collections::HashSet<&str> =
        analysis.packages.iter().map(|p| p.name.as_str()).collect();
    let packages = application.len();
    assert!(packages > 50 && packages < profile.modules.len());
    assert_eq!(rows.len(), packages, "one row per package");
    assert!(descending(&rows, 1), "sorted by score, highest first");
    assert!(
        dom.contains(r#"<ul id="changes"><li><b>[1] never_used</b> <code>boto3</code> at "#),
        "what to change leads with the boto3 import"
    );
    // The timeline on top: before the list, the boto3 statement marked [1].
    let timeline = dom.find(r#"<svg id="timeline""#).expect("the timeline");
    assert!(timeline < dom.find(r#"<ul id="changes">"#).unwrap());
    let marked = &dom[timeline..];
    assert!(
        marked.contains(r#"<rect class="statement finding never_used""#)
            && marked.contains("[1] never_used: boto3 at handler.py:10"),
        "the boto3 finding is marked on the timeline"
    );
    let all_samples = cct_total(&dom);
    assert!(all_samples > 0, "the CCT explorer shows the samples");
    assert!(
        dom.contains(r#"<div id="waterfall"><svg"#),
        "the import waterfall was drawn (the script ran to its end)"
    );
    // The page driven as a user would, by a script only this test's copy
    // of the page carries: sort by samples, open the first package, filter
    // the CCT on boto3.
    let driven = dir.join("driven.html");
    let driver = r#"<script>
document.querySelector('#ranked th[data-k=samples]').click();
document.querySelector('#ranked tr.pkg').click();
const mod = document.getElementById('mod');
mod.value = 'boto3';
mod.dispatchEvent(new Event('input'));
</script></body></html>"#;
    std::fs::write(&driven, html.replacen("</body></html>", driver, 1)).unwrap();
    let dom = String::from_utf8_lossy(&chromium(&driven, &["--dump-dom"]).stdout).into_owned();
    let rows = ranked_rows(&dom);
    assert_eq!(rows.len(), packages);
    assert!(descending(&rows, 2), "a click on `smpls` sorts by samples");
    assert!(!descending(&rows, 1), "no longer by score");
    assert!(rows[0][0].starts_with('▾'), "the clicked package is open");
    let table = &dom[dom.find(r#"<table id="ranked">"#).unwrap()..];
    let first = table.split(r#"<tr class="pkg""#).nth(1).unwrap();
    assert!(
        first.contains(r#"</tr><tr class="mod">"#),
        "its modules are listed under it"
    );
    let boto3 = cct_total(&dom);
    assert!(
        boto3 > 0 && boto3 < all_samples,
        "the module filter keeps boto3's samples: {boto3} of {all_samples}"
    );
    let shot = dir.join("report.png");
    chromium(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1000",
        ],
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot of {size} bytes");
}

#[test]
fn terminal_json_and_pprof_match_their_golden_files() {
    let (_, terminal) = render(Format::Terminal);
    golden(
        "handler.terminal.txt",
        &String::from_utf8(terminal).unwrap(),
    );
    // The JSON profile (2 MB) and pprof (gzipped protobuf; its gzip header
    // carries no time) are compared by digest, so the golden files stay small.
    let digest = |bytes: &[u8]| {
        let h = bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        format!("{h:016x} {} bytes\n", bytes.len())
    };
    let (_, json) = render(Format::Json);
    golden("handler.profile.json.fnv64", &digest(&json));
    // What the digest cannot show: the stats and the analysed module rows,
    // as readable JSON, so that a change of the answer diffs line by line.
    let value: serde_json::Value = {
        let mut de = serde_json::Deserializer::from_slice(&json);
        de.disable_recursion_limit();
        serde::Deserialize::deserialize(&mut de).unwrap()
    };
    let readable = serde_json::json!({"stats": value["stats"], "modules": value["modules"]});
    golden(
        "handler.profile.modules.json",
        &(serde_json::to_string_pretty(&readable).unwrap() + "\n"),
    );
    let (_, pprof) = render(Format::Pprof);
    golden("handler.pprof.fnv64", &digest(&pprof));
}
