//! Where the cold start goes, as one SVG picture for the top of the HTML
//! report: the interpreter's start-up, each import statement of the
//! program as a bar (its own module-level code, with the imports it made
//! drawn inside it), the files read, each invocation, and the findings of
//! "what to change" marked where they happen, numbered as in that list.

use super::escape::html as esc;
use crate::analysis::data_read::looks_like_data;
use crate::analysis::{Analysis, Finding};
use crate::model::profile::{ImportRecord, Profile};
use crate::origin::{of_file, Origin};
use std::fmt::Write as _;

/// Statements drawn at most (the costliest, shown in time order).
pub const MAX_ROWS: usize = 40;
/// Width of the label column, px.
const LABEL_W: f64 = 330.0;
/// Width of the time axis, px.
const PLOT_W: f64 = 860.0;
/// Height of one row, px.
const ROW_H: f64 = 16.0;

/// One statement row: the import record and the finding it is, if any.
struct Row<'a> {
    record: usize,
    import: &'a ImportRecord,
    /// 1-based number in "what to change", and the finding.
    change: Option<(usize, &'a Finding)>,
}

/// The changes with their 1-based numbers, in the order the report lists them.
fn numbered(analysis: &Analysis) -> Vec<(usize, &Finding)> {
    analysis
        .changes()
        .enumerate()
        .map(|(i, f)| (i + 1, f))
        .collect()
}

/// Whether import record `r` is the statement of finding `f` (its own site).
fn is_statement_of(r: &ImportRecord, f: &Finding) -> bool {
    r.module == f.module
        && r.site
            .as_ref()
            .is_some_and(|s| s.file == f.site.file && s.line == f.site.line)
}

/// The program's own import statements (first-party sites), the costliest
/// [`MAX_ROWS`] of them, in start order.
fn rows<'a>(profile: &'a Profile, changes: &[(usize, &'a Finding)]) -> Vec<Row<'a>> {
    let mut rows: Vec<Row> = profile
        .imports
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.site
                .as_ref()
                .is_some_and(|s| of_file(&s.file) == Origin::FirstParty)
        })
        .map(|(record, import)| Row {
            record,
            import,
            change: changes
                .iter()
                .find(|(_, f)| f.first_party && is_statement_of(import, f))
                .copied(),
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.import.cumulative_us));
    rows.truncate(MAX_ROWS);
    rows.sort_by_key(|r| (r.import.start_us, r.record));
    rows
}

