// Winnow Thresholds panel: rule editors, counts, retention, per-rule table, overlap, cut histograms and the
// documents at the edge of a cut, drawn in the browser. A change is one POST to /winnow/api/summary (answered by
// app.recipes.summarize on the server) and one redraw of this panel; Streamlit only hears of the new rules a
// moment later (a trigger value), for the URL and for saving. Every string from the data is escaped (esc).

const KEPT = "#2f6f4f";
const REMOVED = "#c9c9c0";
const CUT = "#b5523b";
const SYNC_MS = 400; // while a slider is dragged: quiet time before the rules are sent to Streamlit

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
const fmtInt = (n) => (n == null ? "—" : Number(n).toLocaleString("en-US"));
const pct = (a, b) => (!b ? "—" : ((100 * a) / b).toFixed(1) + "%");
const g4 = (v) => (v == null || v === "" ? "" : String(+Number(v).toPrecision(4)));
const frac = (v) => (v == null ? "—" : (100 * v).toFixed(1) + "%");

function bar(f) {
  const w = f == null ? 0 : Math.max(0, Math.min(1, f)) * 100;
  return `<span class="w-bar"><span style="width:${w.toFixed(1)}%"></span></span>${frac(f)}`;
}

function table(rows, cols, limit = 50) {
  // cols: [key, header, kind] with kind "text" | "int" | "bar"
  const head = cols.map((c) => `<th>${esc(c[1])}</th>`).join("");
  const body = rows
    .slice(0, limit)
    .map(
      (r) =>
        "<tr>" +
        cols
          .map(([k, , kind]) =>
            kind === "bar"
              ? `<td class="n">${bar(r[k])}</td>`
              : kind === "int"
                ? `<td class="n">${fmtInt(r[k])}</td>`
                : `<td>${esc(r[k] ?? "—")}</td>`,
          )
          .join("") +
        "</tr>",
    )
    .join("");
  const more = rows.length > limit ? `<div class="w-meta">… ${fmtInt(rows.length - limit)} more rows</div>` : "";
  return `<table class="w-tab"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>${more}`;
}

function label(r) {
  // the server words every rule (app.recipes.rules: one label per kind); until it answers, the column
  return r.text || r.col || "(rule)";
}

// ------------------------------------------------------------------ histograms (SVG)
const W = 300;
const H = 150;
const PAD = { l: 44, r: 8, t: 20, b: 22 };

function numHist(col, bins, cut, logx, uid) {
  if (!bins || !bins.length) return "";
  const lo = cut ? cut.min : null;
  const hi = cut ? cut.max : null;
  const x0 = bins[0][0];
  const x1 = bins[bins.length - 1][1];
  const ymax = Math.max(1, ...bins.map((b) => b[2]));
  const useLog = logx && x0 > 0;
  const t = (v) => (useLog ? Math.log10(v) : v);
  const span = t(x1) - t(x0) || 1;
  const X = (v) => PAD.l + ((t(Math.min(Math.max(v, x0), x1)) - t(x0)) / span) * (W - PAD.l - PAD.r);
  const Y = (c) => PAD.t + (1 - c / ymax) * (H - PAD.t - PAD.b);
  let s = "";
  for (const [a, b, c] of bins) {
    const kept = (lo == null || b > lo) && (hi == null || a < hi);
    const xa = X(a);
    const w = Math.max(0.5, X(b) - xa - 0.5);
    s += `<rect x="${xa.toFixed(1)}" y="${Y(c).toFixed(1)}" width="${w.toFixed(1)}" height="${(Y(0) - Y(c)).toFixed(1)}" fill="${kept ? KEPT : REMOVED}"><title>${esc(g4(a))} … ${esc(g4(b))}: ${fmtInt(c)} docs</title></rect>`;
  }
  for (const [v, name] of [
    [lo, "min"],
    [hi, "max"],
  ]) {
    if (v == null || v < x0 || v > x1) continue;
    const x = X(v).toFixed(1);
    s += `<line x1="${x}" x2="${x}" y1="${PAD.t - 4}" y2="${Y(0)}" stroke="${CUT}" stroke-width="2"><title>${name} ${esc(g4(v))}</title></line>`;
  }
  const axis =
    `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${Y(0)}" y2="${Y(0)}" stroke="#888"/>` +
    `<text x="${PAD.l}" y="${H - 6}" class="wl-ax">${esc(g4(x0))}</text>` +
    `<text x="${W - PAD.r}" y="${H - 6}" class="wl-ax" text-anchor="end">${esc(g4(x1))}</text>` +
    `<text x="${PAD.l - 4}" y="${PAD.t + 4}" class="wl-ax" text-anchor="end">${esc(fmtInt(ymax))}</text>` +
    `<text x="${PAD.l - 4}" y="${Y(0)}" class="wl-ax" text-anchor="end">0</text>`;
  // a range rule's cut can be dragged on its histogram: the SVG carries its x scale
  const drag = uid
    ? ` data-drag="${esc(uid)}" data-x0="${x0}" data-x1="${x1}" data-log="${useLog ? 1 : 0}" tabindex="0"` +
      ` aria-label="${esc(col)} cut: drag it, or press ← → to move the minimum (with Shift: the maximum)"`
    : "";
  return svg(col + (useLog ? " (log x)" : "") + (uid ? " · drag to move the cut" : ""), s + axis, drag);
}

