//! One self-contained HTML report that works offline (no CDN): global
//! stats, the sortable ranked table with each package's modules, a CCT
//! explorer with module and import-sample filters, the flame graph and an
//! import waterfall. Data, script and styles are all inline.

use super::{flamegraph, Exporter};
use crate::analysis::Analysis;
use crate::model::profile::{CctNode, Profile};
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::Write;

/// HTML writer.
pub struct Html;

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
.stats{color:#555;margin-bottom:8px}
table{border-collapse:collapse;width:100%} th,td{padding:3px 6px;text-align:right;border-bottom:1px solid #eee}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0} td.l,th.l{text-align:left}
tr.pkg{cursor:pointer} tr.mod td{color:#666;font-size:12px} tr.mod td.l{padding-left:24px}
.pattern{font-size:12px;padding:1px 5px;border-radius:3px;background:#eee}
.never_used{background:#fdd}.rarely_used{background:#ffe7c2}.feature_redundancy{background:#e5dcff}.library_choice{background:#d7ecff}
.advice{color:#444;font-size:12px;text-align:left}
#cct{font:12px monospace;white-space:pre;max-height:420px;overflow:auto;border:1px solid #ddd;padding:6px}
#waterfall{border:1px solid #ddd;overflow:auto;max-height:420px}
.controls label{margin-right:12px}
"#;

const SCRIPT: &str = r#"
const D = JSON.parse(document.getElementById('data').textContent);
// Every string of the data comes from the target: escape it before innerHTML.
const esc = v => String(v ?? '').replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const fmt = (v, d) => (typeof v === 'number' ? v.toFixed(d) : v);
const cols = [['name','package',0],['score','score',1],['samples','smpls',0],['by_dot','by dot',0],
  ['self_ms','self ms',1],['dot_ms','dot ms',1],['imp_ms','imp ms',1],['pattern','pattern',0]];
let sortKey = 'score', sortDesc = true, open = new Set();
function renderTable() {
  const rows = D.packages.slice().sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    const c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
    return sortDesc ? -c : c; });
  let h = '<tr>' + cols.map(c => `<th class="${c[0]==='name'||c[0]==='pattern'?'l':''}" data-k="${c[0]}">${c[1]}</th>`).join('') + '<th class="l">advice</th></tr>';
  for (const p of rows) {
    h += `<tr class="pkg" data-name="${esc(p.name)}">` + cols.map(c => c[0] === 'pattern'
      ? `<td class="l">${p.pattern ? `<span class="pattern ${esc(p.pattern)}">${esc(p.pattern)}</span>` : ''}</td>`
      : `<td class="${c[0]==='name'?'l':''}">${c[0]==='name' ? (open.has(p.name)?'▾ ':'▸ ') + esc(p.name) : esc(fmt(p[c[0]], c[2]))}</td>`).join('')
      + `<td class="advice">${esc(p.advice)}</td></tr>`;
    if (open.has(p.name)) for (const m of p.modules)
      h += `<tr class="mod"><td class="l">${esc(m.name)}</td><td></td><td>${esc(m.samples)}</td><td></td><td>${esc(fmt(m.self_ms,1))}</td><td></td><td>${esc(fmt(m.cum_ms,1))}</td><td></td><td></td></tr>`;
  }
  const t = document.getElementById('ranked'); t.innerHTML = h;
  t.querySelectorAll('th[data-k]').forEach(th => th.onclick = () => {
    const k = th.dataset.k; sortDesc = k === sortKey ? !sortDesc : true; sortKey = k; renderTable(); });
  t.querySelectorAll('tr.pkg').forEach(tr => tr.onclick = () => {
    const n = tr.dataset.name; open.has(n) ? open.delete(n) : open.add(n); renderTable(); });
  return rows;
}
function renderCct() {
  const mod = document.getElementById('mod').value.trim();
  const kids = document.getElementById('kids').checked;
  const kind = document.querySelector('input[name=kind]:checked').value;
  const match = m => m && (m === mod || (kids && m.startsWith(mod + '.')));
  const own = n => kind === 'runtime' ? n[1] - n[3] : kind === 'import' ? n[3] : n[1];
  function filt(n, inside) {
    const f = n[0] === null ? null : D.frames[n[0]];
    inside = inside || !mod || (f && match(f[3]));
    const children = n[5].map(c => filt(c, inside)).filter(c => c.total > 0).sort((a, b) => b.total - a.total);
    const s = inside ? own(n) : 0;
    return {f, s, total: s + children.reduce((a, c) => a + c.total, 0), children};
  }
  const root = filt(D.cct, false); const lines = [];
  (function walk(n, depth) {
    if (lines.length > 400) return;
    if (n.f) lines.push(`${String(n.total).padStart(7)} ${String(n.s).padStart(6)} ${'  '.repeat(Math.min(depth, 40))}${n.f[0]} (${n.f[1].split('/').pop()}:${n.f[2]})`);
    for (const c of n.children) walk(c, n.f ? depth + 1 : depth);
  })(root, 0);
  document.getElementById('cct').textContent = `  total   self frame  (${root.total} samples)\n` + lines.join('\n');
}
function renderWaterfall() {
  const imps = D.imports.slice(0, 600); if (!imps.length) return;
  const end = Math.max(...imps.map(i => i[3])) || 1, W = 1100, rowH = 12;
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W + 260}" height="${imps.length * rowH + 20}" font-size="10">`;
  imps.forEach((i, k) => {
    const x = 250 + i[2] / end * W, w = Math.max(1, (i[3] - i[2]) / end * W), y = k * rowH + 10;
    s += `<text x="${4 + Number(i[1]) * 6}" y="${y + 9}">${esc(i[0])}</text><rect x="${x}" y="${y}" width="${w}" height="${rowH - 2}" fill="hsl(${(i[1] * 47) % 360},60%,60%)"><title>${esc(i[0])}: ${((i[3] - i[2]) / 1000).toFixed(1)} ms</title></rect>`;
  });
  document.getElementById('waterfall').innerHTML = s + '</svg>';
}
renderTable(); renderCct(); renderWaterfall();
['mod', 'kids'].forEach(id => document.getElementById(id).oninput = renderCct);
document.querySelectorAll('input[name=kind]').forEach(r => r.onchange = renderCct);
// Self-test for headless checks: sorting by score gives a descending column.
sortKey = 'score'; sortDesc = true;
const sorted = renderTable().map(p => p.score);
document.body.dataset.sortOk = sorted.every((v, i) => i === 0 || sorted[i - 1] >= v) ? '1' : '0';
document.body.dataset.rows = String(document.querySelectorAll('#ranked tr.pkg').length);
document.body.dataset.ready = '1';
"#;

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
                .filter(|m| crate::analysis::origin::top_level(&m.name) == p.name)
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
fn changes_list(analysis: &Analysis) -> String {
    let items: String = analysis
        .changes()
        .map(|f| {
            format!(
                "<li><b>{}</b> <code>{}</code> at {}: saves about {:.1} ms<br>{}</li>",
                escape(f.pattern.map(|p| p.as_str()).unwrap_or("")),
                escape(&f.module),
                escape(&f.site.to_string()),
                f.saving_us as f64 / 1000.0,
                escape(f.advice.as_deref().unwrap_or("")),
            )
        })
        .collect();
    if items.is_empty() {
        return String::new();
    }
    format!("<h2>What to change, by import statement</h2><ul id=\"changes\">{items}</ul>\n")
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
        let flame = base64::engine::general_purpose::STANDARD.encode(flamegraph::svg(profile)?);
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
{changes}<h2>Modules ranked by inefficiency score (click a header to sort, a package to expand)</h2>
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
            changes = changes_list(analysis),
        )
    }
}
