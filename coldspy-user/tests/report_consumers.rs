//! Every output format opened by its real consumer: the HTML report in
//! headless Chromium, pprof in `go tool pprof`, collapsed stacks re-read and
//! drawn by inferno, speedscope checked against its file-format schema, the
//! JSON profile read back by coldspy. Missing tools fail the test with
//! "run cargo xtask setup".

mod common;

use coldspy::analysis::ScoreKind;
use coldspy::export::stacks::{filtered_tree, for_each_stack, SampleFilter, StackFilter};
use coldspy::export::{Format, View};
use coldspy::model::profile::Profile;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

fn filter(module: Option<&str>, children: bool, samples: SampleFilter) -> StackFilter {
    StackFilter {
        module: module.map(str::to_string),
        children,
        samples,
    }
}

/// Checks a PNG: decodes it and requires a real picture (many distinct colours).
fn assert_png_has_content(png_bytes: &[u8], width: u32, height: u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (width, height));
    let step = info.color_type.samples();
    let distinct: std::collections::HashSet<&[u8]> =
        pixels[..info.buffer_size()].chunks(step).collect();
    assert!(
        distinct.len() > 50,
        "the screenshot is (nearly) blank: {} colours",
        distinct.len()
    );
}

#[test]
fn html_report_loads_sorts_and_filters_in_chromium() {
    let chromium = common::require_tool("chromium");
    let profile = common::coldstart_profile();
    let html = common::render(&profile, ScoreKind::RunTime, &View::default(), Format::Html);
    let text = String::from_utf8(html.clone()).unwrap();
    assert!(
        !text.contains("<script src") && !text.contains("<link"),
        "self-contained: nothing to fetch"
    );
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();

    let (width, height) = (1400, 1000);
    let mut browser =
        common::cdp::Browser::launch(&chromium, width, height, Duration::from_secs(90));
    browser.open(&format!("file://{}", page.display()));
    let first_action = browser.eval("document.querySelector('#actions-list li').dataset.module");
    assert_eq!(
        first_action,
        Value::String("boto3".into()),
        "the unused boto3 import comes first"
    );
    let rows = browser.eval("document.querySelectorAll('#ranked-table tbody tr').length");
    assert!(
        rows.as_u64().unwrap() > 100,
        "the ranked table is filled: {rows}"
    );

    // Sorting: click "self ms" (descending), then again (ascending).
    let column = r#"(() => { document.querySelector('th[data-key="self_us"]').click();
        return [...document.querySelectorAll('#ranked-table tbody tr[data-depth="0"]')].map(r => Number(r.dataset.sort)); })()"#;
    let desc: Vec<f64> = serde_json::from_value(browser.eval(column)).unwrap();
    assert!(
        desc.windows(2).all(|w| w[0] >= w[1]),
        "descending after one click: {desc:?}"
    );
    assert!(desc[0] > desc[desc.len() - 1]);
    let asc: Vec<f64> = serde_json::from_value(browser.eval(column)).unwrap();
    assert!(
        asc.windows(2).all(|w| w[0] <= w[1]),
        "ascending after a second click"
    );
    let by_name = r#"(() => { document.querySelector('th[data-key="name"]').click();
        return [...document.querySelectorAll('#ranked-table tbody tr[data-depth="0"]')].map(r => r.dataset.name); })()"#;
    let names: Vec<String> = serde_json::from_value(browser.eval(by_name)).unwrap();
    let mut sorted = names.clone();
    sorted.sort_by_key(|a| a.to_lowercase());
    assert_eq!(names.first(), sorted.first());
    // Back to rank order, expand botocore's sub-modules.
    browser.eval(r#"document.querySelector('th[data-key="rank"]').click()"#);
    let expanded = browser.eval(
        r#"(() => { document.querySelector('tr[data-name="botocore"] button.toggle').click();
        return document.querySelectorAll('tr[data-depth="1"]').length; })()"#,
    );
    assert!(
        expanded.as_u64().unwrap() > 0,
        "botocore expands into its sub-modules"
    );

    // The CCT explorer counts the same samples as the Rust writers.
    for f in [
        filter(None, false, SampleFilter::All),
        filter(Some("markdown"), true, SampleFilter::HideImport),
        filter(Some("markdown"), false, SampleFilter::All),
        filter(Some("botocore"), true, SampleFilter::OnlyImport),
    ] {
        let samples = serde_json::to_value(f.samples).unwrap();
        let js = format!(
            "window.coldspy.filteredTotal({}, {}, {})",
            json!(f.module.clone().unwrap_or_default()),
            f.children,
            samples
        );
        let in_page = browser.eval(&js).as_f64().unwrap() as u64;
        assert_eq!(in_page, filtered_tree(&profile.cct, &f).total, "{js}");
    }
    // The filter controls re-render the tree, flame graph and count.
    let kept = browser.eval(
        r#"(() => { const m = document.getElementById('f-module'); m.value = 'markdown';
        document.getElementById('f-children').checked = true; m.dispatchEvent(new Event('change'));
        return document.getElementById('f-count').textContent; })()"#,
    );
    let expected = filtered_tree(
        &profile.cct,
        &filter(Some("markdown"), true, SampleFilter::All),
    )
    .total;
    assert_eq!(kept, Value::String(format!("{expected} samples kept")));
    let flame_boxes = browser
        .eval("document.querySelectorAll('#flame-graph div').length")
        .as_u64()
        .unwrap();
    assert!(
        flame_boxes > 5,
        "the flame graph is drawn: {flame_boxes} boxes"
    );
    let bars = browser
        .eval("document.querySelectorAll('#waterfall-chart .wbar').length")
        .as_u64()
        .unwrap();
    assert!(bars > 10, "the import waterfall is drawn: {bars} bars");

    browser.eval("document.getElementById('f-module').value = ''; document.getElementById('f-module').dispatchEvent(new Event('change')); window.scrollTo(0, 0)");
    let png = browser.screenshot();
    assert_png_has_content(&png, width, height);
    let errors = browser.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html.png");
    std::fs::write(&shots, &png).unwrap();
    eprintln!("screenshot: {}", shots.display());
}