// the value under a pointer on a draggable histogram (the inverse of numHist's X)
function valueAt(svgEl, clientX) {
  const box = svgEl.getBoundingClientRect();
  const px = ((clientX - box.left) * W) / box.width;
  const f = Math.min(1, Math.max(0, (px - PAD.l) / (W - PAD.l - PAD.r)));
  const x0 = +svgEl.dataset.x0;
  const x1 = +svgEl.dataset.x1;
  if (svgEl.dataset.log === "1") return 10 ** (Math.log10(x0) + f * (Math.log10(x1) - Math.log10(x0)));
  return x0 + f * (x1 - x0);
}

function catHist(col, values, rule) {
  if (!values || !values.length) return "";
  const ymax = Math.max(1, ...values.map((v) => v[1]));
  const n = values.length;
  const bw = (W - PAD.l - PAD.r) / n;
  const Y = (c) => PAD.t + (1 - c / ymax) * (H - PAD.t - PAD.b);
  const chosen = new Set(rule.values);
  let s = "";
  values.forEach(([v, c], i) => {
    const kept = chosen.has(String(v)) === (rule.kind === "in");
    const x = PAD.l + i * bw;
    s += `<rect x="${x.toFixed(1)}" y="${Y(c).toFixed(1)}" width="${Math.max(0.5, bw - 1).toFixed(1)}" height="${(Y(0) - Y(c)).toFixed(1)}" fill="${kept ? KEPT : REMOVED}"><title>${esc(v)}: ${fmtInt(c)} docs</title></rect>`;
    if (n <= 12) s += `<text x="${(x + bw / 2).toFixed(1)}" y="${H - 6}" class="wl-ax" text-anchor="middle">${esc(String(v).slice(0, 8))}</text>`;
  });
  s += `<text x="${PAD.l - 4}" y="${PAD.t + 4}" class="wl-ax" text-anchor="end">${esc(fmtInt(ymax))}</text>`;
  return svg(col, s);
}

function trackStyle(lo, hi) {
  return `left:${(100 * lo).toFixed(1)}%;right:${(100 * (1 - hi)).toFixed(1)}%`;
}

function svg(title, inner, attrs = "") {
  return `<figure class="wl-fig"><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img"${attrs}>${inner}</svg></figure>`;
}

// ------------------------------------------------------------------ the panel
class Panel {
  constructor(parent) {
    this.root = document.createElement("div");
    this.root.className = "wl";
    this.root.innerHTML = `
      <div class="wl-err" hidden></div>
      <div class="wl-metrics"></div>
      <div class="wl-cmp" hidden></div>
      <div class="wl-mix" hidden></div>
      <div class="wl-grid">
        <div class="wl-left"><h3 class="w-h">Rules</h3><div class="wl-rules"></div></div>
        <div class="wl-right"><div class="wl-tables"></div><div class="wl-overlap"></div></div>
      </div>
      <h3 class="w-h">Cuts</h3><div class="wl-cuts"></div>
      <h3 class="w-h">At the edge of a cut</h3><div class="wl-pick"></div><div class="wl-edge"></div>
      <div class="wl-status w-meta" aria-hidden="true"></div>`;
    parent.appendChild(this.root);
    this.$ = (sel) => this.root.querySelector(sel);
    this.gen = null;
    this.runs = 0;
    this.inflight = false;
    this.pending = false;
    this.edgeSeq = 0;
    this.syncTimer = null;
    this.syncDue = false;
    this.dragging = false;
    this.last = null;
    this.ctx = null; // the fingerprint of recipe B and the mixture settings the page registered
    this.cmpSeq = 0;
    this.shares = null; // the mixture's target shares as entered ({group: number}); null: the server's defaults
    this.sharesBy = null;
    this.root.addEventListener("click", (e) => this.onClick(e));
    this.root.addEventListener("change", (e) => this.onEdit(e, true));
    this.root.addEventListener("input", (e) => this.onEdit(e, false));
    this.root.addEventListener("pointerdown", (e) => this.onDrag(e));
    this.root.addEventListener("keydown", (e) => this.onKey(e));
  }

