"""The report's HTML: :func:`render_html` fills ``template.html.j2`` (Jinja2, autoescape on) from the report data.

Python prepares plain values (numbers formatted as text, documents, Plotly figures); the template holds every
tag. Every value is HTML-escaped on output (``_finalize``: quotes too), so a document text, id, source, label or
recipe name shows as its own characters. The figures are Plotly's HTML; the texts inside them are escaped for
Plotly's rich-text parser (:func:`app.escaping.plotly_text`).

One report, whoever builds it: every figure names its own Plotly template, fonts, margins and axis automargins
(:func:`_new`), so ``plotly.io.templates.default`` -- which importing Streamlit sets to its own theme, with no
automargin (clipped tick labels) -- cannot change what the dashboard's download shows against ``winnow report``.
Rules are numbered from 1 (``1. label``) as in the Thresholds panel, a missing group or value reads ``(none)``
in tables and charts alike (the dashboard's name), and measured values are shown to 4 significant digits.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from typing import Any

from app.errors import ReportError
from app.escaping import plotly_text as _pt

SECTIONS = [
    ("summary", "Summary"),
    ("recipe", "Recipe"),
    ("rules", "Removals per rule"),
    ("overlap", "Overlap of rules"),
    ("by_group", "Removals per rule, by language"),
    ("sources", "Per source"),
    ("languages", "Per language"),
    ("categories", "Retention by category"),
    ("distributions", "Signal distributions, before and after"),
    ("map", "Map: kept and removed"),
    ("samples", "Sample documents"),
]
#: shown only when the workspace has a registered benchmark (after the rules, before the distributions)
CONTAMINATION = ("contamination", "Contamination (benchmarks)")
#: shown only when a rule reads a trained model's column (clf_*, ppl_*, dsir_*...), right after the recipe
MODELS = ("models", "Trained models behind the rules")
KEPT_COLOR = "#2a7ab0"
REMOVED_COLOR = "#b9b9b9"
TEMPLATE = Path(__file__).with_name("template.html.j2")
#: the Plotly template every figure names (never ``plotly.io.templates.default``: the process must not matter)
PLOTLY_TEMPLATE = "plotly_white"
#: the page's font (see ``_CSS``), so the figures' texts match the tables around them
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#1d2630"}
#: what a missing group or value is called, here and in the dashboard (app.explore.queries)
NONE = "(none)"
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2630;background:#fafbfc}
main{max-width:1180px;margin:0 auto;padding:24px}
.warn{background:#fff4e5;border-left:4px solid #e8890c;padding:6px 10px}
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


def _pct(a: float | None) -> str:
    return "–" if a is None else f"{100 * a:.1f}%"


def _n(x: Any) -> Any:
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else x


def _g4(v: Any) -> str:
    """A measured value for reading: 4 significant digits (the panel's ``g4``), integers whole, text as is."""
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, int):
        return str(v)
    r = float(f"{v:.4g}")
    return str(int(r)) if r.is_integer() and abs(r) < 1e15 else repr(r)


def _name(v: Any) -> str:
    """A group or category value as tables and charts show it: a missing one is ``(none)``."""
    return NONE if v is None else str(v)


def _numbers(rules: list[dict[str, Any]]) -> dict[Any, int]:
    """Each rule's number as the dashboard shows it (from 1, in the recipe's order), by its check index."""
    return {r["index"]: i for i, r in enumerate(rules, 1)}


@cache
def _env() -> Any:
    try:
        import jinja2
        from markupsafe import Markup
    except ImportError as e:
        raise ReportError("the report needs the package 'jinja2': pip install jinja2") from e

    def finalize(v: Any) -> Any:
        # every value escaped here (quotes as &quot;/&#x27;), trusted markup (figures, CSS, Plotly) passes
        if isinstance(v, Markup):
            return v
        return Markup(html.escape("" if v is None else str(v), quote=True))

    env = jinja2.Environment(autoescape=True, finalize=finalize, undefined=jinja2.StrictUndefined)
    try:
        return env.from_string(TEMPLATE.read_text(encoding="utf-8")), Markup
    except OSError as e:
        raise ReportError(f"the report template is missing ({TEMPLATE}): reinstall Winnow") from e


def _figures() -> tuple[Any, Any]:
    try:
        import plotly.graph_objects as go
        from plotly.offline import get_plotlyjs
    except ImportError as e:
        raise ReportError("the report needs the package 'plotly': pip install plotly") from e
    return go, get_plotlyjs


