// Winnow Thresholds panel, second part (concatenated after thresholds.js by app/ui/live/__init__.py): the
// comparison with recipe B and the mixture plan, built as DOM nodes whose strings are text nodes (textContent),
// never parsed as HTML. The numbers come from /winnow/api/compare and /plan (app/explore/panel_compare.py).

// ------------------------------------------------------------------ DOM built from data (text via textContent)
// h("td", {class: "n"}, "12", child): an element whose strings are text nodes, never parsed as HTML
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null) continue;
    if (k === "class") el.className = v;
    else if (k === "style") el.style.cssText = v;
    else el.setAttribute(k, String(v));
  }
  for (const k of kids.flat()) if (k != null) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

function barEl(f) {
  const w = f == null ? 0 : Math.max(0, Math.min(1, f)) * 100;
  return [h("span", { class: "w-bar" }, h("span", { style: `width:${w.toFixed(1)}%` })), frac(f)];
}

// rows: objects; cols: [key, header, kind] with kind "text" | "int" | "bar" | a function (row) -> node
function tableEl(rows, cols, limit = 50) {
  const head = h("tr", {}, cols.map((c) => h("th", c[2] === "int" || c[2] === "bar" ? { class: "n" } : {}, c[1])));
  const body = rows.slice(0, limit).map((r) =>
    h(
      "tr",
      {},
      cols.map(([k, , kind]) =>
        typeof kind === "function"
          ? h("td", { class: "n" }, kind(r))
          : kind === "bar"
            ? h("td", { class: "n" }, barEl(r[k]))
            : kind === "int"
              ? h("td", { class: "n" }, fmtInt(r[k]))
              : h("td", {}, r[k] ?? "—"),
      ),
    ),
  );
  return h("table", { class: "w-tab" }, h("thead", {}, head), h("tbody", {}, body));
}

function compareNodes(c) {
  const n = c.total_docs;
  const rows = [
    ["a_only", "A only"],
    ["b_only", "B only"],
    ["both", "both"],
  ].map(([k, name]) => ({ fate: name, docs: c.counts[k].docs, tokens: c.counts[k].tokens, share: n ? c.counts[k].docs / n : null }));
  const out = [
    h("h3", { class: "w-h" }, `Compared with B: ${c.b}`),
    tableEl(rows, [
      ["fate", "", "text"],
      ["docs", "documents", "int"],
      ["tokens", "tokens", "int"],
      ["share", "of all", "bar"],
    ]),
    h(
      "div",
      { class: "w-meta", "data-m": "cmp" },
      `A keeps ${fmtInt(c.a.kept_docs)} documents (${fmtInt(c.a.kept_tokens)} tokens), B keeps ` +
        `${fmtInt(c.b_kept.kept_docs)} (${fmtInt(c.b_kept.kept_tokens)} tokens); tokens: ${c.tokens}; ` +
        `${fmtInt(Math.round(c.elapsed_ms))} ms.`,
    ),
  ];
  if (c.same) out.push(h("div", { class: "w-meta" }, "No document changes fate."));
  if ((c.flips || []).length)
    out.push(
      tableEl(
        c.flips.map((f) => ({ ...f, why: (f.direction === "a_only" ? "dropped by B: " : "dropped by A: ") + f.rule })),
        [
          ["why", "flipped documents", "text"],
          ["docs", "documents", "int"],
          ["tokens", "tokens", "int"],
        ],
      ),
    );
  if ((c.by_source || []).length)
    out.push(
      h("details", {}, h("summary", {}, "by source"), tableEl(c.by_source, [
        ["source", "source", "text"],
        ["kept_a", "A keeps", "int"],
        ["kept_b", "B keeps", "int"],
        ["a_only", "A only", "int"],
        ["b_only", "B only", "int"],
        ["a_only_tokens", "A-only tokens", "int"],
        ["b_only_tokens", "B-only tokens", "int"],
      ])),
    );
  out.push(h("div", { class: "w-meta" }, "The flipped documents' texts are in “Compare with another recipe” below."));
  return out;
}

function mixNodes(m) {
  const p = m.plan;
  const entered = m.entered || {};
  const planned = new Map(((p && p.groups) || []).map((g) => [g.group, g]));
  const groups = [...new Set([...Object.keys(entered), ...Object.keys(m.available || {})])];
  const total = Object.values(entered).reduce((a, b) => a + b, 0);
  const rows = groups.map((g) => {
    const x = planned.get(g) || {};
    return {
      group: g,
      available: (m.available || {})[g] ?? x.tokens_available ?? 0,
      wanted: x.tokens_wanted,
      epochs: x.epochs,
      used: x.epochs_used,
      target: total ? (entered[g] || 0) / total : null,
      planned: x.share_planned ?? null,
    };
  });
  const input = (r) =>
    h("input", {
      type: "number",
      min: "0",
      step: "any",
      value: String(entered[r.group] ?? 0),
      "data-mix": r.group,
      "aria-label": `target share of ${r.group}`,
    });
  const ep = (v) => (v == null ? "—" : (+v).toFixed(2));
  const out = [
    h("h3", { class: "w-h" }, `Mixture plan by ${m.by} (edit a share and press Enter)`),
    tableEl(rows, [
      ["group", m.by, "text"],
      ["available", "tokens available", "int"],
      ["share", "share (entered)", input],
      ["wanted", "tokens wanted", "int"],
      ["epochs", "epochs wanted", (r) => ep(r.epochs)],
      ["used", "epochs used", (r) => ep(r.used)],
      ["target", "target share", "bar"],
      ["planned", "planned share", "bar"],
    ]),
  ];
  if (!p) out.push(h("div", { class: "w-meta" }, "Give at least one group a share."));
  else {
    for (const w of p.warnings || []) out.push(h("div", { class: "wl-warn" }, w));
    out.push(h("pre", { class: "wl-yaml", "data-m": "yaml" }, m.yaml || ""));
  }
  return out;
}