  // ← → on a focused histogram move the rule's minimum (Shift: maximum) by one step of its editor
  onKey(e) {
    const svgEl = e.target.closest && e.target.closest("svg[data-drag]");
    if (!svgEl || (e.key !== "ArrowLeft" && e.key !== "ArrowRight")) return;
    const r = this.rule(svgEl.dataset.drag);
    if (!r || r.kind !== "range") return;
    e.preventDefault();
    const bound = e.shiftKey ? "hi" : "lo";
    const x0 = +svgEl.dataset.x0;
    const x1 = +svgEl.dataset.x1;
    const step = +((this.meta[r.uid] || {}).step || 0) || (x1 - x0) / 100;
    const from = r[bound] ?? (bound === "lo" ? x0 : x1);
    const v = +(from + (e.key === "ArrowRight" ? step : -step)).toPrecision(6);
    r[bound] = v;
    const box = this.root.querySelector(`.wl-rule[data-uid="${CSS.escape(r.uid)}"] [data-f="${bound}"]`);
    if (box) box.value = String(v);
    this.changed(r.uid);
  }

  // drag a range rule's cut along its histogram: the nearer bound follows the pointer, counts update live
  onDrag(e) {
    const svgEl = e.target.closest("svg[data-drag]");
    if (!svgEl || e.button !== 0) return;
    const r = this.rule(svgEl.dataset.drag);
    if (!r || r.kind !== "range") return;
    e.preventDefault();
    const v0 = valueAt(svgEl, e.clientX);
    const ax = (v) => (svgEl.dataset.log === "1" ? Math.log10(Math.max(v, 1e-300)) : v); // distance as drawn
    let bound = "lo";
    if (r.lo != null && r.hi != null) bound = Math.abs(ax(v0) - ax(r.lo)) <= Math.abs(ax(v0) - ax(r.hi)) ? "lo" : "hi";
    else if (r.hi != null) bound = "hi";
    const step = +((this.meta[r.uid] || {}).step || 0);
    const round = (v) => (step >= 1 ? Math.round(v) : +v.toPrecision(3));
    const row = this.root.querySelector(`.wl-rule[data-uid="${CSS.escape(r.uid)}"]`);
    const move = (ev) => {
      const v = round(valueAt(svgEl, ev.clientX));
      if (v === r[bound]) return;
      r[bound] = v;
      const box = row && row.querySelector(`[data-f="${bound}"]`);
      if (box) box.value = String(v);
      this.changed(r.uid, true);
    };
    svgEl.setPointerCapture(e.pointerId);
    this.dragSvg = svgEl;
    move(e);
    const up = () => {
      this.dragSvg = null;
      svgEl.removeEventListener("pointermove", move);
      svgEl.removeEventListener("pointerup", up);
      svgEl.removeEventListener("pointercancel", up);
      this.dragging = false;
      if (this.syncDue && !this.inflight) this.sync(0);
    };
    svgEl.addEventListener("pointermove", move);
    svgEl.addEventListener("pointerup", up);
    svgEl.addEventListener("pointercancel", up);
  }

  receive(data) {
    this.token = data.token;
    this.api = data.api;
    const ctxChanged = (data.ctx || null) !== this.ctx;
    this.ctx = data.ctx || null;
    if (data.gen === this.gen) {
      // our own rules came back from Streamlit: nothing new to draw, unless B or the mixture settings changed
      if (ctxChanged) this.fetchCompare();
      return;
    }
    this.gen = data.gen;
    this.rules = JSON.parse(JSON.stringify(data.rules || []));
    this.hist = data.hist || {};
    this.meta = data.meta || {};
    if (!this.rules.some((r) => r.uid === this.edgeUid)) this.edgeUid = data.edge_uid || (this.rules[0] || {}).uid;
    this.drawEditors();
    if (data.summary) {
      this.drawSummary(data.summary, !this.ctx);
      if (this.ctx) this.fetchCompare().then(() => this.fetchEdge());
    } else this.request();
    if (data.error) this.showError(data.error);
  }

