"""Reading the matches: headless summaries of contamination for the dashboard and the HTML report.

The ``decontam`` scorer leaves ``_decon_matches`` (document, benchmark, item, overlap) for every document-item
pair at the hit overlap or more. This module turns it into what a reader needs:

- :func:`overview`: per benchmark, how many items are contaminated and by how many documents;
- :func:`document_matches`: for one document, each matched item with the character ranges to highlight on both
  sides (the document's ranges covered by the item's word n-grams, and the item's ranges found in the document),
  computed with the same normalisation and ``n`` as the scores (:func:`app.decontam.text.match_spans`);
- :func:`spans_html`: a text as one escaped HTML block with those ranges marked (safe for
  ``st.markdown(..., unsafe_allow_html=True)``: every character of the text is escaped, no line break is left);
- :func:`before_after`: per benchmark, contaminated items and documents among all documents and among the
  documents a recipe keeps (the report's "Contamination" section).

Headless: no Streamlit import.
"""

from __future__ import annotations

import html
import re
from typing import Any

from app.decontam.index import DEFAULT_N
from app.decontam.store import ALL, BENCHMARKS, UNITS
from app.decontam.text import match_spans, words

#: the scorer's family name and its stored fingerprint's n-gram length (``v…:n8:h0.5``)
FAMILY = "decontam"
_FP_N = re.compile(r":n(\d+):")
#: matched items shown for one document, and items listed per benchmark in the report
MAX_ITEMS = 20


def _matches_table() -> str:
    from app.signals.decontam import MATCHES

    return MATCHES


def _has(con: Any, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'", [table]
        ).fetchone()[0]
    )


def computed(ws: Any) -> bool:
    """Whether the decontamination signals have been computed (``winnow decontam run`` or ``add``)."""
    return bool(ws.has_table(_matches_table()))


def scored_n(con: Any) -> int:
    """The n-gram length the stored scores were computed with (read from the run record's fingerprint, kept in
    its ``version`` column; the default when no run is recorded)."""
    from app.signals.engine import RUNS

    if not _has(con, RUNS):  # nothing scored yet: the default applies
        return DEFAULT_N
    row = con.execute(f"SELECT version FROM {RUNS} WHERE family = ?", [FAMILY]).fetchone()
    m = _FP_N.search(row[0]) if row and row[0] else None
    return int(m.group(1)) if m else DEFAULT_N


def overview(ws: Any) -> dict[str, Any]:
    """``{computed, contaminated, benchmarks: [{name, items, items_matched, documents}]}`` (empty list when no
    benchmark is registered; zero counts until the signals are computed)."""
    from app.decontam.run import summary

    return {"computed": computed(ws), **summary(ws)}


def summary_line(ws: Any) -> str:
    """One plain-text line per workspace: per benchmark, contaminated items and documents ('' without benchmarks)."""
    ov = overview(ws)
    if not ov["benchmarks"]:
        return ""
    if not ov["computed"]:
        return "Benchmarks registered but not matched yet: run: winnow decontam run."
    parts = [f"{b['name']}: {b['items_matched']:,} of {b['items']:,} items in {b['documents']:,} documents"
             for b in ov["benchmarks"]]  # fmt: skip
    return (
        f"Contamination ({ov['contaminated']:,} documents): " + "; ".join(parts) + " (sort by decon_hits to list them)"
    )


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def item_spans(doc: str, units: list[tuple[str, str]], *, n: int) -> tuple[list[tuple[int, int]], str, list[tuple[int, int]]]:  # fmt: skip
    """For one item's ``(field, text)`` units: the document's ranges to highlight, the item text to show (the
    concatenation of its fields, or its only field) and that text's ranges found in the document.

    A unit shorter than ``n`` words counts only when it is the whole document (as in the scores), so a common
    short answer is never highlighted inside a longer text."""
    doc_words = words(doc)
    shown = next((t for f, t in units if f == ALL), units[0][1] if units else "")
    dspans: list[tuple[int, int]] = []
    for _f, t in units:
        w = words(t)
        if len(w) < n:
            if w and w == doc_words:
                dspans.extend(match_spans(doc, t, n=n))
        else:
            dspans.extend(match_spans(doc, t, n=n))
    # the item's ranges: its n-grams found in the document, or (a document shorter than n words, matched as a
    # whole against a short field) where the document's words occur in the item
    ispans = match_spans(shown, doc, n=n) if dspans else []
    return _merge(dspans), shown, ispans