def _new(go: Any) -> Any:
    """An empty figure with the report's own template, font, margins and automargins: the layout is then the
    same whatever ``plotly.io.templates.default`` the building process has (Streamlit sets its own)."""
    axis = {"automargin": True}
    return go.Figure(
        layout={
            "template": PLOTLY_TEMPLATE,
            "font": FONT,
            "margin": {"l": 10, "r": 10, "t": 30, "b": 10, "pad": 2},
            "xaxis": axis,
            "yaxis": axis,
            "legend": {"orientation": "h"},
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
        }
    )


def _fig(fig: Any, div_id: str, markup: Any) -> Any:
    return markup(
        fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False, "responsive": True}
        )
    )


def _before_after(go: Any, xs: list, before: list, after: list) -> Any:
    fig = _new(go)
    fig.add_bar(x=xs, y=before, name="before", marker_color=REMOVED_COLOR)
    fig.add_bar(x=xs, y=after, name="after", marker_color=KEPT_COLOR)
    return fig


def _rules(go: Any, s: dict[str, Any], markup: Any) -> dict[str, Any]:
    rules = s["rules"]
    num = _numbers(rules)
    rows = [
        [
            f"{num[r['index']]}. {r['label']}",
            r["kind"],
            _n(r["removed"]),
            _pct(r["removed_frac"]),
            _n(r["removed_only"]),
            _n(r["removed_tokens"]),
        ]
        if not r.get("annotate")
        else [  # annotate: the rule tags the kept documents failing it (the export's control token / column)
            f"{num[r['index']]}. {r['label']}",
            f"{r['kind']}, annotate: tags instead of removing",
            f"0 (tags {_n(r['tagged'])} kept)",
            _pct(0.0),
            _n(0),
            f"0 ({_n(r['tagged_tokens'])} tagged)",
        ]
        for r in rules
    ]
    if not rules:
        return {"rows": rows, "figure": ""}
    fig = _new(go)
    labels = [_pt(f"{num[r['index']]}. {r['label'][:60]}") for r in rules]  # Plotly rich text: escaped
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
    fig.update_layout(barmode="overlay", height=120 + 40 * len(rules), yaxis={"autorange": "reversed"})
    return {"rows": rows, "figure": _fig(fig, "fig-rules", markup)}


def _overlap(go: Any, s: dict[str, Any], markup: Any) -> dict[str, Any] | None:
    """The panel's overlap matrix: rows ``1. label``, columns numbered as the rows."""
    rules = s["rules"]
    if not rules:
        return None
    num = _numbers(rules)
    labels = [f"{num[r['index']]}. {r['label'][:40]}" for r in rules]
    fig = _new(go)
    fig.add_heatmap(
        z=s["overlap"],
        x=[f"rule {num[r['index']]}" for r in rules],
        y=[_pt(x) for x in labels],
        colorscale="Reds",
        hovertemplate="%{y} and %{x}: %{z:,} documents<extra></extra>",
    )
    fig.update_layout(height=200 + 40 * len(rules), yaxis={"autorange": "reversed"}, xaxis={"side": "top"})
    return {
        "headers": ["removed by both", *[str(num[r["index"]]) for r in rules]],
        "rows": [[lab, *[_n(v) for v in row]] for lab, row in zip(labels, s["overlap"], strict=True)],
        "figure": _fig(fig, "fig-overlap", markup),
    }


def _by_group(s: dict[str, Any], *, top: int = 10) -> dict[str, Any] | None:
    """Each rule's removals in each of the largest groups (language by default): "removed % (only %)", where
    "only" is what would come back if the rule were dropped (the panel's rule x language table)."""
    groups = (s.get("by_lang") or s.get("by_group") or [])[:top]
    num = _numbers(s["rules"])
    rules = [r for r in s["rules"] if r.get("by_group")]
    if not groups or not rules:
        return None
    key = "lang" if s.get("by_lang") else "group"
    rows = []
    for r in rules:
        at = {g["group"]: g for g in r["by_group"]}
        cells = []
        for g in groups:
            x = at.get(g[key], {"removed": 0, "only": 0})
            tot = g["total"] or None
            cells.append(f"{_pct(x['removed'] / tot if tot else None)} ({_pct(x['only'] / tot if tot else None)} only)")
        rows.append([f"{num[r['index']]}. {r['label'][:60]}", *cells])
    return {"headers": ["rule", *[_name(g[key]) for g in groups]], "rows": rows}