  // ---------------------------------------------------------------- editors
  drawEditors() {
    const rows = this.rules.map((r) => {
      const m = this.meta[r.uid] || {};
      const rm = `<button class="wl-x" data-act="rm" data-uid="${esc(r.uid)}" title="remove the rule ${esc(label(r))}">✕</button>`;
      let body;
      let cls = "";
      if (r.kind === "range") {
        const help = m.observed ? `observed ${g4(m.observed[0])} … ${g4(m.observed[1])}` : "";
        body =
          `<span class="wl-rname" title="${esc(help)}">${esc(r.col)}</span>` +
          `<label>min<input type="number" data-f="lo" step="${esc(m.step || "any")}" value="${esc(r.lo ?? "")}" title="${esc(help)}" aria-label="min ${esc(r.col)}"></label>` +
          `<label>max<input type="number" data-f="hi" step="${esc(m.step || "any")}" value="${esc(r.hi ?? "")}" aria-label="max ${esc(r.col)}"></label>`;
      } else if (r.kind === "quantile" || r.kind === "group_quantile") {
        const lo = r.lo ?? 0;
        const hi = r.hi ?? 1;
        const within = r.kind === "group_quantile" ? ` within each ${esc(r.by)}` : "";
        body =
          `<label class="wl-q">quantiles of ${esc(r.col)}${within} <output>${lo.toFixed(2)} – ${hi.toFixed(2)}</output>` +
          `<span class="wl-q2"><span class="wl-track"><span style="${trackStyle(lo, hi)}"></span></span>` +
          `<input type="range" min="0" max="1" step="0.01" data-f="qlo" value="${lo}" aria-label="lowest quantile kept">` +
          `<input type="range" min="0" max="1" step="0.01" data-f="qhi" value="${hi}" aria-label="highest quantile kept"></span></label>`;
      } else if (r.kind === "in" || r.kind === "not_in") {
        const opts = [...new Set([...r.values, ...(m.options || [])])]; // the chosen ones first
        const chips = opts
          .map((v) => `<button class="wl-chip${r.values.includes(v) ? " on" : ""}" data-act="chip" data-v="${esc(v)}">${esc(v)}</button>`)
          .join("");
        cls = " wl-cat";
        body =
          `<label>keep ${esc(r.col)} <select data-f="op"><option value="in"${r.kind === "in" ? " selected" : ""}>in</option>` +
          `<option value="not_in"${r.kind === "not_in" ? " selected" : ""}>not in</option></select></label>` +
          `<div class="wl-chips">${chips}</div>`;
      } else if (r.kind === "expr") {
        body = `<label class="wl-wide">keep documents where<input type="text" data-f="expr" value="${esc(r.expr)}" spellcheck="false"></label>`;
      } else if (r.kind === "dedup" && r.col === "near" && m.scored != null) {
        // near duplicates at a Jaccard threshold of the recipe's own: from the scored one up to 1 (live counts)
        const t = r.lo ?? m.scored;
        const help = `clusters scored at ${m.scored}; a lower threshold needs winnow dedup near --threshold J`;
        body =
          `<label class="wl-q" title="${esc(help)}">near duplicates (MinHash) at Jaccard ≥ <output>${(+t).toFixed(2)}</output>` +
          `<input type="range" min="${esc(m.scored)}" max="1" step="0.01" data-f="jt" value="${esc(t)}" aria-label="near-duplicate Jaccard threshold"></label>` +
          `<span class="w-meta"> (dedup runs over the documents the rules keep)</span>`;
      } else {
        const note = r.kind === "dedup" ? " (dedup runs over the documents the rules keep)" : "";
        body = `<span class="wl-fixed"><strong>${esc(label(r))}</strong>${note}</span>`;
      }
      return `<div class="wl-rule${cls}" data-uid="${esc(r.uid)}">${body}${rm}</div>`;
    });
    this.$(".wl-rules").innerHTML = rows.join("") || '<div class="w-meta">No rules yet: add one above.</div>';
  }

  rule(uid) {
    return this.rules.find((r) => r.uid === uid);
  }

