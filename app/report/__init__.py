"""A self-contained HTML report (plus JSON) telling the story of a recipe's cut.

:func:`build_report` returns ``(html, data)``: the HTML opens offline (Plotly's JS is inlined, nothing
is fetched), every document text and name is HTML-escaped, and ``data`` holds the same numbers for
machines. Sections (stable ids, checked by a golden test): summary, recipe, rules, overlap, sources,
languages, distributions, map, samples.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from app.errors import ReportError, WinnowError
from app.escaping import plotly_text as _pt
from app.sql import qi
from app.workspace import fast_relation

SECTIONS = [
    ("summary", "Summary"),
    ("recipe", "Recipe"),
    ("rules", "Removals per rule"),
    ("overlap", "Overlap of rules"),
    ("sources", "Per source"),
    ("languages", "Per language"),
    ("distributions", "Signal distributions, before and after"),
    ("map", "Map: kept and removed"),
    ("samples", "Sample documents"),
]
KEPT_COLOR = "#2a7ab0"
REMOVED_COLOR = "#b9b9b9"
TEXT_CHARS = 1200


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _pct(a: float | None) -> str:
    return "–" if a is None else f"{100 * a:.1f}%"


def _n(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) else _e(x)


def _table(headers: list[str], rows: list[list[Any]], *, cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fig_html(fig: Any, div_id: str) -> str:
    return fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False, "responsive": True}
    )


# ---------------------------------------------------------------------- data
def _kept_table(con: Any, comp: Any) -> None:
    """Temp table ``_winnow_report(id, _keep, _c0..)``: every document's checks and final decision."""
    checks = ", ".join(f"coalesce({c.sql}, false) AS _c{c.index}" for c in comp.checks)
    if comp.has_stages:
        inner = comp.pipeline_sql(["id"], with_checks=True)
        sql = f"SELECT id, _keep{', ' + ', '.join(f'_c{c.index}' for c in comp.checks) if comp.checks else ''} FROM ({inner})"
        params = comp.stage_params()
    else:
        sql = f"SELECT id, coalesce({comp.where_sql}, false) AS _keep{', ' + checks if checks else ''} FROM {qi(comp.relation)}"
        params = comp.params
    from app.recipes.compile import used_params

    con.execute(f"CREATE OR REPLACE TEMP TABLE _winnow_report AS {sql}", used_params(sql, params))


def _distributions(con: Any, comp: Any, rel: str, bins: int = 40) -> dict[str, Any]:
    from app.recipes.compile import _is_numeric

    out: dict[str, Any] = {}
    cols = [c for c in comp.recipe.signals_used() if c in comp.columns]
    for c in cols:
        t = comp.columns[c]
        col = qi(c)
        if _is_numeric(t) and not t.upper().startswith("BOOLEAN"):
            lo, hi, nn = con.execute(
                f"SELECT quantile_cont({col}, 0.005), quantile_cont({col}, 0.995), count({col}) FROM {qi(rel)}"
            ).fetchall()[0]
            if lo is None:
                out[c] = {"kind": "numeric", "edges": [], "before": [], "after": [], "missing": True}
                continue
            lo, hi = float(lo), float(hi)
            if hi <= lo:
                hi = lo + 1.0
            w = (hi - lo) / bins
            rows = con.execute(
                f"SELECT least(greatest(floor((CAST({col} AS DOUBLE) - $lo) / $w), 0), $nb - 1)::INTEGER AS b,"
                f" count(*), count(*) FILTER (WHERE k._keep) FROM {qi(rel)} AS c JOIN _winnow_report AS k USING (id)"
                f" WHERE {col} IS NOT NULL GROUP BY b ORDER BY b",
                {"lo": lo, "w": w, "nb": bins},
            ).fetchall()
            before, after = [0] * bins, [0] * bins
            for b, n1, n2 in rows:
                before[b], after[b] = int(n1), int(n2)
            out[c] = {
                "kind": "numeric",
                "edges": [lo + i * w for i in range(bins + 1)],
                "before": before,
                "after": after,
                "non_null": int(nn),
            }
        else:
            rows = con.execute(
                f"SELECT CAST({col} AS VARCHAR) AS v, count(*) AS n, count(*) FILTER (WHERE k._keep)"
                f" FROM {qi(rel)} AS c JOIN _winnow_report AS k USING (id) GROUP BY v ORDER BY n DESC, v LIMIT 30"
            ).fetchall()
            out[c] = {
                "kind": "categorical",
                "values": [r[0] for r in rows],
                "before": [int(r[1]) for r in rows],
                "after": [int(r[2]) for r in rows],
            }
    return out


