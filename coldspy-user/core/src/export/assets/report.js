
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