  onEdit(e, committed) {
    const el = e.target;
    const row = el.closest(".wl-rule");
    if (el.dataset.mix !== undefined) {
      if (committed) this.onShare(el);
      return;
    }
    if (!row || !el.dataset.f) return;
    const r = this.rule(row.dataset.uid);
    if (!r) return;
    const f = el.dataset.f;
    if (f === "qlo" || f === "qhi") {
      // sliders update live while dragged (requests coalesce: at most one in flight)
      let lo = +row.querySelector('[data-f="qlo"]').value;
      let hi = +row.querySelector('[data-f="qhi"]').value;
      if (lo > hi) {
        // the thumbs never cross: the one being dragged stops at the other
        if (f === "qlo") lo = hi;
        else hi = lo;
        el.value = f === "qlo" ? lo : hi;
      }
      row.querySelector("output").textContent = `${lo.toFixed(2)} – ${hi.toFixed(2)}`;
      row.querySelector(".wl-track span").style.cssText = trackStyle(lo, hi);
      r.lo = lo <= 0 ? null : lo;
      r.hi = hi >= 1 ? null : hi;
      this.changed(r.uid, !committed); // "input" while dragging, "change" on release
      return;
    } else if (f === "jt") {
      // the near-duplicate threshold: counts follow the slider as it moves
      const v = +el.value;
      row.querySelector("output").textContent = v.toFixed(2);
      r.lo = Math.round(v * 100) / 100;
      r.text = "";
      this.changed(r.uid, !committed);
      return;
    } else if (!committed) {
      return; // number and text boxes count on Enter or when they lose focus
    } else if (f === "lo" || f === "hi") {
      const v = el.value.trim();
      if (v !== "" && !Number.isFinite(+v)) return;
      r[f] = v === "" ? null : +v;
    } else if (f === "op") {
      r.kind = el.value === "in" ? "in" : "not_in";
      r.text = "";
    } else if (f === "expr") {
      r.expr = el.value;
    } else return;
    this.changed(r.uid);
    // committed by leaving the box (e.g. a click on "Save recipe"): Streamlit hears of it now, not after the draw
    if (document.activeElement !== el) this.sync(0);
  }

  onClick(e) {
    const el = e.target.closest("[data-act]");
    if (!el) return;
    const act = el.dataset.act;
    if (act === "rm") {
      this.rules = this.rules.filter((r) => r.uid !== el.dataset.uid);
      el.closest(".wl-rule").remove();
      this.changed(null);
    } else if (act === "chip") {
      const r = this.rule(el.closest(".wl-rule").dataset.uid);
      const v = el.dataset.v;
      r.values = r.values.includes(v) ? r.values.filter((x) => x !== v) : [...r.values, v];
      el.classList.toggle("on");
      this.changed(r.uid);
    } else if (act === "edge") {
      this.edgeUid = el.dataset.uid;
      this.drawPicker();
      this.fetchEdge();
      this.sync();
    }
  }

  changed(uid, dragging = false) {
    if (uid) this.edgeUid = uid;
    this.syncDue = true;
    this.dragging = dragging;
    this.request();
  }

  sync(delay = 0) {
    // tell Streamlit the rules (URL state, "Save recipe", YAML view): after the new counts are drawn, so its
    // rerun never competes with them; while a slider is dragged, once it pauses
    clearTimeout(this.syncTimer);
    this.syncDue = false;
    const send = () => this.trigger("rules", JSON.stringify({ rules: this.rules, edge_uid: this.edgeUid }));
    this.syncTimer = setTimeout(send, delay);
  }