def document_matches(ws: Any, doc_id: str, *, text: str | None = None, limit: int = MAX_ITEMS) -> list[dict[str, Any]]:  # fmt: skip
    """The matched items of one document, largest overlap first: ``[{benchmark, item_id, overlap, item_text,
    doc_spans, item_spans}]`` (``[]`` when it has none or the signals are not computed). ``text``: the document's
    text when the caller already has it."""
    if not computed(ws) or not ws.has_table(UNITS):
        return []
    cur = ws.cursor()
    try:
        return _document_matches(cur, doc_id, text=text, limit=limit)
    finally:
        cur.close()


def _document_matches(cur: Any, doc_id: str, *, text: str | None, limit: int) -> list[dict[str, Any]]:
    rows = cur.execute(
        f"SELECT benchmark, item_id, max(overlap) AS o FROM {_matches_table()} WHERE id = ?"
        " GROUP BY benchmark, item_id ORDER BY o DESC, benchmark, item_id LIMIT ?",
        [doc_id, int(limit)],
    ).fetchall()
    if not rows:
        return []
    if text is None:
        got = cur.execute("SELECT text FROM docs WHERE id = ? LIMIT 1", [doc_id]).fetchone()
        text = (got[0] if got else None) or ""
    n = scored_n(cur)
    out = []
    for bench, iid, ov in rows:
        units = cur.execute(
            f"SELECT field, text FROM {UNITS} WHERE benchmark = ? AND item_id = ? ORDER BY field",
            [bench, iid],
        ).fetchall()
        dspans, shown, ispans = item_spans(text, [(f, t or "") for f, t in units], n=n)
        out.append({"benchmark": bench, "item_id": iid, "overlap": float(ov), "item_text": shown,
                    "doc_spans": dspans, "item_spans": ispans})  # fmt: skip
    return out


def spans_html(text: str, spans: list[tuple[int, int]], *, context: int | None = None, max_chars: int = 50_000,
               label: str = "") -> str:  # fmt: skip
    """``text`` as one escaped ``w-doc`` block with ``spans`` in ``<mark>``. With ``context``, only the stretch from
    ``context`` characters before the first span to as many after the last is shown (the characters left out
    are counted); past ``max_chars`` the text is cut. No raw line break remains, so markdown cannot end the block."""
    start, end = 0, len(text)
    if context is not None and spans:
        start, end = max(0, min(s for s, _ in spans) - context), min(len(text), max(e for _, e in spans) + context)
    end = min(end, start + max_chars)
    body = text[start:end]
    parts: list[str] = []
    at = 0
    for s, e in _merge([(max(0, s - start), min(e - start, len(body))) for s, e in spans if s < end and e > start]):
        parts.append(html.escape(body[at:s], quote=True))
        parts.append(f'<mark class="w-decon">{html.escape(body[s:e], quote=True)}</mark>')
        at = e
    parts.append(html.escape(body[at:], quote=True))
    before = f"<em>… {start:,} characters before</em><br>" if start else ""
    after = f"<br><em>… {len(text) - end:,} more characters</em>" if end < len(text) else ""
    head = f'<div class="w-meta">{html.escape(label, quote=True)}</div>' if label else ""
    inner = "".join(parts).replace("\r", "&#13;").replace("\n", "&#10;")
    return f'<div>{head}<div class="w-doc">{before}{inner}{after}</div></div>'


