//! Where the cold start goes, as one SVG picture for the top of the HTML
//! report: the interpreter's start-up, each import statement of the
//! program as a bar (its own module-level code, with the imports it made
//! drawn inside it), the files read and network connections made, each
//! invocation, and the findings of
//! "what to change" marked where they happen, numbered as in that list.

use super::escape::html as esc;
use crate::analysis::data_read::looks_like_data;
use crate::analysis::statements::ms;
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

/// The SVG being drawn: its text and the time axis' scale.
struct Canvas {
    s: String,
    span_us: u64,
}

impl Canvas {
    /// The x of time `us`.
    fn x(&self, us: u64) -> f64 {
        LABEL_W + us.min(self.span_us) as f64 / self.span_us as f64 * PLOT_W
    }

    /// The width of `[a, b]`, at least a pixel.
    fn width(&self, a: u64, b: u64) -> f64 {
        (self.x(b) - self.x(a)).max(1.0)
    }

    /// A bar of a lane or row at `y` (`inner`: the thinner bar inside a row).
    #[allow(clippy::too_many_arguments)]
    fn bar(&mut self, class: &str, y: f64, a: u64, b: u64, fill: &str, inner: bool, title: &str) {
        let (dy, h) = if inner {
            (3.0, ROW_H - 9.0)
        } else {
            (0.0, ROW_H - 3.0)
        };
        let extra = if class == "sub" {
            r##" fill-opacity="0.45" stroke="#555" stroke-width="0.5""##
        } else {
            ""
        };
        let _ = write!(
            self.s,
            r#"<rect class="{class}" x="{:.1}" y="{}" width="{:.1}" height="{h}" fill="{fill}"{extra}><title>{}</title></rect>"#,
            self.x(a),
            y + dy,
            self.width(a, b),
            esc(title)
        );
    }

    /// A lane's or row's label.
    fn label(&mut self, y: f64, mark: &str, name: &str, site: &str) {
        let _ = write!(
            self.s,
            r##"<text class="label" x="4" y="{}"><tspan font-weight="bold">{}</tspan>{} <tspan fill="#666">{}</tspan></text>"##,
            y + ROW_H - 5.0,
            esc(mark),
            esc(name),
            esc(site)
        );
    }

    /// The time axis: round ticks with grid lines down to `height`.
    fn axis(&mut self, height: f64) {
        let step = tick_step_us(self.span_us);
        let mut t = 0;
        while t <= self.span_us {
            let text = if t == 0 {
                "0".to_string()
            } else {
                format!("{} ms", t as f64 / 1000.0)
            };
            let _ = write!(
                self.s,
                r##"<line x1="{0:.1}" y1="14" x2="{0:.1}" y2="{1}" stroke="#e4e4e4"/><text class="tick" x="{0:.1}" y="11" text-anchor="middle">{2}</text>"##,
                self.x(t),
                height - 4.0,
                text
            );
            t += step;
        }
    }
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
    let span_us = init_end.max(last_call).max(last_import);
    if span_us == 0 {
        return String::new();
    }
    let lanes = 2.0; // phases, then files read
    let height = 28.0 + (lanes + rows.len() as f64) * ROW_H + 8.0;
    let mut c = Canvas {
        s: format!(
            r#"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-size="11">"#,
            LABEL_W + PLOT_W + 10.0
        ),
        span_us,
    };
    c.axis(height);
    let first_app = rows.first().map_or(init_end, |r| r.import.start_us);
    phases(&mut c, profile, analysis, first_app.min(init_end));
    files(&mut c, profile);
    connects(&mut c, profile, &changes);
    for (n, row) in rows.iter().enumerate() {
        statement(
            &mut c,
            profile,
            &changes,
            row,
            20.0 + (lanes + n as f64) * ROW_H,
        );
    }
    c.s.push_str("</svg>");
    c.s
}

/// Lane 1: the interpreter's start-up (to `startup_end`), init, each invocation.
fn phases(c: &mut Canvas, profile: &Profile, analysis: &Analysis, startup_end: u64) {
    let y = 20.0;
    let init_end = profile.stats.init_us;
    c.label(y, "", "phases", "");
    if startup_end > 0 {
        let title = format!(
            "interpreter start-up ({} modules of its own and the runner's, {} of their imports): {}",
            analysis.startup.modules,
            ms(analysis.startup.cumulative_us),
            ms(startup_end)
        );
        c.bar("phase startup", y, 0, startup_end, "#c9c9c9", false, &title);
    }
    if init_end > startup_end {
        let title = format!(
            "init (the program's imports and module-level code): {}",
            ms(init_end - startup_end)
        );
        c.bar(
            "phase init",
            y,
            startup_end,
            init_end,
            "#7fa7d9",
            false,
            &title,
        );
    }
    for (k, call) in profile.invocations.iter().enumerate() {
        let end = call.start_us + call.duration_us;
        let title = format!("invocation {}: {}", k + 1, ms(call.duration_us));
        c.bar(
            "phase invocation",
            y,
            call.start_us,
            end,
            "#5bb56b",
            false,
            &title,
        );
    }
}