def _group(go: Any, tab: list[dict[str, Any]], sec: str, name: str, markup: Any) -> dict[str, Any] | None:
    if not tab:
        return None
    keys = ("total", "kept", "kept_frac", "total_tokens", "kept_tokens", "kept_tokens_frac")
    rows = [[_name(x[name]), *[_pct(x[k]) if k.endswith("frac") else _n(x[k]) for k in keys]] for x in tab]
    top = tab[:30]
    xs = [_pt(_name(x[name])) for x in top]
    fig = _before_after(go, xs, [x["total"] for x in top], [x["kept"] for x in top])
    fig.update_layout(barmode="overlay", height=320, xaxis={"type": "category"})
    headers = [name, "docs before", "docs after", "kept", "tokens before", "tokens after", "tokens kept"]
    return {"headers": headers, "rows": rows, "figure": _fig(fig, f"fig-{sec}", markup)}


def _categories(go: Any, cats: list[dict[str, Any]], markup: Any) -> list[dict[str, Any]]:
    """Per column: the table of :func:`app.report.categories.table` and its before/after bars (30 largest)."""
    from app.report.categories import table

    out = []
    for i, c in enumerate(cats):
        top = c["groups"][:30]
        fig = _before_after(
            go, [_pt(_name(x["group"])) for x in top], [x["total"] for x in top], [x["kept"] for x in top]
        )
        fig.update_layout(barmode="overlay", height=320, xaxis={"type": "category"})
        out.append({**table(c, none=NONE), "figure": _fig(fig, f"fig-categories{i}", markup)})
    return out


def _note(d: dict[str, Any]) -> str:
    """What the edge bars hold beyond the axis, and what could not be drawn (see app.explore.histogram)."""
    parts = []
    if d.get("below"):
        parts.append(f"the first bar also counts {d['below']:,} values below {_g4(d['edges'][0])}")
    if d.get("above"):
        parts.append(f"the last bar also counts {d['above']:,} values above {_g4(d['edges'][-1])}")
    if d.get("skipped"):
        parts.append(f"{d['skipped']:,} values are not finite and not drawn")
    return "; ".join(parts)


def _distributions(go: Any, dist: dict[str, Any], markup: Any) -> list[dict[str, Any]]:
    out = []
    for i, (col, d) in enumerate(dist.items()):
        if d["kind"] == "numeric":
            if not d["edges"]:
                out.append({"column": col, "figure": None, "note": ""})
                continue
            mids = [(a + b) / 2 for a, b in zip(d["edges"][:-1], d["edges"][1:], strict=True)]
            fig = _before_after(go, mids, d["before"], d["after"])
            fig.update_traces(hovertemplate="%{x:.4g}: %{y:,}")
            fig.update_xaxes(tickformat="~g")
        else:
            fig = _before_after(go, [_pt(_name(v)) for v in d["values"]], d["before"], d["after"])
            fig.update_xaxes(type="category")
        fig.update_layout(
            barmode="overlay", bargap=0.02, height=260, title={"text": _pt(col), "x": 0.01}, margin={"t": 40}
        )
        out.append({"column": col, "figure": _fig(fig, f"fig-dist-{i}", markup), "note": _note(d)})
    return out


def _map(go: Any, m: dict[str, Any] | None, markup: Any) -> dict[str, Any] | None:
    if not m or not m["x"]:
        return None
    fig = _new(go)
    for keep, name, color in ((False, "removed", REMOVED_COLOR), (True, "kept", KEPT_COLOR)):
        xs = [x for x, k in zip(m["x"], m["kept"], strict=True) if k == keep]
        ys = [y for y, k in zip(m["y"], m["kept"], strict=True) if k == keep]
        fig.add_scattergl(x=xs, y=ys, mode="markers", name=name, marker={"size": 3, "color": color})
    fig.update_layout(height=560, xaxis={"visible": False}, yaxis={"visible": False})
    return {"points": f"{len(m['x']):,}", "figure": _fig(fig, "fig-map", markup)}


def _doc(d: dict[str, Any], *, value: bool = False) -> dict[str, Any]:
    extra = f" · value {_g4(d.get('value'))}" if value else ""
    return {
        "id": d["id"],
        "source": d["source"],
        "text": d["text"],
        "failed": "; ".join(d.get("failed") or []),
        "extra": extra,
    }


def _samples(sm: dict[str, Any], num: dict[Any, int]) -> dict[str, Any]:
    edges = []
    for b in sm["borderline"]:
        low = b["bound"] == "min"  # a minimum keeps the documents above it
        n = num.get(b.get("index"))
        edges.append(
            {
                "rule": b["rule"] if n is None else f"{n}. {b['rule']}",
                "threshold": _g4(b["threshold"]),
                "above": [_doc(d, value=True) for d in b["above"]],
                "below": [_doc(d, value=True) for d in b["below"]],
                "above_cls": "kept" if low else "removed",
                "below_cls": "removed" if low else "kept",
            }
        )
    return {"kept": [_doc(d) for d in sm["kept"]], "removed": [_doc(d) for d in sm["removed"]], "edges": edges}