def matches_html(matches: list[dict[str, Any]], doc_text: str, *, context: int = 400) -> str:
    """Every matched item of one document side by side with the document's matching stretch (from
    :func:`document_matches`), as one escaped HTML block for ``st.markdown(..., unsafe_allow_html=True)``."""
    rows = []
    for m in matches:
        covered = sum(e - s for s, e in m["doc_spans"])
        left = spans_html(doc_text, m["doc_spans"], context=context,
                          label=f"document · {covered:,} characters match")  # fmt: skip
        right = spans_html(m["item_text"], m["item_spans"],
                           label=f"{m['benchmark']} · item {m['item_id']} · overlap {m['overlap']:.0%}")  # fmt: skip
        rows.append(f'<div class="w-decon-row" style="display:grid;grid-template-columns:1fr 1fr;gap:0.8rem;'
                    f'margin-bottom:0.8rem">{left}{right}</div>')  # fmt: skip
    return (
        '<style>mark.w-decon{background:#ffd27a;padding:0}</style><div class="w-decon-list">' + "".join(rows) + "</div>"
    )


def before_after(con: Any, *, keep_table: str, limit: int = MAX_ITEMS) -> dict[str, Any] | None:
    """Contamination among all documents and among those a recipe keeps (``keep_table``: ``id, _keep`` for every
    document). ``None`` when no benchmark is registered; ``computed`` is false when none was matched yet.

    ``benchmarks``: ``[{name, items, items_before, items_after, documents_before, documents_after}]``;
    ``items``: per benchmark the most contaminated items, ``[{benchmark, item_id, documents_before,
    documents_after}]`` (at most ``limit`` per benchmark, those still present after the recipe first)."""
    from app.sql import qi

    if not _has(con, BENCHMARKS):  # decontamination never used in this workspace
        return None
    benches = con.execute(f"SELECT name, items FROM {BENCHMARKS} ORDER BY name").fetchall()
    if not benches:
        return None
    mt = _matches_table()
    if not _has(con, mt):  # registered but never matched
        zero = [{"name": b, "items": int(i), "items_before": 0, "items_after": 0, "documents_before": 0,
                 "documents_after": 0} for b, i in benches]  # fmt: skip
        return {"computed": False, "benchmarks": zero, "items": []}
    joined = f"SELECT m.benchmark, m.item_id, m.id, k._keep FROM {mt} AS m JOIN {qi(keep_table)} AS k USING (id)"
    per = {
        r[0]: r[1:]
        for r in con.execute(
            f"""SELECT benchmark, count(DISTINCT item_id), count(DISTINCT item_id) FILTER (WHERE _keep),
            count(DISTINCT id), count(DISTINCT id) FILTER (WHERE _keep) FROM ({joined}) GROUP BY benchmark"""
        ).fetchall()
    }
    rows = []
    for name, items in benches:
        ib, ia, db, da = per.get(name, (0, 0, 0, 0))
        rows.append({"name": name, "items": int(items), "items_before": int(ib), "items_after": int(ia),
                     "documents_before": int(db), "documents_after": int(da)})  # fmt: skip
    top = con.execute(
        f"""SELECT benchmark, item_id, before, after FROM (
            SELECT benchmark, item_id, count(DISTINCT id) AS before, count(DISTINCT id) FILTER (WHERE _keep) AS after,
            row_number() OVER (PARTITION BY benchmark ORDER BY count(DISTINCT id) FILTER (WHERE _keep) DESC,
                               count(DISTINCT id) DESC, item_id) AS r
            FROM ({joined}) GROUP BY benchmark, item_id) WHERE r <= ? ORDER BY benchmark, r""",
        [int(limit)],
    ).fetchall()
    items = [
        {"benchmark": b, "item_id": i, "documents_before": int(x), "documents_after": int(y)} for b, i, x, y in top
    ]
    return {"computed": True, "benchmarks": rows, "items": items}


def for_export(con: Any, select_sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """Contamination before and after an export's selection (``select_sql`` yields the kept ``id``s), for the
    manifest; ``None`` (nothing computed) when the workspace has no registered benchmark."""
    from app.recipes.compile import used_params

    if not _has(con, BENCHMARKS):
        return None
    keep = "_winnow_export_keep"
    q = f"SELECT d.id, d.id IN (SELECT id FROM ({select_sql})) AS _keep FROM docs AS d"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {keep} AS {q}", used_params(q, params))
    try:
        return before_after(con, keep_table=keep)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {keep}")