#[test]
fn the_browser_check_sees_page_errors() {
    // The HTML test relies on this: a page that throws must be reported.
    let chromium = common::require_tool("chromium");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        "<p>x</p><script>console.error('boom'); undefinedFunction();</script>",
    )
    .unwrap();
    let mut browser = common::cdp::Browser::launch(&chromium, 400, 300, Duration::from_secs(60));
    browser.open(&format!("file://{}", page.display()));
    let errors = browser.errors();
    assert!(errors.iter().any(|e| e.contains("boom")), "{errors:#?}");
    assert!(
        errors.iter().any(|e| e.contains("undefinedFunction")),
        "{errors:#?}"
    );
}

#[test]
fn flamegraph_svg_renders_in_chromium() {
    let chromium = common::require_tool("chromium");
    let profile = common::coldstart_profile();
    let svg = common::render(
        &profile,
        ScoreKind::RunTime,
        &View::default(),
        Format::Flamegraph,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flame.svg");
    std::fs::write(&path, &svg).unwrap();
    let mut browser = common::cdp::Browser::launch(&chromium, 1200, 800, Duration::from_secs(60));
    browser.open(&format!("file://{}", path.display()));
    let frames = browser
        .eval("document.querySelectorAll('g > title').length")
        .as_u64()
        .unwrap();
    assert!(frames > 20, "the SVG has frames: {frames}");
    let handler = browser.eval("[...document.querySelectorAll('title')].some(t => t.textContent.startsWith('handle (/app/handler.py'))");
    assert_eq!(handler, Value::Bool(true));
    assert_png_has_content(&browser.screenshot(), 1200, 800);
    let errors = browser.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

#[test]
fn pprof_opens_in_go_tool_pprof() {
    let go = common::require_tool("go");
    let profile = common::coldstart_profile();
    let view = View {
        filter: filter(None, false, SampleFilter::HideImport),
        ..View::default()
    };
    let bytes = common::render(&profile, ScoreKind::RunTime, &view, Format::Pprof);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.pb.gz");
    std::fs::write(&path, bytes).unwrap();
    let top = common::run_ok(
        Command::new(go)
            .args([
                "tool",
                "pprof",
                "-top",
                "-nodecount=5",
                "-sample_index=samples",
            ])
            .arg(&path)
            .env("HOME", dir.path())
            .env("PPROF_TMPDIR", dir.path()),
    );
    // "Showing nodes accounting for X, Y% of TOTAL total"
    let total: u64 = top
        .lines()
        .find_map(|l| {
            l.split(" of ")
                .nth(1)?
                .strip_suffix(" total")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no total in:\n{top}"));
    let expected = profile.stats.samples - profile.stats.import_samples;
    assert_eq!(total, expected, "pprof counts the run-time samples:\n{top}");
    // The function with the most own samples comes first.
    let mut own: HashMap<&str, u64> = HashMap::new();
    for_each_stack(&profile.cct, &view.filter, |stack, counts| {
        *own.entry(&profile.cct.frames[*stack.last().unwrap()].function)
            .or_default() += counts.total();
    });
    let (top_function, _) = own
        .iter()
        .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
        .unwrap();
    let first_row = top
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .nth(1)
        .unwrap();
    assert!(
        first_row.ends_with(top_function),
        "expected {top_function} first:\n{top}"
    );
}

#[test]
fn collapsed_stacks_read_back_and_draw() {
    let profile = common::coldstart_profile();
    for f in [
        filter(None, false, SampleFilter::All),
        filter(Some("jinja2"), true, SampleFilter::HideImport),
    ] {
        let view = View {
            filter: f.clone(),
            ..View::default()
        };
        let text = String::from_utf8(common::render(
            &profile,
            ScoreKind::RunTime,
            &view,
            Format::Collapsed,
        ))
        .unwrap();
        let mut read: HashMap<String, u64> = HashMap::new();
        for line in text.lines() {
            let (stack, count) = line.rsplit_once(' ').expect("`stack count`");
            *read.entry(stack.to_string()).or_default() += count.parse::<u64>().expect("a count");
        }
        let mut expected: HashMap<String, u64> = HashMap::new();
        for_each_stack(&profile.cct, &f, |stack, counts| {
            let names: Vec<String> = stack
                .iter()
                .map(|&i| coldspy::export::collapsed::frame_label(&profile.cct.frames[i]))
                .collect();
            *expected.entry(names.join(";")).or_default() += counts.total();
        });
        assert_eq!(read, expected, "every stack reads back with its count");
        // inferno's own parser takes it.
        let mut svg = Vec::new();
        let mut options = inferno::flamegraph::Options::default();
        inferno::flamegraph::from_lines(&mut options, text.lines(), &mut svg)
            .expect("inferno parses the collapsed stacks");
        let total: u64 = read.values().sum();
        assert!(
            String::from_utf8(svg)
                .unwrap()
                .contains(&format!("{total} samples"))
                || total > 999
        );
    }
}

#[test]
fn speedscope_file_matches_the_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("speedscope-file-format-schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let profile = common::coldstart_profile();
    let out = common::render(
        &profile,
        ScoreKind::RunTime,
        &View::default(),
        Format::Speedscope,
    );
    let file: Value = serde_json::from_slice(&out).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&file)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // And what the schema cannot say: indices in range, weights sum to the samples.
    let frames = file["shared"]["frames"].as_array().unwrap().len() as u64;
    let sampled = &file["profiles"][0];
    assert!(sampled["samples"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s.as_array().unwrap())
        .all(|i| i.as_u64().unwrap() < frames));
    let weight: f64 = sampled["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_f64().unwrap())
        .sum();
    let expected_ms = profile.stats.samples as f64 * 1000.0 / f64::from(profile.meta.sample_hz);
    assert!(
        (weight - expected_ms).abs() < 1e-6,
        "{weight} ms of samples, expected {expected_ms}"
    );
    // A file without the required parts is refused: the check can fail.
    assert!(!validator
        .is_valid(&json!({ "$schema": file["$schema"], "profiles": [{ "type": "sampled" }] })));
}

#[test]
fn json_profile_reads_back_with_the_analysis() {
    let profile = common::coldstart_profile();
    let out = common::render(&profile, ScoreKind::RunTime, &View::default(), Format::Json);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("analysed.json");
    std::fs::write(&path, out).unwrap();
    let read = Profile::read(&path).expect("coldspy reads its own output");
    let boto3 = read.modules.iter().find(|m| m.name == "boto3").unwrap();
    assert_eq!(boto3.pattern.as_deref(), Some("never_used"));
    assert!(boto3.evidence.as_ref().unwrap().import_site.is_some());
    assert_eq!(read.cct, profile.cct);
}
