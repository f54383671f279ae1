"""A self-contained HTML report (plus JSON) telling the story of a recipe's cut.

:func:`build_report` returns ``(html, data)``: the HTML opens offline (Plotly's JS is inlined, nothing
is fetched), every document text and name is HTML-escaped, and ``data`` holds the same numbers for
machines. Sections (stable ids, checked by a golden test): summary, recipe, rules, overlap, sources,
languages, distributions, map, samples; and contamination when a benchmark is registered.

The numbers come from the functions the dashboard calls: :func:`app.recipes.summarize` for the counts,
:func:`app.explore.histogram.histogram` for the distributions (the same bins as the Distributions page and the
Thresholds panel), :func:`app.recipes.edges.edge_documents` for the borderline documents (the same documents as
the panel's edge list). The HTML is the Jinja2 template ``template.html.j2`` (see :mod:`app.report.render`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from app.errors import ReportError, WinnowError
from app.report.render import KEPT_COLOR, REMOVED_COLOR, SECTIONS, render_html
from app.sql import is_number_type, qi
from app.workspace import fast_relation

__all__ = [
    "KEPT_COLOR",
    "REMOVED_COLOR",
    "SECTIONS",
    "build_data",
    "build_report",
    "render_html",
    "write_report",
]
TEXT_CHARS = 1200
#: bins of a numeric distribution: the Distributions page's count, so both draw the same bars
BINS = 60
#: the temp table of every document's checks and decision while the report is built
KEPT = "_winnow_report"


# ---------------------------------------------------------------------- data
def _kept_table(con: Any, comp: Any) -> None:
    """Temp table ``_winnow_report(id, _keep, _c0..)``: every document's checks and final decision."""
    from app.recipes.compile import used_params

    checks = ", ".join(f"coalesce({c.sql}, false) AS _c{c.index}" for c in comp.checks)
    if comp.has_stages:
        inner = comp.pipeline_sql(["id"], with_checks=True)
        sql = f"SELECT id, _keep{', ' + ', '.join(f'_c{c.index}' for c in comp.checks) if comp.checks else ''} FROM ({inner})"
        params = comp.stage_params()
    else:
        sql = f"SELECT id, coalesce({comp.where_sql}, false) AS _keep{', ' + checks if checks else ''} FROM {qi(comp.relation)}"
        params = comp.params
    con.execute(f"CREATE OR REPLACE TEMP TABLE {KEPT} AS {sql}", used_params(sql, params))


def _distributions(con: Any, comp: Any, rel: str) -> dict[str, Any]:
    """Per signal the recipe uses: numeric columns binned by the dashboard's histogram, before and after (the
    kept documents); other columns as their 30 most frequent values."""
    from app.explore.histogram import ALL, histogram

    out: dict[str, Any] = {}
    cols = [c for c in comp.recipe.signals_used() if c in comp.columns]
    for c in cols:
        t = comp.columns[c]
        if is_number_type(t) and not t.upper().startswith("BOOLEAN"):
            h = histogram(con, relation=rel, column=c, bins=BINS, keep=KEPT)
            if h.bins is None:
                out[c] = {"kind": "numeric", "edges": [], "before": [], "after": [], "missing": True}
                continue
            b = h.bins
            zeros = [0] * b.count
            out[c] = {
                "kind": "numeric",
                "edges": b.edges(),
                "before": h.counts.get(ALL, zeros),
                "after": (h.kept or {}).get(ALL, zeros),
                "non_null": b.values + b.skipped,
                "below": b.below,
                "above": b.above,
                "skipped": b.skipped,
            }
        else:
            rows = con.execute(
                f"SELECT CAST({qi(c)} AS VARCHAR) AS v, count(*) AS n, count(*) FILTER (WHERE k._keep)"
                f" FROM {qi(rel)} AS c JOIN {KEPT} AS k USING (id) GROUP BY v ORDER BY n DESC, v LIMIT 30"
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
        f"SELECT c.map_x, c.map_y, k._keep FROM {qi(rel)} AS c JOIN {KEPT} AS k USING (id)"
        f" WHERE c.map_x IS NOT NULL ORDER BY hash(c.id), c.id LIMIT {int(max_points)}"
    ).fetchall()
    return {"x": [r[0] for r in rows], "y": [r[1] for r in rows], "kept": [bool(r[2]) for r in rows]}