/// A round step for the axis' ticks: about eight over `span_us`.
fn tick_step_us(span_us: u64) -> u64 {
    let raw = (span_us / 8).max(1);
    let mut step = 1;
    while step * 10 <= raw {
        step *= 10;
    }
    [1, 2, 5, 10]
        .iter()
        .map(|m| m * step)
        .find(|&s| s >= raw)
        .unwrap_or(step * 10)
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// The timeline as an `<svg id="timeline">` element, or an empty string
/// when the profile has no timing at all.
pub fn svg(profile: &Profile, analysis: &Analysis) -> String {
    let changes = numbered(analysis);
    let rows = rows(profile, &changes);
    let init_end = profile.stats.init_us;
    let last_call = profile
        .invocations
        .iter()
        .map(|i| i.start_us + i.duration_us)
        .max()
        .unwrap_or(0);
    let last_import = rows.iter().map(|r| r.import.end_us).max().unwrap_or(0);
    let span = init_end.max(last_call).max(last_import);
    if span == 0 {
        return String::new();
    }
    let x = |us: u64| LABEL_W + us.min(span) as f64 / span as f64 * PLOT_W;
    let width = |a: u64, b: u64| (x(b) - x(a)).max(1.0);
    let lanes = 2.0; // phases, then files read
    let height = 28.0 + (lanes + rows.len() as f64) * ROW_H + 8.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-size="11">"#,
        LABEL_W + PLOT_W + 10.0
    );
    // Axis.
    let step = tick_step_us(span);
    let mut t = 0;
    while t <= span {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" y1="14" x2="{0:.1}" y2="{1}" stroke="#e4e4e4"/><text class="tick" x="{0:.1}" y="11" text-anchor="middle">{2}</text>"##,
            x(t),
            height - 4.0,
            if t == 0 {
                "0".to_string()
            } else {
                format!("{} ms", t as f64 / 1000.0)
            }
        );
        t += step;
    }
    // Lane 1: start-up, init, each invocation.
    let y = 20.0;
    let first_app = rows.first().map_or(init_end, |r| r.import.start_us);
    let _ = write!(s, r#"<text x="4" y="{}">phases</text>"#, y + ROW_H - 5.0);
    let startup = first_app.min(init_end.max(first_app));
    if startup > 0 {
        let _ = write!(
            s,
            r##"<rect class="phase startup" x="{:.1}" y="{y}" width="{:.1}" height="{}" fill="#c9c9c9"><title>interpreter start-up ({} modules of its own and the runner's, {} of their imports): {}</title></rect>"##,
            x(0),
            width(0, startup),
            ROW_H - 3.0,
            analysis.startup.modules,
            ms(analysis.startup.cumulative_us),
            ms(startup)
        );
    }
    if init_end > startup {
        let _ = write!(
            s,
            r##"<rect class="phase init" x="{:.1}" y="{y}" width="{:.1}" height="{}" fill="#7fa7d9"><title>init (the program's imports and module-level code): {}</title></rect>"##,
            x(startup),
            width(startup, init_end),
            ROW_H - 3.0,
            ms(init_end.saturating_sub(startup))
        );
    }
    for (k, call) in profile.invocations.iter().enumerate() {
        let _ = write!(
            s,
            r##"<rect class="phase invocation" x="{:.1}" y="{y}" width="{:.1}" height="{}" fill="#5bb56b"><title>invocation {}: {}</title></rect>"##,
            x(call.start_us),
            width(call.start_us, call.start_us + call.duration_us),
            ROW_H - 3.0,
            k + 1,
            ms(call.duration_us)
        );
    }
    // Lane 2: files read (data files in red: I/O beyond code).
    let y = 20.0 + ROW_H;
    let _ = write!(
        s,
        r#"<text x="4" y="{}">files read</text>"#,
        y + ROW_H - 5.0
    );
    for file in profile.files.iter().filter(|f| f.ok && f.ts_us <= span) {
        let data = looks_like_data(&file.path);
        let _ = write!(
            s,
            r##"<rect class="{}" x="{:.1}" y="{y}" width="{:.1}" height="{}" fill="{}"><title>{}: {}</title></rect>"##,
            if data { "io data" } else { "io" },
            x(file.ts_us),
            width(file.ts_us, file.ts_us + file.duration_us),
            ROW_H - 3.0,
            if data { "#d9534f" } else { "#b8b8b8" },
            esc(&file.path),
            ms(file.duration_us)
        );
    }
    // One row per statement: its bar, the imports it made inside it.
    for (n, row) in rows.iter().enumerate() {
        let y = 20.0 + (lanes + n as f64) * ROW_H;
        let r = row.import;
        let site = r
            .site
            .as_ref()
            .map(|s| {
                let file = s.file.rsplit('/').next().unwrap_or(&s.file);
                format!("{file}:{}", s.line)
            })
            .unwrap_or_default();
        let (class, fill, mark) = match row.change {
            Some((k, f)) => {
                let pattern = f.pattern.map(|p| p.as_str()).unwrap_or("");
                (
                    format!("statement finding {pattern}"),
                    "#e8837e",
                    format!("[{k}] "),
                )
            }
            None => ("statement".to_string(), "#8fb8de", String::new()),
        };
        let _ = write!(
            s,
            r##"<text class="label" x="4" y="{}"><tspan font-weight="bold">{}</tspan>{} <tspan fill="#666">{}</tspan></text>"##,
            y + ROW_H - 5.0,
            esc(&mark),
            esc(&r.module),
            esc(&site)
        );
        let title = match row.change {
            Some((k, f)) => format!(
                "[{k}] {}: {} at {site}: {} ({} of its own module-level code); saves about {}",
                f.pattern.map(|p| p.as_str()).unwrap_or(""),
                r.module,
                ms(r.cumulative_us),
                ms(r.self_us),
                ms(f.saving_us)
            ),
            None => format!(
                "{} at {site}: {} ({} of its own module-level code)",
                r.module,
                ms(r.cumulative_us),
                ms(r.self_us)
            ),
        };
        let _ = write!(
            s,
            r##"<rect class="{class}" x="{:.1}" y="{y}" width="{:.1}" height="{}" fill="{fill}"><title>{}</title></rect>"##,
            x(r.start_us),
            width(r.start_us, r.end_us),
            ROW_H - 3.0,
            esc(&title)
        );
        // Its direct sub-imports, lighter, inside its bar; a finding inside
        // a dependency reached from this statement is marked on it.
        for sub in profile
            .imports
            .iter()
            .filter(|i| i.parent_index == Some(row.record))
        {
            let _ = write!(
                s,
                r##"<rect class="sub" x="{:.1}" y="{}" width="{:.1}" height="{}" fill="#ffffff" fill-opacity="0.45" stroke="#555" stroke-width="0.5"><title>{} ({})</title></rect>"##,
                x(sub.start_us),
                y + 3.0,
                width(sub.start_us, sub.end_us),
                ROW_H - 9.0,
                esc(&sub.module),
                ms(sub.cumulative_us)
            );
        }
        for (k, f) in changes.iter().filter(|(_, f)| !f.first_party) {
            let inner = profile
                .imports
                .iter()
                .enumerate()
                .find(|(i, r)| is_statement_of(r, f) && descends_from(profile, *i, row.record));
            if let Some((_, inner)) = inner {
                let pattern = f.pattern.map(|p| p.as_str()).unwrap_or("");
                let _ = write!(
                    s,
                    r##"<rect class="finding inside {pattern}" x="{:.1}" y="{}" width="{:.1}" height="{}" fill="#c0392b"><title>[{k}] {pattern}: {} ({}), imported inside the dependency at {}</title></rect>"##,
                    x(inner.start_us),
                    y + 3.0,
                    width(inner.start_us, inner.end_us),
                    ROW_H - 9.0,
                    esc(&f.module),
                    ms(inner.cumulative_us),
                    esc(&f.site.to_string())
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// Whether import record `i` was made, directly or not, inside record `ancestor`.
fn descends_from(profile: &Profile, i: usize, ancestor: usize) -> bool {
    let mut at = profile.imports.get(i).and_then(|r| r.parent_index);
    // Parents come before their children: the walk ends.
    while let Some(p) = at.filter(|&p| p < profile.imports.len()) {
        if p == ancestor {
            return true;
        }
        at = profile.imports[p].parent_index.filter(|&q| q < p);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyze_profile, ScoreKind};
    use crate::model::build::build_profile;
    use crate::model::profile::InvocationRecord;
    use crate::model::trace::Trace;

    /// The bundled example as a script (boto3 :10 and tqdm :12 unused,
    /// markdown :11 used), from the recorded fixture.
    fn example() -> Profile {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/handler.trace.json");
        let trace: Trace = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        build_profile(&trace)
    }

    /// The `<rect …>` elements of `svg` whose class attribute starts with `class`.
    fn rects<'a>(svg: &'a str, class: &str) -> Vec<&'a str> {
        let needle = format!(r#"<rect class="{class}"#);
        svg.match_indices(&needle)
            .map(|(at, _)| &svg[at..at + svg[at..].find("</rect>").unwrap()])
            .collect()
    }

    #[test]
    fn the_example_marks_its_two_findings_on_their_statements() {
        let p = example();
        let a = analyze_profile(&p, ScoreKind::Runtime);
        let svg = svg(&p, &a);
        assert!(svg.starts_with(r#"<svg id="timeline""#) && svg.ends_with("</svg>"));
        let changes: Vec<&str> = a.changes().map(|f| f.module.as_str()).collect();
        assert_eq!(changes, ["boto3", "tqdm"]);
        let findings = rects(&svg, "statement finding");
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert!(
            findings[0].contains("[1] never_used: boto3 at handler.py:10"),
            "{}",
            findings[0]
        );
        assert!(findings[1].contains("[2] ") && findings[1].contains("tqdm at handler.py:12"));
        // markdown's statement is drawn, not marked.
        let plain = rects(&svg, "statement\"");
        assert!(
            plain
                .iter()
                .any(|r| r.contains("<title>markdown at handler.py:11")),
            "{plain:?}"
        );
        // boto3's bar holds the imports it made (boto3.session…).
        assert!(rects(&svg, "sub")
            .iter()
            .any(|r| r.contains("<title>boto3.session (")));
        assert_eq!(rects(&svg, "phase init").len(), 1);
        assert!(
            rects(&svg, "phase invocation").is_empty(),
            "a script has none"
        );
        assert!(!rects(&svg, "io").is_empty(), "the files it read");
    }

    #[test]
    fn invocations_are_drawn_and_a_dependency_finding_is_marked_on_its_statement() {
        let mut p = example();
        let init = p.stats.init_us;
        p.invocations = (0..3)
            .map(|k| InvocationRecord {
                start_us: init + 1_000 + k * 5_000,
                duration_us: 2_000,
                tid: None,
            })
            .collect();
        let a = analyze_profile(&p, ScoreKind::Runtime);
        let svg = svg(&p, &a);
        let calls = rects(&svg, "phase invocation");
        assert_eq!(calls.len(), 3);
        assert!(calls[2].contains("invocation 3: 2.0 ms"));
        // A finding inside a dependency: marked inside the row of the
        // program's statement that reached it.
        let mut a = a;
        let mut inner = a
            .findings
            .iter()
            .find(|f| f.module == "boto3")
            .unwrap()
            .clone();
        let botocore = p.imports.iter().find(|r| r.module == "botocore").unwrap();
        let site = botocore.site.clone().unwrap();
        inner.module = "botocore".into();
        inner.site.file = site.file;
        inner.site.line = site.line;
        inner.first_party = false;
        a.findings.insert(0, inner);
        let svg = super::svg(&p, &a);
        let marked = rects(&svg, "finding inside");
        assert_eq!(marked.len(), 1, "{marked:?}");
        assert!(
            marked[0].contains("[1] never_used: botocore"),
            "{}",
            marked[0]
        );
    }

    #[test]
    fn an_empty_profile_has_no_timeline_and_ticks_are_round() {
        let p = Profile::empty();
        let a = analyze_profile(&p, ScoreKind::Runtime);
        assert_eq!(svg(&p, &a), "");
        assert_eq!(tick_step_us(800_000), 100_000);
        assert_eq!(tick_step_us(1_300_000), 200_000);
        assert_eq!(tick_step_us(3), 1);
    }
}