def _contamination(c: dict[str, Any] | None) -> dict[str, Any] | None:
    """Table rows of the contamination section: per benchmark, then the most contaminated items."""
    if c is None:
        return None
    rows = [
        [b["name"], _n(b["items"]), _n(b["items_before"]), _n(b["items_after"]), _n(b["documents_before"]),
         _n(b["documents_after"])]
        for b in c["benchmarks"]
    ]  # fmt: skip
    items = [[x["benchmark"], x["item_id"], _n(x["documents_before"]), _n(x["documents_after"])] for x in c["items"]]
    return {"computed": c["computed"], "rows": rows, "top": items}


def _models(models: list[dict[str, Any]] | None) -> list[list[Any]] | None:
    """Rows of the models section: name, kind, digest, what it was trained on and its held-out quality."""
    if not models:
        return None
    rows = []
    for m in models:
        st, me = m.get("settings") or {}, m.get("metrics") or {}
        on = (
            st.get("on")
            or " vs ".join(str(x) for x in (st.get("positive"), st.get("negative")) if x)
            or st.get("target")
            or ""
        )
        quality = (f"AUC {_g4(me['auc'])} {me.get('auc_ci95') or ''}, AP {_g4(me.get('ap'))} (k-fold, held out)"
                   if me.get("auc") is not None else "")  # fmt: skip
        rows.append([m["name"], m["kind"], m["digest"], ", ".join(m.get("columns") or []), on, quality])  # fmt: skip
    return rows


def render_html(data: dict[str, Any]) -> str:
    """The single-file HTML for ``data`` (from :func:`app.report.build_data`)."""
    go, get_plotlyjs = _figures()
    template, markup = _env()
    s = data["summary"]
    summary = {
        "kept_pct": _pct(s["kept_frac"]),
        "kept_docs": _n(s["kept_docs"]),
        "total_docs": _n(s["total_docs"]),
        "token_column": s["token_column"],
        "kept_tokens_pct": _pct(s["kept_tokens_frac"]),
        "kept_tokens": _n(s["kept_tokens"]),
        "total_tokens": _n(s["total_tokens"]),
        "checks": len(s["rules"]),
        "balancing": len(data["recipe"].get("balance", [])),
        "sampling": 1 if "sample" in data["recipe"] else 0,
        "stages": [
            [x.get("label") or x["stage"], _n(x["kept"]), _n(x.get("removed", 0)), _n(x["kept_tokens"])]
            for x in s["stages"]
        ],
        "shortfalls": s.get("shortfalls", []),
    }
    decon = _contamination(data.get("contamination"))
    sections = list(SECTIONS)
    if decon is not None:
        sections.insert([sid for sid, _ in SECTIONS].index("by_group") + 1, CONTAMINATION)
    models = _models(data.get("models"))
    if models is not None:
        sections.insert([sid for sid, _ in sections].index("recipe") + 1, MODELS)
    from app.report.compare import SECTION as COMPARE
    from app.report.compare import compare_view
    from app.report.transforms import SECTION as TRANSFORMS
    from app.report.transforms import transforms_view

    transforms = transforms_view(data.get("transforms"))
    if transforms is not None:  # only for a recipe with cleaning transforms, right after the recipe
        sections.insert([sid for sid, _ in sections].index("recipe") + 1, TRANSFORMS)
    compare = compare_view(data.get("compare"))
    if compare is not None:  # only when built with another recipe to compare with, right after the summary
        sections.insert([sid for sid, _ in sections].index("summary") + 1, COMPARE)
    return template.render(
        title=data["recipe"].get("name") or "recipe",
        workspace=data["workspace"],
        fingerprint=data["fingerprint"],
        version=data["winnow_version"],
        css=markup(_CSS),
        plotly_js=markup(get_plotlyjs()),
        sections=sections,
        headings=dict(sections),
        summary=summary,
        recipe_yaml=data["recipe_yaml"],
        rules=_rules(go, s, markup),
        overlap=_overlap(go, s, markup),
        by_group=_by_group(s),
        groups=[
            ("sources", _group(go, s["by_source"], "sources", "source", markup)),
            ("languages", _group(go, s["by_lang"], "languages", "lang", markup)),
        ],
        categories=_categories(go, data.get("categories") or [], markup),
        distributions=_distributions(go, data["distributions"], markup),
        map=_map(go, data.get("map"), markup),
        samples=_samples(data["samples"], _numbers(s["rules"])),
        contamination=decon,
        models=models,
        compare=compare,
        transforms=transforms,
    )