def _map_points(con: Any, comp: Any, rel: str, max_points: int) -> dict[str, Any] | None:
    if "map_x" not in comp.columns or "map_y" not in comp.columns:
        return None
    rows = con.execute(
        f"SELECT c.map_x, c.map_y, k._keep FROM {qi(rel)} AS c JOIN _winnow_report AS k USING (id)"
        f" WHERE c.map_x IS NOT NULL ORDER BY hash(c.id), c.id LIMIT {int(max_points)}"
    ).fetchall()
    return {"x": [r[0] for r in rows], "y": [r[1] for r in rows], "kept": [bool(r[2]) for r in rows]}


def _samples(con: Any, comp: Any, n: int) -> dict[str, Any]:
    from app.recipes import borderline

    labels = {c.index: c.label for c in comp.checks}
    flags = ", ".join(f"k._c{c.index}" for c in comp.checks)
    base = (
        f"SELECT c.id, c.source, left(c.text, {TEXT_CHARS}) AS text{', ' + flags if flags else ''}"
        " FROM corpus AS c JOIN (SELECT * FROM _winnow_report WHERE _keep = $keep ORDER BY hash(id), id LIMIT $n) AS k"
        " USING (id) ORDER BY hash(c.id), c.id"
    )
    out: dict[str, Any] = {}
    for name, keep in (("kept", True), ("removed", False)):
        rows = con.execute(base, {"keep": keep, "n": n}).fetchall()
        docs = []
        for r in rows:
            failed = [labels[i] for i, f in enumerate(r[3:]) if not f]
            if not keep and not failed:
                failed = ["balancing / sampling"]
            docs.append({"id": r[0], "source": r[1], "text": r[2], "failed": failed})
        out[name] = docs
    border = []
    for c in comp.checks:
        if c.kind == "rule" and c.rule is not None and c.rule.kind in ("range", "quantile"):
            b = borderline(con, comp.recipe, c.index, n=max(1, n // 2 + 1), text_chars=TEXT_CHARS)
            border.append(b)
    out["borderline"] = border
    return out


def build_data(ws: Any, recipe: Any, *, samples: int = 5, max_points: int = 20000) -> dict[str, Any]:
    """The report's numbers (also ``report.json``)."""
    from app import __version__
    from app.recipes import compile_recipe, load_recipe, summarize

    recipe = load_recipe(recipe)
    con = ws.cursor()
    comp = compile_recipe(con, recipe)
    summary = summarize(con, recipe, compiled=comp)
    summary.pop("elapsed_ms", None)
    try:
        _kept_table(con, comp)
        rel = fast_relation(con)
        data = {
            "winnow_version": __version__,
            "workspace": str(ws.path),
            "fingerprint": ws.fingerprint(),
            "recipe": recipe.to_dict(),
            "recipe_yaml": recipe.to_yaml(),
            "summary": summary,
            "distributions": _distributions(con, comp, rel),
            "map": _map_points(con, comp, rel, max_points),
            "samples": _samples(con, comp, samples),
        }
    except WinnowError:
        raise
    except Exception as e:
        raise ReportError(f"cannot build the report: {str(e).splitlines()[0]}") from e
    finally:
        con.execute("DROP TABLE IF EXISTS _winnow_report")
    return data


# ---------------------------------------------------------------------- HTML
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2630;background:#fafbfc}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.meta{color:#5b6875;font-size:12px}.big{font-size:30px;font-weight:600}.cards{display:flex;gap:16px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:12px 16px;min-width:200px}
table{border-collapse:collapse;background:#fff;margin:8px 0}th,td{border:1px solid #dde3ea;padding:4px 8px;text-align:right}
th{background:#f0f3f6}td:first-child,th:first-child{text-align:left}
pre{background:#fff;border:1px solid #dde3ea;padding:10px;overflow:auto;white-space:pre-wrap}
.doc{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:8px 10px;margin:6px 0}
.doc .t{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px;max-height:180px;overflow:auto}
.kept{border-left:4px solid #2a7ab0}.removed{border-left:4px solid #c0392b}.tag{color:#5b6875;font-size:12px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
"""


def _doc_html(d: dict[str, Any], cls: str, extra: str = "") -> str:
    why = f" — removed by: {_e('; '.join(d.get('failed') or []))}" if cls == "removed" and d.get("failed") else ""
    return (
        f'<div class="doc {cls}"><div class="tag">{_e(d["id"])} · {_e(d["source"])}{extra}{why}</div>'
        f'<div class="t">{_e(d["text"])}</div></div>'
    )


def render_html(data: dict[str, Any]) -> str:
    """The single-file HTML for ``data`` (from :func:`build_data`)."""
    try:
        import plotly.graph_objects as go
        from plotly.offline import get_plotlyjs
    except ImportError as e:
        raise ReportError("the report needs the package 'plotly': pip install plotly") from e
    s = data["summary"]
    parts: list[str] = []
    title = data["recipe"].get("name") or "recipe"

    # summary
    cards = (
        f'<div class="cards"><div class="card"><div class="tag">documents kept</div><div class="big">'
        f"{_pct(s['kept_frac'])}</div>{_n(s['kept_docs'])} of {_n(s['total_docs'])}</div>"
        f'<div class="card"><div class="tag">tokens kept ({_e(s["token_column"])})</div><div class="big">'
        f"{_pct(s['kept_tokens_frac'])}</div>{_n(s['kept_tokens'])} of {_n(s['total_tokens'])}</div>"
        f'<div class="card"><div class="tag">rules and dedup steps</div><div class="big">{len(s["rules"])}</div>'
        f"{len(data['recipe'].get('balance', []))} balancing, {'1' if 'sample' in data['recipe'] else '0'} sampling"
        "</div></div>"
    )
    stages = _table(
        ["stage", "documents kept", "tokens kept"],
        [[_e(x["stage"]), _n(x["kept"]), _n(x["kept_tokens"])] for x in s["stages"]],
    )
    parts.append(("summary", cards + stages))

    parts.append(("recipe", f"<pre>{_e(data['recipe_yaml'])}</pre>"))

    # rules
    rules = s["rules"]
    rows = [
        [
            _e(r["label"]),
            _e(r["kind"]),
            _n(r["removed"]),
            _pct(r["removed_frac"]),
            _n(r["removed_only"]),
            _n(r["removed_tokens"]),
        ]
        for r in rules
    ]
    body = _table(["rule", "kind", "removes", "of all", "removes only this rule", "tokens removed"], rows)
    if rules:
        fig = go.Figure()
        labels = [_pt(r["label"][:60]) for r in rules]  # category values are Plotly rich text: escaped
        fig.add_bar(
            y=labels, x=[r["removed"] for r in rules], orientation="h", name="removed (alone)", marker_color="#e39c8f"
        )
        fig.add_bar(
            y=labels,
            x=[r["removed_only"] for r in rules],
            orientation="h",
            name="removed only by this rule",
            marker_color="#c0392b",
        )
        fig.update_layout(
            barmode="overlay",
            height=120 + 40 * len(rules),
            margin={"l": 10, "r": 10, "t": 30, "b": 30},
            yaxis={"autorange": "reversed"},
            legend={"orientation": "h"},
        )
        body += _fig_html(fig, "fig-rules")
    parts.append(("rules", body))

    # overlap
    if rules:
        labels = [f"{r['index']}: {r['label'][:40]}" for r in rules]
        fig = go.Figure(
            go.Heatmap(
                z=s["overlap"], x=[f"rule {r['index']}" for r in rules], y=[_pt(x) for x in labels], colorscale="Reds"
            )
        )
        fig.update_layout(
            height=200 + 40 * len(rules), margin={"l": 10, "r": 10, "t": 20, "b": 10}, yaxis={"autorange": "reversed"}
        )
        ov = _table(
            ["removed by both", *[str(r["index"]) for r in rules]],
            [[_e(lab), *[_n(v) for v in row]] for lab, row in zip(labels, s["overlap"], strict=True)],
        )
        parts.append(
            (
                "overlap",
                "<p>Documents removed by both rules (diagonal: by the rule alone).</p>"
                + ov
                + _fig_html(fig, "fig-overlap"),
            )
        )
    else:
        parts.append(("overlap", "<p>No rules.</p>"))

    # sources / languages
    for sec, key, name in (("sources", "by_source", "source"), ("languages", "by_lang", "lang")):
        tab = s[key]
        if not tab:
            parts.append((sec, "<p>No language column (run <code>winnow score</code> with language id).</p>"))
            continue
        rows = [
            [
                _e(x[name]),
                _n(x["total"]),
                _n(x["kept"]),
                _pct(x["kept_frac"]),
                _n(x["total_tokens"]),
                _n(x["kept_tokens"]),
                _pct(x["kept_tokens_frac"]),
            ]
            for x in tab
        ]
        t = _table([name, "docs before", "docs after", "kept", "tokens before", "tokens after", "tokens kept"], rows)
        top = tab[:30]
        fig = go.Figure()
        xs = [_pt(x[name]) for x in top]
        fig.add_bar(x=xs, y=[x["total"] for x in top], name="before", marker_color=REMOVED_COLOR)
        fig.add_bar(x=xs, y=[x["kept"] for x in top], name="after", marker_color=KEPT_COLOR)
        fig.update_layout(
            barmode="overlay", height=320, margin={"l": 10, "r": 10, "t": 20, "b": 10}, legend={"orientation": "h"}
        )
        parts.append((sec, t + _fig_html(fig, f"fig-{sec}")))

    # distributions
    dist = data["distributions"]
    figs = []
    for i, (col, d) in enumerate(dist.items()):
        fig = go.Figure()
        if d["kind"] == "numeric":
            if not d["edges"]:
                figs.append(f"<p>{_e(col)}: no values.</p>")
                continue
            mids = [(a + b) / 2 for a, b in zip(d["edges"][:-1], d["edges"][1:], strict=True)]
            fig.add_bar(x=mids, y=d["before"], name="before", marker_color=REMOVED_COLOR)
            fig.add_bar(x=mids, y=d["after"], name="after", marker_color=KEPT_COLOR)
        else:
            fig.add_bar(x=[_pt(v) for v in d["values"]], y=d["before"], name="before", marker_color=REMOVED_COLOR)
            fig.add_bar(x=[_pt(v) for v in d["values"]], y=d["after"], name="after", marker_color=KEPT_COLOR)
        fig.update_layout(
            barmode="overlay",
            bargap=0.02,
            height=260,
            title={"text": _pt(col), "x": 0.01},
            margin={"l": 10, "r": 10, "t": 40, "b": 10},
            legend={"orientation": "h"},
        )
        figs.append(_fig_html(fig, f"fig-dist-{i}"))
    parts.append(("distributions", f'<div class="grid">{"".join(figs)}</div>' if figs else "<p>No signals used.</p>"))

    # map
    m = data.get("map")
    if m and m["x"]:
        fig = go.Figure()
        for keep, name, color in ((False, "removed", REMOVED_COLOR), (True, "kept", KEPT_COLOR)):
            xs = [x for x, k in zip(m["x"], m["kept"], strict=True) if k == keep]
            ys = [y for y, k in zip(m["y"], m["kept"], strict=True) if k == keep]
            fig.add_scattergl(x=xs, y=ys, mode="markers", name=name, marker={"size": 3, "color": color})
        fig.update_layout(
            height=560,
            margin={"l": 10, "r": 10, "t": 20, "b": 10},
            legend={"orientation": "h"},
            xaxis={"visible": False},
            yaxis={"visible": False},
        )
        parts.append(("map", f"<p>{len(m['x']):,} documents (a deterministic sample).</p>" + _fig_html(fig, "fig-map")))
    else:
        parts.append(("map", "<p>No map in this workspace (run <code>winnow map</code>).</p>"))

    # samples
    sm = data["samples"]
    body = "<h3>Kept</h3>" + "".join(_doc_html(d, "kept") for d in sm["kept"])
    body += "<h3>Removed</h3>" + "".join(_doc_html(d, "removed") for d in sm["removed"])
    for b in sm["borderline"]:
        body += f'<h3>Borderline: {_e(b["rule"])} (threshold {_e(b["threshold"])})</h3><div class="grid"><div>'
        body += "".join(
            _doc_html(d, "kept" if b["bound"] == "min" else "removed", f" · value {_e(d['value'])}") for d in b["above"]
        )
        body += "</div><div>"
        body += "".join(
            _doc_html(d, "removed" if b["bound"] == "min" else "kept", f" · value {_e(d['value'])}") for d in b["below"]
        )
        body += "</div></div>"
    parts.append(("samples", body))

    bodies = dict(parts)
    sections = "".join(
        f'<section id="{sid}"><h2>{_e(head)}</h2>{bodies.get(sid, "")}</section>' for sid, head in SECTIONS
    )
    nav = " · ".join(f'<a href="#{sid}">{_e(head)}</a>' for sid, head in SECTIONS)
    meta = (
        f"workspace {_e(data['workspace'])} · fingerprint {_e(data['fingerprint'])} · "
        f"Winnow {_e(data['winnow_version'])}"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>Winnow report: {_e(title)}</title>'
        f'<style>{_CSS}</style><script type="text/javascript">{get_plotlyjs()}</script></head><body><main>'
        f'<h1>Winnow report: {_e(title)}</h1><div class="meta">{meta}</div><nav class="meta">{nav}</nav>'
        f"{sections}</main></body></html>"
    )


def build_report(
    ws: Any, recipe: Any, *, samples: int = 5, max_points: int = 20000, out: str | os.PathLike | None = None
) -> tuple[str, dict[str, Any]]:
    """``(html, data)`` for ``recipe`` over ``ws``: the dashboard's download button and ``winnow report``.
    With ``out``, also writes the HTML there and ``report.json`` beside it."""
    data = build_data(ws, recipe, samples=samples, max_points=max_points)
    html_text = render_html(data)
    if out is not None:
        _write(Path(out), html_text, data)
    return html_text, data


def _write(out: Path, html_text: str, data: dict[str, Any]) -> Path:
    jpath = out.with_suffix(".json")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(html_text, encoding="utf-8")
        tmp.replace(out)
        jpath.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    except OSError as e:
        raise ReportError(f"cannot write the report to {out}: {e.strerror}") from e
    return jpath


def write_report(ws: Any, recipe: Any, out: str | os.PathLike, **kw: Any) -> dict[str, Any]:
    """Write ``out`` (HTML) and ``out`` with ``.json`` beside it; returns ``{html, json, bytes}``."""
    out = Path(out)
    html_text, data = build_report(ws, recipe, **kw)
    jpath = _write(out, html_text, data)
    return {"html": str(out), "json": str(jpath), "bytes": out.stat().st_size}
