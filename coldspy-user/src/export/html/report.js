// coldspy HTML report: renders the embedded profile data. No network, no libraries.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("coldspy-data").textContent);

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k === "style") node.style.cssText = v;
      else node.setAttribute(k, v);
    }
    for (const c of children || []) node.appendChild(c);
    return node;
  }
  const ms = (us) => (us / 1000).toFixed(1);
  const int = (n) => Number(n).toLocaleString("en-US");
  const shortPath = (p) => p.replace(/^.*\/((site|dist)-packages)\//, "…/$1/");
  const pct = (n, total) => (total ? (100 * n / total).toFixed(1) : "0.0") + " %";

  // ---- global stats -------------------------------------------------------
  const s = data.stats;
  const statItems = [
    ["samples", int(s.samples)], ["import samples", int(s.import_samples)],
    ["run-time samples", int(s.run_time_samples)], ["native samples", int(s.native_samples)],
    ["init", ms(s.init_us) + " ms"], ["exec", ms(s.exec_us) + " ms"],
    ["invocations", int(s.exec_count)], ["files opened", int(s.files_opened)],
    ["modules", int(s.modules)], ["import time", ms(s.import_us) + " ms"],
    ["lost samples", int(s.lost_samples)], ["lost events", int(s.lost_events)],
  ];
  const statsList = document.getElementById("stats-list");
  for (const [k, v] of statItems) statsList.appendChild(el("div", {}, [el("dt", { text: k }), el("dd", { text: v })]));
  const m = data.meta;
  document.getElementById("meta-line").textContent =
    `CPython ${m.python_version} · pid ${m.pid} · ${m.sample_hz} Hz · host ${m.host} · kernel ${m.kernel} · started ${m.started_at} · coldspy ${m.coldspy_version}`;
  document.getElementById("score-note").textContent = data.score_kind === "classic"
    ? "Score (classic): 100 × (cum. self by dot / largest) × (1 − cum. samples by dot, import samples included / all samples)."
    : "Score (runtime): 100 × (cum. self by dot / largest) × (1 − run-time samples by dot / all run-time samples). Click a header to sort, ▸ to expand sub-modules.";

  // ---- what to change ----------------------------------------------------
  const actionList = document.getElementById("actions-list");
  for (const a of data.actions) {
    const where = a.site ? ` at ${a.site.file}:${a.site.line}` : "";
    const more = a.packages.length > 1 ? ` and what it pulls in (${a.packages.length} packages: ${a.packages.join(", ")})` : "";
    actionList.appendChild(el("li", { "data-module": a.module }, [
      el("strong", { text: `${ms(a.saving_us)} ms ` }),
      el("span", { class: "pattern p-" + a.pattern, text: a.pattern.replace("_", " ") }),
      document.createTextNode(` import of ${a.module}${where}${more}`),
      el("div", { class: "advice-text", text: a.advice }),
    ]));
  }
  if (!data.actions.length) actionList.appendChild(el("li", { class: "muted", text: "No import matches a waste pattern." }));

  // ---- ranked table ------------------------------------------------------
  const columns = [
    { key: "rank", label: "#", num: true },
    { key: "name", label: "module" },
    { key: "score", label: "score", num: true, fmt: (v) => v.toFixed(1) },
    { key: "samples", label: "samples", num: true, fmt: int },
    { key: "cumulative_samples_by_dot", label: "cum. samples by dot", num: true, fmt: int },
    { key: "self_us", label: "self ms", num: true, fmt: ms },
    { key: "self_by_dot_us", label: "cum. self by dot ms", num: true, fmt: ms },
    { key: "cumulative_us", label: "cum. time by import ms", num: true, fmt: ms },
    { key: "pattern", label: "pattern" },
    { key: "advice", label: "advice" },
    { key: "file", label: "file" },
  ];
  data.tree.forEach((node, i) => { node.rank = i + 1; });
  (function rankChildren(nodes) {
    for (const n of nodes) { n.children.forEach((c) => { c.rank = null; }); rankChildren(n.children); }
  })(data.tree);
  let sortKey = "rank", sortDesc = false;
  const expanded = new Set();
  const table = document.getElementById("ranked-table");
  const headRow = table.querySelector("thead tr");
  for (const col of columns) {
    const th = el("th", { text: col.label, "data-key": col.key, class: col.num ? "num" : "" });
    th.addEventListener("click", () => {
      if (sortKey === col.key) sortDesc = !sortDesc;
      else { sortKey = col.key; sortDesc = !!col.num && col.key !== "rank"; }
      renderTable();
    });
    headRow.appendChild(th);
  }
  function compare(a, b) {
    let x = a[sortKey], y = b[sortKey];
    if (x === null || x === undefined) x = typeof y === "number" ? -Infinity : "";
    if (y === null || y === undefined) y = typeof x === "number" ? -Infinity : "";
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return sortDesc ? -c : c;
  }
  function cell(col, node, depth) {
    const v = node[col.key];
    if (col.key === "name") {
      const td = el("td", { style: `padding-left:${6 + depth * 16}px` });
      if (node.children.length) {
        const b = el("button", { class: "toggle", type: "button", text: expanded.has(node.name) ? "▾" : "▸", title: "sub-modules" });
        b.addEventListener("click", () => { expanded.has(node.name) ? expanded.delete(node.name) : expanded.add(node.name); renderTable(); });
        td.appendChild(b);
      } else td.appendChild(el("span", { style: "display:inline-block;width:18px" }));
      td.appendChild(document.createTextNode(node.name));
      return td;
    }
    if (col.key === "pattern") {
      const td = el("td");
      if (v) td.appendChild(el("span", { class: "pattern p-" + v, text: v.replace("_", " ") }));
      return td;
    }
    if (col.key === "advice") {
      const td = el("td", { class: "advice", text: v || "" });
      if (node.evidence && node.evidence.curated_reason) td.title = node.evidence.curated_reason;
      return td;
    }
    if (col.key === "file") return el("td", { class: "file", text: shortPath(v || ""), title: v || "" });
    const text = v === null || v === undefined ? "" : col.fmt ? col.fmt(v) : String(v);
    return el("td", { class: col.num ? "num" : col.key, text });
  }
  function renderTable() {
    for (const th of headRow.children) {
      th.classList.remove("sorted-asc", "sorted-desc");
      if (th.dataset.key === sortKey) th.classList.add(sortDesc ? "sorted-desc" : "sorted-asc");
      th.setAttribute("aria-sort", th.dataset.key === sortKey ? (sortDesc ? "descending" : "ascending") : "none");
    }
    const tbody = el("tbody");
    const add = (nodes, depth) => {
      for (const node of nodes.slice().sort(compare)) {
        const tr = el("tr", { "data-depth": String(depth), "data-name": node.name, class: depth ? "sub" : "" },
          columns.map((c) => cell(c, node, depth)));
        const sv = node[sortKey];
        tr.dataset.sort = sv === null || sv === undefined ? "" : String(sv);
        tbody.appendChild(tr);
        if (expanded.has(node.name)) add(node.children, depth + 1);
      }
    };
    add(data.tree, 0);
    table.replaceChild(tbody, table.querySelector("tbody"));
  }
  renderTable();

  // ---- CCT and filters ----------------------------------------------------
  const cct = data.cct, frames = data.frames, N = cct.frame.length;
  const children = Array.from({ length: N }, () => []);
  for (let i = 1; i < N; i++) children[cct.parent[i]].push(i);
  const moduleNames = new Set();
  for (const f of frames) if (f[3]) { const parts = f[3].split("."); for (let k = 1; k <= parts.length; k++) moduleNames.add(parts.slice(0, k).join(".")); }
  const datalist = document.getElementById("module-names");
  for (const name of Array.from(moduleNames).sort()) datalist.appendChild(el("option", { value: name }));

  function frameMatches(frameIndex, module, withChildren) {
    if (!module) return true;
    const fm = frames[frameIndex][3];
    if (!fm) return false;
    return fm === module || (withChildren && fm.startsWith(module + "."));
  }
  // Same rule as the Rust writers: a sample is kept when a frame of its stack
  // matches the module; its count depends on the import filter.
  function filtered(module, withChildren, samples) {
    const total = new Float64Array(N), own = new Float64Array(N), matched = new Uint8Array(N);
    for (let i = 1; i < N; i++) {
      matched[i] = matched[cct.parent[i]] || frameMatches(cct.frame[i], module, withChildren) ? 1 : 0;
      if (!matched[i]) continue;
      const imp = cct.import_self[i], self = cct.self[i];
      own[i] = samples === "hide_import" ? self - imp : samples === "only_import" ? imp : self;
    }
    for (let i = N - 1; i >= 1; i--) { total[i] += own[i]; total[cct.parent[i]] += total[i]; }
    return { total, own };
  }
  window.coldspy = {
    filteredTotal: (module, withChildren, samples) => filtered(module, withChildren, samples).total[0],
  };

  const fModule = document.getElementById("f-module"), fChildren = document.getElementById("f-children"), fSamples = document.getElementById("f-samples");
  fModule.value = data.filter.module || "";
  fChildren.checked = !!data.filter.children;
  fSamples.value = data.filter.samples || "all";
  let current = null;
  function label(i) {
    const f = frames[cct.frame[i]];
    return { fn: f[0], where: `${f[1]}:${f[2]}`, module: f[3] };
  }
  function sortedKids(i) { return children[i].filter((c) => current.total[c] > 0).sort((a, b) => current.total[b] - current.total[a]); }
  function cctRow(i, depth, open) {
    const L = label(i), rootTotal = current.total[0];
    const row = el("div", { class: "row", style: `padding-left:${depth * 12}px` });
    const kids = sortedKids(i);
    const toggle = el("button", { class: "toggle", type: "button", text: kids.length ? (open ? "▾" : "▸") : "" });
    row.appendChild(toggle);
    row.appendChild(el("span", { class: "n", text: int(current.total[i]) }));
    row.appendChild(el("span", { class: "n", text: pct(current.total[i], rootTotal) }));
    row.appendChild(el("span", { class: "n", text: int(current.own[i]) }));
    row.appendChild(document.createTextNode("  " + L.fn + " "));
    row.appendChild(el("span", { class: "muted", text: "(" + L.where + ")" }));
    if (L.module) row.appendChild(el("span", { class: "mod", text: " [" + L.module + "]" }));
    const box = el("div", {}, [row]);
    const kidsBox = el("div");
    box.appendChild(kidsBox);
    let isOpen = false;
    const expand = (autoDepth) => {
      isOpen = true; toggle.textContent = "▾";
      for (const c of sortedKids(i)) {
        const heavy = autoDepth > 0 && current.total[c] >= 0.5 * current.total[i];
        kidsBox.appendChild(cctRow(c, depth + 1, heavy).box);
      }
      if (autoDepth > 0) for (const child of kidsBox.children) if (child.autoOpen) child.expand(autoDepth - 1);
    };
    toggle.addEventListener("click", () => {
      if (!kids.length) return;
      if (isOpen) { kidsBox.replaceChildren(); isOpen = false; toggle.textContent = "▸"; } else expand(0);
    });
    box.autoOpen = open; box.expand = expand;
    return { box };
  }
  function renderCct() {
    current = filtered(fModule.value.trim(), fChildren.checked, fSamples.value);
    document.getElementById("f-count").textContent = int(current.total[0]) + " samples kept";
    const tree = document.getElementById("cct-tree");
    tree.replaceChildren();
    if (!current.total[0]) { tree.appendChild(el("div", { class: "muted", text: "No sample matches the filters." })); }
    for (const c of sortedKids(0)) {
      const r = cctRow(c, 0, true);
      tree.appendChild(r.box);
      r.box.expand(12);
    }
    renderFlame(0);
  }

  // ---- flame graph (icicle) ----------------------------------------------
  const flame = document.getElementById("flame-graph");
  function colour(module) {
    let h = 0;
    for (const ch of module || "?") h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return `hsl(${h % 360}, 65%, ${module ? 78 : 88}%)`;
  }
  function renderFlame(zoom) {
    flame.replaceChildren();
    const width = flame.clientWidth || 1000, rowH = 18, maxDepth = 80;
    const zoomTotal = current.total[zoom];
    if (!zoomTotal) { flame.style.height = "40px"; flame.appendChild(el("span", { class: "muted", text: " no samples" })); return; }
    let deepest = 0;
    const top = el("div", { style: `left:0;top:0;width:${width}px;background:#dfe5f0`, text: zoom ? `↑ zoom out · ${label(zoom).fn}` : `all · ${int(zoomTotal)} samples` });
    top.addEventListener("click", () => renderFlame(zoom ? cct.parent[zoom] : 0));
    flame.appendChild(top);
    const place = (i, x, depth) => {
      if (depth > maxDepth) return;
      let cx = x;
      for (const c of sortedKids(i)) {
        const w = current.total[c] / zoomTotal * width;
        if (w >= 1) {
          const L = label(c);
          const box = el("div", { style: `left:${cx}px;top:${depth * rowH}px;width:${w}px;background:${colour(L.module)}`,
            title: `${L.fn} (${L.where}) ${L.module ? "[" + L.module + "] " : ""}— ${int(current.total[c])} samples, ${pct(current.total[c], current.total[0])}` });
          if (w > 30) box.textContent = L.fn;
          box.addEventListener("click", (e) => { e.stopPropagation(); renderFlame(c); });
          flame.appendChild(box);
          deepest = Math.max(deepest, depth);
          place(c, cx, depth + 1);
        }
        cx += w;
      }
    };
    place(zoom, 0, 1);
    flame.style.height = (deepest + 1) * rowH + 4 + "px";
  }
  for (const input of [fModule, fChildren, fSamples]) input.addEventListener("change", renderCct);
  fModule.addEventListener("keydown", (e) => { if (e.key === "Enter") renderCct(); });
  renderCct();

  // ---- import waterfall ---------------------------------------------------
  const wMin = document.getElementById("w-min");
  function renderWaterfall() {
    const chart = document.getElementById("waterfall-chart");
    chart.replaceChildren();
    const minUs = Math.max(0, Number(wMin.value) || 0) * 1000;
    const rows = data.imports.filter((r) => r[5] >= minUs);
    const limit = 3000;
    document.getElementById("w-count").textContent = `${int(Math.min(rows.length, limit))} of ${int(data.imports.length)} imports shown`;
    if (!data.imports.length) { chart.appendChild(el("div", { class: "muted", text: "No imports recorded." })); return; }
    const t0 = Math.min(...data.imports.map((r) => r[2]));
    const t1 = Math.max(...data.imports.map((r) => r[3]));
    const span = Math.max(1, t1 - t0);
    const axis = el("div", { class: "wrow waxis" }, [el("div", { class: "wlabel", text: "module (indented by depth)" })]);
    const track = el("div", { class: "wtrack" });
    const stepMs = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000].find((st) => span / 1000 / st <= 10) || 20000;
    for (let t = 0; t * 1000 <= span; t += stepMs) track.appendChild(el("span", { class: "wtick", style: `left:${t * 1000 / span * 100}%`, text: `${+t.toFixed(1)} ms` }));
    axis.appendChild(track);
    chart.appendChild(axis);
    for (const r of rows.slice(0, limit)) {
      const [module, parent, start, end, self, cum, depth, failed] = r;
      const bar = el("div", { class: "wbar", style: `left:${(start - t0) / span * 100}%;width:${Math.max(0.05, (end - start) / span * 100)}%;background:${failed ? "#e5484d" : `hsl(${(210 + depth * 37) % 360},60%,55%)`}`,
        title: `${module}: start ${ms(start - t0)} ms, cumulative ${ms(cum)} ms, self ${ms(self)} ms, depth ${depth}${parent ? ", imported by " + parent : ""}${failed ? ", failed" : ""}` });
      chart.appendChild(el("div", { class: "wrow" }, [
        el("div", { class: "wlabel", style: `padding-left:${Math.min(depth, 20) * 8}px`, text: module, title: module }),
        el("div", { class: "wtrack" }, [bar]),
      ]));
    }
  }
  wMin.addEventListener("change", renderWaterfall);
  renderWaterfall();
})();