  // ---------------------------------------------------------------- server round trips
  async post(kind, body) {
    const res = await fetch(`${this.api}/${kind}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: this.token, rules: this.rules, ...body }),
    });
    if (res.status === 404)
      throw new Error("this server has no Winnow routes: start the dashboard with `winnow ui` (app/ui/server.py)");
    let j;
    try {
      j = await res.json();
    } catch {
      j = { error: `the server answered ${res.status}` };
    }
    if (!res.ok || j.error) throw new Error(j.error || `the server answered ${res.status}`);
    return j;
  }

  async request() {
    if (this.inflight) {
      this.pending = true;
      return;
    }
    this.inflight = true;
    this.root.dataset.busy = "1"; // a request is out (the benchmark waits for "0")
    try {
      const s = await this.post("summary", {});
      const settled = !this.pending;
      // B's comparison and the mixture plan are asked when the counts arrive, so the server counts them while the
      // browser draws the counts; the edge documents (a query that reads texts, the slowest) only after both
      const seq = ++this.cmpSeq;
      const cmp = this.ctx && settled ? this.post("compare", this.sharesBody()).catch((err) => ({ error: err.message })) : null;
      this.drawSummary(s, settled && !cmp); // while dragging, each answer is drawn as it comes
      if (cmp) {
        this.drawCompare(await cmp, seq);
        if (!this.pending) this.fetchEdge();
      }
    } catch (err) {
      this.showError(`These rules cannot be evaluated: ${err.message}`);
    } finally {
      this.inflight = false;
      if (this.pending) {
        this.pending = false;
        this.request();
      } else {
        this.root.dataset.busy = "0";
        if (this.syncDue) this.sync(this.dragging ? SYNC_MS : 0);
      }
    }
  }

  showError(msg) {
    const e = this.$(".wl-err");
    e.textContent = msg;
    e.hidden = false;
  }

  // ---------------------------------------------------------------- drawing
  drawSummary(s, settled = true) {
    this.$(".wl-err").hidden = true;
    this.last = s;
    (s.rule_uids || []).forEach((uid, i) => {
      const r = this.rule(uid);
      if (r && s.texts) r.text = s.texts[i];
    });
    const total = s.total_docs;
    const kept = s.kept_docs;
    const tokNote = s.tokens_estimated ? " (estimated)" : "";
    this.$(".wl-metrics").innerHTML =
      `<div class="wl-metric"><div class="wl-mlabel">Kept documents</div><div class="wl-mvalue" data-m="kept">${fmtInt(kept)}</div>` +
      `<div class="wl-mnote">${pct(kept, total)} of ${fmtInt(total)}</div></div>` +
      `<div class="wl-metric"><div class="wl-mlabel">Kept tokens</div><div class="wl-mvalue">${fmtInt(s.kept_tokens)}</div>` +
      `<div class="wl-mnote">${pct(s.kept_tokens, s.total_tokens)} of ${fmtInt(s.total_tokens)}${tokNote}</div></div>` +
      `<div class="wl-metric"><div class="wl-mlabel">Removed documents</div><div class="wl-mvalue">${fmtInt(s.removed_docs)}</div></div>`;
    const ret = [
      ["total", "docs", "int"],
      ["kept", "kept", "int"],
      ["kept_frac", "kept %", "bar"],
      ["kept_tokens_frac", "tokens kept %", "bar"],
    ];
    const src = table(s.by_source || [], [["source", "source", "text"], ...ret]);
    const lang = (s.by_lang || []).length
      ? table(s.by_lang, [["lang", "language", "text"], ...ret], 12)
      : '<div class="w-meta">No <code>lang_code</code> column: compute signals for retention per language.</div>';
    let removes = "";
    if ((s.rules || []).length)
      removes =
        '<h3 class="w-h">What each rule removes</h3>' +
        table(s.rules, [
          ["label", "rule", "text"],
          ["removed", "removed", "int"],
          ["removed_frac", "removed %", "bar"],
          ["removed_only", "only by it", "int"],
        ]);
    this.$(".wl-tables").innerHTML =
      `<h3 class="w-h">Retention</h3><div class="wl-two"><div>${src}</div><div>${lang}</div></div>${removes}` +
      this.byGroupHtml(s);
    this.$(".wl-overlap").innerHTML = this.overlapHtml(s);
    this.drawCuts(s);
    this.drawPicker();
    this.runs += 1;
    this.$(".wl-status").innerHTML =
      `update #${this.runs} · ${Math.round(s.server_ms)} ms on the server (summary query ${Math.round(s.elapsed_ms)} ms)` +
      `<span class="w-done" data-run="${this.runs}"></span>`;
    if (settled) this.fetchEdge();
  }

  byGroupHtml(s) {
    // rule x language: what each rule removes of each of the largest groups, alone and only by it (what would
    // come back if the rule were dropped), so rules that overlap cannot hide which of them empties a language
    const rs = (s.rules || []).filter((r) => (r.by_group || []).length);
    const groups = (s.by_lang || s.by_group || []).slice(0, 8);
    if (!rs.length || !groups.length) return "";
    const key = s.by_lang && s.by_lang.length ? "lang" : "group";
    const head = groups.map((g) => `<th class="n">${esc(g[key] ?? "(none)")}</th>`).join("");
    const rows = rs
      .map((r) => {
        const at = new Map(r.by_group.map((x) => [x.group, x]));
        const cells = groups
          .map((g) => {
            const x = at.get(g[key]) || { removed: 0, only: 0 };
            const frac = g.total ? x.removed / g.total : 0;
            const a = (0.06 + 0.8 * frac).toFixed(2);
            const fg = frac > 0.55 ? "#fff" : "#222";
            const tip = `${r.label} removes ${fmtInt(x.removed)} of ${fmtInt(g.total)} (${fmtInt(x.only)} only by it)`;
            return `<td class="n" style="background:rgba(160,60,40,${a});color:${fg}" title="${esc(tip)}">${pct(x.removed, g.total)}<br><small>${pct(x.only, g.total)} only</small></td>`;
          })
          .join("");
        return `<tr><td title="${esc(r.label)}">${r.index + 1}. ${esc(String(r.label).slice(0, 48))}</td>${cells}</tr>`;
      })
      .join("");
    return (
      '<h3 class="w-h">What each rule removes, by language</h3>' +
      '<div class="w-meta">Share of each language a rule removes, and below it the share only that rule removes ' +
      "(what would come back if you dropped it).</div>" +
      `<div class="wl-scroll"><table class="w-tab wl-bygroup"><thead><tr><th>rule</th>${head}</tr></thead><tbody>${rows}</tbody></table></div>`
    );
  }

  overlapHtml(s) {
    const rs = s.rules || [];
    if (rs.length < 2) return "";
    const m = s.overlap;
    if (rs.length > 8) {
      // many rules: a matrix would wrap its labels a character per line; list the largest overlaps instead
      const pairs = [];
      for (let i = 0; i < rs.length; i++) for (let j = i + 1; j < rs.length; j++) if (m[i][j]) pairs.push([m[i][j], i, j]);
      pairs.sort((a, b) => b[0] - a[0]);
      const rows = pairs
        .slice(0, 15)
        .map(
          ([v, i, j]) =>
            `<tr><td title="${esc(rs[i].label)}">${i + 1}. ${esc(String(rs[i].label).slice(0, 48))}</td>` +
            `<td title="${esc(rs[j].label)}">${j + 1}. ${esc(String(rs[j].label).slice(0, 48))}</td><td class="n">${fmtInt(v)}</td></tr>`,
        )
        .join("");
      return (
        `<h3 class="w-h">Largest overlaps</h3><div class="w-meta">documents removed by both rules (the top ${Math.min(15, pairs.length)} of ${fmtInt(pairs.length)} overlapping pairs)</div>` +
        `<div class="wl-scroll"><table class="w-tab wl-ovl"><thead><tr><th>rule</th><th>and rule</th><th class="n">both remove</th></tr></thead><tbody>${rows}</tbody></table></div>`
      );
    }
    const max = Math.max(1, ...m.flat());
    const head = rs.map((_, j) => `<th class="n">${j + 1}</th>`).join("");
    const rows = rs
      .map((r, i) => {
        const cells = m[i]
          .map((v, j) => {
            const a = (0.08 + 0.85 * (v / max)).toFixed(2);
            const fg = v / max > 0.55 ? "#fff" : "#222";
            return `<td class="n" style="background:rgba(47,111,79,${a});color:${fg}" title="${esc(r.label)} ∧ ${esc(rs[j].label)}: ${fmtInt(v)}">${fmtInt(v)}</td>`;
          })
          .join("");
        return `<tr><td class="wl-rl" title="${esc(r.label)}">${i + 1}. ${esc(String(r.label).slice(0, 40))}</td>${cells}</tr>`;
      })
      .join("");
    return (
      '<h3 class="w-h">Overlap</h3><div class="w-meta">documents removed by both rules (columns numbered as the rows)</div>' +
      `<div class="wl-scroll"><table class="w-tab wl-ov"><thead><tr><th></th>${head}</tr></thead><tbody>${rows}</tbody></table></div>`
    );
  }

  drawCuts(s) {
    const uids = s.rule_uids || [];
    const figs = [];
    uids.forEach((uid, i) => {
      const r = this.rule(uid);
      const h = this.hist[uid];
      if (!r || !h) return;
      const html =
        h.type === "num" ? numHist(r.col, h.bins, s.cuts[i], h.log, r.kind === "range" ? uid : null) : catHist(r.col, h.values, r);
      if (html) figs.push(html);
    });
    const box = this.$(".wl-cuts");
    const held = this.dragSvg && box.contains(this.dragSvg) ? this.dragSvg : null;
    if (!held) {
      const focused = box.contains(document.activeElement) ? document.activeElement.dataset.drag : null;
      box.innerHTML = figs.join("") || '<div class="w-meta">No rule with a histogram (expressions and duplicate rules have none).</div>';
      if (focused) box.querySelector(`svg[data-drag="${CSS.escape(focused)}"]`)?.focus({ preventScroll: true });
      return;
    }
    // a cut is being dragged: keep that SVG element (it holds the pointer capture), redraw its inside only
    const tmp = document.createElement("div");
    tmp.innerHTML = figs.join("");
    const fresh = tmp.querySelector(`svg[data-drag="${CSS.escape(held.dataset.drag)}"]`);
    if (fresh) {
      held.innerHTML = fresh.innerHTML;
      fresh.replaceWith(held);
    }
    box.replaceChildren(...tmp.children);
  }

  drawPicker() {
    const uids = (this.last && this.last.rule_uids) || [];
    if (!uids.includes(this.edgeUid)) this.edgeUid = uids[0];
    this.$(".wl-pick").innerHTML = uids
      .map((uid) => {
        const r = this.rule(uid);
        return r
          ? `<button class="wl-chip${uid === this.edgeUid ? " on" : ""}" data-act="edge" data-uid="${esc(uid)}">${esc(label(r).slice(0, 60))}</button>`
          : "";
      })
      .join("");
    if (!uids.length) this.$(".wl-edge").innerHTML = "";
  }

  // ---------------------------------------------------------------- recipe B and the mixture plan
  sharesBody() {
    return this.shares ? { shares: this.shares, shares_by: this.sharesBy } : {};
  }

  async fetchCompare() {
    if (!this.ctx) {
      this.$(".wl-cmp").hidden = true;
      this.$(".wl-mix").hidden = true;
      return;
    }
    const seq = ++this.cmpSeq;
    const c = await this.post("compare", this.sharesBody()).catch((err) => ({ error: err.message }));
    this.drawCompare(c, seq);
  }

  onShare(el) {
    const v = el.value.trim() === "" ? 0 : +el.value;
    if (!Number.isFinite(v) || v < 0) return;
    const g = el.dataset.mix;
    this.shares = { ...(this.shares || this.mixEntered || {}) };
    if (v) this.shares[g] = v;
    else delete this.shares[g];
    this.sharesBy = this.mixBy;
    const seq = ++this.cmpSeq;
    this.post("plan", this.sharesBody())
      .catch((err) => ({ error: err.message }))
      .then((c) => this.drawCompare(c, seq));
  }

  drawCompare(c, seq) {
    if (seq !== this.cmpSeq) return; // a newer change asked again
    const box = this.$(".wl-cmp");
    if (c.error) {
      box.hidden = false;
      box.replaceChildren(h("div", { class: "wl-err" }, `Compare and plan: ${c.error}`));
      return;
    }
    if ("compare" in c) {
      box.hidden = !c.compare;
      if (c.compare) box.replaceChildren(...compareNodes(c.compare));
    }
    const mix = this.$(".wl-mix");
    mix.hidden = !c.mix;
    if (c.mix) mix.replaceChildren(...this.mixNodes(c.mix));
  }

  mixNodes(m) {
    if (this.shares && m.by !== this.sharesBy) this.shares = null; // entered for another grouping
    this.mixBy = m.by;
    this.mixEntered = m.entered;
    return mixNodes(m);
  }

  async fetchEdge() {
    const uid = this.edgeUid;
    if (!uid) return;
    const seq = ++this.edgeSeq;
    let b;
    try {
      b = await this.post("edge", { uid });
    } catch (err) {
      if (seq === this.edgeSeq) {
        this.$(".wl-edge").innerHTML = `<div class="w-meta">${esc(err.message)}</div>`;
        this.$(".wl-edge").dataset.run = String(this.runs);
      }
      return;
    }
    if (seq !== this.edgeSeq) return; // a newer change asked again
    const run = this.runs;
    const half = (title, rows, cls) =>
      `<div class="wl-half"><p><strong>${esc(title)}</strong></p>` +
      (rows.length
        ? rows
            .map(
              (d) =>
                `<div class="w-snip ${cls}"><div class="w-meta">${esc(d.id)} · ${esc(d.source)} · ${esc(d.value)}</div>${esc(String(d.text || "").slice(0, 400))}</div>`,
            )
            .join("")
        : '<div class="w-meta">none</div>') +
      "</div>";
    const edge = this.$(".wl-edge");
    edge.innerHTML =
      b.bound === "max" // a maximum keeps what lies below it
        ? half("just kept", b.below, "") + half("just removed", b.above, "below")
        : half(b.bound ? "just kept" : "passing", b.above, "") + half(b.bound ? "just removed" : "failing", b.below, "below");
    edge.dataset.run = String(run); // the update these documents belong to (tests and the benchmark wait on it)
  }
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let p = parentElement.__winnowPanel;
  if (!p) p = parentElement.__winnowPanel = new Panel(parentElement);
  p.trigger = setTriggerValue;
  p.receive(data || {});
}