def _samples(con: Any, comp: Any, n: int) -> dict[str, Any]:
    from app.recipes.edges import edge_documents, has_cut

    tags = set(getattr(comp, "tags", ()) or ())  # annotated rules tag a kept document; they remove none
    labels = {c.index: c.label for c in comp.checks}
    flags = ", ".join(f"k._c{c.index}" for c in comp.checks)
    base = (
        f"SELECT c.id, c.source, left(c.text, {TEXT_CHARS}) AS text{', ' + flags if flags else ''}"
        f" FROM corpus AS c JOIN (SELECT * FROM {KEPT} WHERE _keep = $keep ORDER BY hash(id), id LIMIT $n) AS k"
        " USING (id) ORDER BY hash(c.id), c.id"
    )
    out: dict[str, Any] = {}
    for name, keep in (("kept", True), ("removed", False)):
        rows = con.execute(base, {"keep": keep, "n": n}).fetchall()
        docs = []
        for r in rows:
            failed = [labels[i] for i, f in enumerate(r[3:]) if not f and i not in tags]
            if not keep and not failed:
                failed = ["balancing / sampling"]
            docs.append({"id": r[0], "source": r[1], "text": r[2], "failed": failed})
        out[name] = docs
    # the dashboard's edge documents of every numeric cut, from the recipe compiled once
    out["borderline"] = [
        edge_documents(con, comp, c.index, n=max(1, n // 2 + 1), text_chars=TEXT_CHARS)
        for c in comp.checks
        if has_cut(c)
    ]
    return out


def _contamination(con: Any) -> dict[str, Any] | None:
    """Per benchmark, contaminated items and documents before and after the recipe (``None``: no benchmark)."""
    from app.decontam.report import before_after

    return before_after(con, keep_table=KEPT)


def build_data(
    ws: Any,
    recipe: Any,
    *,
    samples: int = 5,
    max_points: int = 20000,
    by: list[str] | None = None,
    compare: Any = None,
) -> dict[str, Any]:
    """The report's numbers (also ``report.json``). ``by``: columns to break retention down by (default: the
    map's clusters, when the workspace has a map; :mod:`app.report.categories`). ``compare``: another recipe
    (B) to compare this one with: adds the ``compare`` block and section (:mod:`app.report.compare`)."""
    from app import __version__
    from app.recipes import load_recipe, summarize
    from app.recipes.annotated import compile_counted
    from app.report.categories import default_columns, retention_by

    recipe = load_recipe(recipe)
    con = ws.cursor()
    comp = compile_counted(con, recipe)  # annotated rules tag, as the export applies them: never counted as drops
    summary = summarize(con, recipe, compiled=comp)
    summary.pop("elapsed_ms", None)
    categories = retention_by(con, recipe, comp, list(by) if by else default_columns(comp.columns))
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
            "categories": categories,
            "distributions": _distributions(con, comp, rel),
            "map": _map_points(con, comp, rel, max_points),
            "samples": _samples(con, comp, samples),
        }
        if recipe.transforms is not None:  # only with a transforms: section (app.report.transforms)
            from app.report.transforms import transforms_data

            data["transforms"] = transforms_data(con, recipe, keep_table=KEPT)
        if compare is not None:  # only when asked: the default report is unchanged
            from app.report.compare import compare_data

            data["compare"] = compare_data(con, recipe, compare, flipped=samples)
        decon = _contamination(con)
        if decon is not None:  # only with a registered benchmark: the default report is unchanged
            data["contamination"] = decon
        from app.learn.store import entries_for

        if models := entries_for(con, recipe.signals_used()):  # the trained models the recipe's rules read
            data["models"] = models
    except WinnowError:
        raise
    except Exception as e:
        raise ReportError(f"cannot build the report: {str(e).splitlines()[0]}") from e
    finally:
        con.execute(f"DROP TABLE IF EXISTS {KEPT}")
    return data


def build_report(
    ws: Any,
    recipe: Any,
    *,
    samples: int = 5,
    max_points: int = 20000,
    out: str | os.PathLike | None = None,
    by: list[str] | None = None,
    compare: Any = None,
) -> tuple[str, dict[str, Any]]:
    """``(html, data)`` for ``recipe`` over ``ws``: the dashboard's download button and ``winnow report``.
    With ``out``, also writes the HTML there and ``report.json`` beside it. ``by``, ``compare``: see
    :func:`build_data`."""
    data = build_data(ws, recipe, samples=samples, max_points=max_points, by=by, compare=compare)
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
