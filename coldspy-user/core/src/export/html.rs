//! One self-contained HTML report that works offline (no CDN): global
//! stats, a timeline of where the cold start goes with the findings marked
//! on it ([`super::timeline`]), "what to change", the sortable ranked table with each package's modules, a CCT
//! explorer with module and import-sample filters, the flame graph and an
//! import waterfall. Data, script and styles are all inline.

use super::{flamegraph, Exporter};
use crate::analysis::Analysis;
use crate::model::profile::{CctNode, Profile};
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::Write;

/// HTML writer.
pub struct Html {
    /// Draws the embedded flame graph.
    pub flame: super::FlameRenderer,
}

/// The page's styles (`assets/report.css`).
const STYLE: &str = include_str!("assets/report.css");

/// The page's script (`assets/report.js`): table, CCT explorer, waterfall.
const SCRIPT: &str = include_str!("assets/report.js");

fn compact(node: &CctNode) -> Value {
    json!([
        node.frame,
        node.self_samples,
        node.total,
        node.import_self,
        node.import_total,
        node.children.iter().map(compact).collect::<Vec<_>>()
    ])
}

/// The data the page shows.
fn data(profile: &Profile, analysis: &Analysis) -> Value {
    let ms = |us: u64| us as f64 / 1000.0;
    let packages: Vec<Value> = analysis
        .packages
        .iter()
        .map(|p| {
            let modules: Vec<Value> = profile
                .modules
                .iter()
                .filter(|m| crate::origin::top_level(&m.name) == p.name)
                .map(|m| json!({"name": m.name, "self_ms": ms(m.self_us), "cum_ms": ms(m.cumulative_us), "samples": m.samples}))
                .collect();
            json!({
                "name": p.name, "score": crate::analysis::score::rounded(p.score), "samples": p.samples,
                "by_dot": p.runtime_samples_by_dot, "self_ms": ms(p.self_us), "dot_ms": ms(p.self_by_dot_us),
                "imp_ms": ms(p.cumulative_us), "pattern": p.pattern.map(|x| x.as_str()),
                "advice": p.advice, "modules": modules,
            })
        })
        .collect();
    let frames: Vec<Value> = profile
        .cct
        .frames
        .iter()
        .map(|f| json!([f.shown_name(), f.file, f.line, f.module]))
        .collect();
    let imports: Vec<Value> = profile
        .imports
        .iter()
        .map(|i| json!([i.module, i.depth, i.start_us, i.end_us, i.tid]))
        .collect();
    json!({"packages": packages, "frames": frames, "cct": compact(&profile.cct.root), "imports": imports})
}

/// Escapes text for HTML element content and quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    super::escape::html(s)
}

/// "What to change", by import statement, as an HTML list (empty when
/// nothing is to change), each with its saving, edit and evidence.
fn changes_list(profile: &Profile, analysis: &Analysis) -> String {
    let items: String = analysis
        .changes()
        .enumerate()
        .map(|(k, f)| {
            let site = f.site.to_string();
            let verified = profile
                .verifications
                .iter()
                .find(|v| v.is_for(&f.module, &site))
                .map(|v| format!("<br><i class=\"verified\">{}</i>", escape(&v.summary)))
                .unwrap_or_default();
            format!(
                "<li><b>[{}] {}</b> <code>{}</code> at {}: {}<br>{}{verified}</li>",
                k + 1,
                escape(f.pattern.map(|p| p.as_str()).unwrap_or("")),
                escape(&f.module),
                escape(&site),
                f.saving_text(),
                escape(f.advice.as_deref().unwrap_or("")),
            )
        })
        .collect();
    if items.is_empty() {
        return String::new();
    }
    format!("<h2>What to change, by import statement</h2><ul id=\"changes\">{items}</ul>\n")
}

/// The timeline at the top of the page (nothing when the profile has no timing).
fn timeline_section(profile: &Profile, analysis: &Analysis) -> String {
    let svg = super::timeline::svg(profile, analysis);
    if svg.is_empty() {
        return String::new();
    }
    format!(
        "<h2>Where the cold start goes</h2><div class=\"legend\">phases: start-up, init, each invocation · files read (red: data, not code) and network connections (purple) · \
         each import statement of the program, the imports it made inside it · [n] a finding of the list below</div>\
         <div id=\"timeline-box\">{svg}</div>\n"
    )
}

impl Exporter for Html {
    fn write(
        &self,
        profile: &Profile,
        analysis: &Analysis,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        // `</script>` or `<!--` inside the JSON would end or change the element.
        let data = super::escape::json_in_script(&serde_json::to_string(&data(profile, analysis))?);
        let flame =
            base64::engine::general_purpose::STANDARD.encode(flamegraph::svg(profile, self.flame)?);
        let mut stats = Vec::new();
        super::terminal::write_stats(profile, &mut stats)?;
        let title = format!(
            "coldspy report: {}",
            escape(&profile.meta.command.join(" "))
        );
        write!(
            out,
            r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head><body>
<h1>{title}</h1><div class="stats">{stats}</div>
{timeline}{changes}<h2>Modules ranked by inefficiency score (click a header to sort, a package to expand)</h2>
<table id="ranked"></table>
<h2>Calling-context tree</h2>
<div class="controls"><label>module <input id="mod" placeholder="e.g. botocore"></label>
<label><input type="checkbox" id="kids" checked> with sub-modules</label>
<label><input type="radio" name="kind" value="all" checked> all samples</label>
<label><input type="radio" name="kind" value="runtime"> hide import samples</label>
<label><input type="radio" name="kind" value="import"> only import samples</label></div>
<div id="cct"></div>
<h2>Flame graph</h2><img alt="flame graph" style="max-width:100%" src="data:image/svg+xml;base64,{flame}">
<h2>Import waterfall</h2><div id="waterfall"></div>
<script type="application/json" id="data">{data}</script>
<script>{SCRIPT}</script></body></html>
"#,
            stats = escape(&String::from_utf8_lossy(&stats)).replace('\n', "<br>"),
            changes = changes_list(profile, analysis),
            timeline = timeline_section(profile, analysis),
        )
    }
}