/// Lane 2: the files read (data files in red: I/O beyond code).
fn files(c: &mut Canvas, profile: &Profile) {
    let y = 20.0 + ROW_H;
    c.label(y, "", "files, network", "");
    let span_us = c.span_us;
    for file in profile.files.iter().filter(|f| f.ok && f.ts_us <= span_us) {
        let data = looks_like_data(&file.path);
        let (class, fill) = if data {
            ("io data", "#d9534f")
        } else {
            ("io", "#b8b8b8")
        };
        let title = format!("{}: {}", file.path, ms(file.duration_us));
        let end = file.ts_us + file.duration_us;
        c.bar(class, y, file.ts_us, end, fill, false, &title);
    }
}

/// On the files lane, each network connection as a tick: its address, the
/// program's line that made it and, when it is a finding, its number.
fn connects(c: &mut Canvas, profile: &Profile, changes: &[(usize, &Finding)]) {
    let y = 20.0 + ROW_H;
    let span_us = c.span_us;
    for conn in profile.connects.iter().filter(|k| k.ts_us <= span_us) {
        let site = conn.site.as_ref().map(|s| format!("{}:{}", s.file, s.line));
        let number = changes.iter().find(|(_, f)| {
            f.pattern == Some(crate::analysis::patterns::Pattern::NetworkAtInit)
                && Some(f.site.to_string()) == site
        });
        let title = format!(
            "{}connect to {}{}",
            number.map(|(k, _)| format!("[{k}] ")).unwrap_or_default(),
            conn.address,
            site.map(|s| format!(" from {s}")).unwrap_or_default()
        );
        c.bar("net", y, conn.ts_us, conn.ts_us, "#9b59b6", false, &title);
    }
}

/// One statement's row at `y`: its bar, the imports it made inside it, and
/// the findings inside dependencies that it reached.
fn statement(c: &mut Canvas, profile: &Profile, changes: &[(usize, &Finding)], row: &Row, y: f64) {
    let r = row.import;
    let site = r
        .site
        .as_ref()
        .map(|s| {
            let file = s.file.rsplit('/').next().unwrap_or(&s.file);
            format!("{file}:{}", s.line)
        })
        .unwrap_or_default();
    let cost = format!(
        "{} ({} of its own module-level code)",
        ms(r.cumulative_us),
        ms(r.self_us)
    );
    match row.change {
        Some((k, f)) => {
            let pattern = f.pattern.map(|p| p.as_str()).unwrap_or("");
            c.label(y, &format!("[{k}] "), &r.module, &site);
            let title = format!(
                "[{k}] {pattern}: {} at {site}: {cost}; saves about {}",
                r.module,
                ms(f.saving_us)
            );
            let class = format!("statement finding {pattern}");
            c.bar(&class, y, r.start_us, r.end_us, "#e8837e", false, &title);
        }
        None => {
            c.label(y, "", &r.module, &site);
            let title = format!("{} at {site}: {cost}", r.module);
            c.bar(
                "statement",
                y,
                r.start_us,
                r.end_us,
                "#8fb8de",
                false,
                &title,
            );
        }
    }
    for sub in profile
        .imports
        .iter()
        .filter(|i| i.parent_index == Some(row.record))
    {
        let title = format!("{} ({})", sub.module, ms(sub.cumulative_us));
        c.bar("sub", y, sub.start_us, sub.end_us, "#ffffff", true, &title);
    }
    for (k, f) in changes.iter().filter(|(_, f)| !f.first_party) {
        let inner = profile
            .imports
            .iter()
            .enumerate()
            .find(|(i, r)| is_statement_of(r, f) && descends_from(profile, *i, row.record));
        if let Some((_, inner)) = inner {
            let pattern = f.pattern.map(|p| p.as_str()).unwrap_or("");
            let title = format!(
                "[{k}] {pattern}: {} ({}), imported inside the dependency at {}",
                f.module,
                ms(inner.cumulative_us),
                f.site
            );
            let class = format!("finding inside {pattern}");
            c.bar(
                &class,
                y,
                inner.start_us,
                inner.end_us,
                "#c0392b",
                true,
                &title,
            );
        }
    }
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
    fn a_network_connection_at_init_is_a_numbered_tick() {
        use crate::model::profile::{ConnectRecord, ImportSite};
        let mut p = example();
        let file = p.imports.iter().find(|r| r.module == "boto3").unwrap();
        let file = file.site.as_ref().unwrap().file.clone();
        p.connects.push(ConnectRecord {
            ts_us: 50_000,
            tid: p.meta.pid,
            address: "10.0.0.5:443".into(),
            site: Some(ImportSite {
                file: file.clone(),
                line: 20,
                function: "<module>".into(),
                statement: None,
            }),
            calls: Vec::new(),
            modules: Vec::new(),
            at_init: true,
        });
        let a = analyze_profile(&p, ScoreKind::Runtime);
        let k = a
            .changes()
            .position(|f| f.pattern.map(|p| p.as_str()) == Some("network_at_init"))
            .unwrap()
            + 1;
        let drawn = svg(&p, &a);
        let ticks = rects(&drawn, "net");
        assert_eq!(ticks.len(), 1);
        assert!(
            ticks[0].contains(&format!("[{k}] connect to 10.0.0.5:443 from {file}:20")),
            "{}",
            ticks[0]
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
