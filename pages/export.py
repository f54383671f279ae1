"""Export: pick a saved recipe, preview what it keeps, export the documents and download the HTML report."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.errors import WinnowError
from app.escaping import md_text
from app.explore import view_state
from app.ui import widgets


def _export_summary(result: dict) -> str:
    """One line a person reads after an export: what was written where (the full manifest is in the folder)."""
    m = result.get("manifest") or {}
    counts, files = m.get("counts") or {}, m.get("files") or []
    return (
        f"Last export: {counts.get('kept_docs', 0):,} documents, {counts.get('kept_tokens', 0):,} tokens, "
        f"{len(files)} {m.get('format', '')} file{'s' if len(files) != 1 else ''} in {result.get('out')} "
        "(__winnow__/manifest.json beside them lists every file with its sha256)"
    )


widgets.page_header("Export", "Apply a saved recipe: the same selection as on Thresholds, written to files.")
ws = widgets.current_workspace()
ss = st.session_state

from app.recipes import get_recipe, list_recipes, summarize  # noqa: E402

saved = [r["name"] for r in list_recipes(ws)]
choices = [*saved, "(current rules on Thresholds)"]
cur_name = ss.get("recipe") if ss.get("recipe") in choices else choices[0]
name = st.selectbox("Recipe", choices, index=choices.index(cur_name), key="w_exp_recipe")
if name in saved:
    ss["recipe"] = name
    recipe = get_recipe(ws, name)
else:
    from app.explore.recipe_bridge import recipe_from_rules

    recipe = recipe_from_rules(ss.get("rules") or [], name="dashboard", base=ss.get("recipe_base"))
if not saved:
    st.caption("No saved recipe yet: save one on the Thresholds page (the current rules are used meanwhile).")

widgets.jobs_panel(ws)
try:
    s = summarize(ws.cursor(), recipe)
except WinnowError as e:
    st.error(str(e))
    st.stop()
c = st.columns(3)
c[0].metric(
    "Kept documents",
    f"{s['kept_docs']:,}",
    f"{widgets.fmt_pct(s['kept_docs'], s['total_docs'])} of {s['total_docs']:,}",
    delta_color="off",
    delta_arrow="off",
)
c[1].metric(  # a share kept, not a change: no arrow (an up arrow read as a gain for a 92% reduction)
    "Kept tokens",
    f"{s['kept_tokens']:,}",
    f"{widgets.fmt_pct(s['kept_tokens'], s['total_tokens'])} of {s['total_tokens']:,}",
    delta_color="off",
    delta_arrow="off",
)
c[2].metric("Rules", len(s["rules"]))
if len(s.get("stages", [])) > 2:  # after each stage (rules, dedup, balance, sample), and what fell short
    st.caption(" → ".join(f"{x['stage']} {x['kept']:,}" for x in s["stages"]))
for msg in s.get("shortfalls", []):
    st.warning(md_text(msg))
# an HTML table (bars for the fractions), not a data grid: the grid's 1.3 MB of JavaScript, compiled by a new
# session's browser, delayed the kept-count metric above by about a second
st.html(
    widgets.table_html(
        s["by_source"],
        {
            "source": "source",
            "total": "documents",
            "kept": "kept",
            "removed": "removed",
            "kept_frac": "kept %",
            "total_tokens": "tokens",
            "kept_tokens": "kept tokens",
            "kept_tokens_frac": "kept tokens %",
        },
        bars=("kept_frac", "kept_tokens_frac"),
        limit=200,
    )
)
with st.expander("recipe YAML"):
    st.code(recipe.to_yaml(), language="yaml")
    st.download_button(
        "download recipe.yaml", recipe.to_yaml(), file_name=f"{name}.yaml".replace(" ", "_"), key="dl_recipe"
    )

st.subheader("Export documents")
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
default_out = str(Path(ws.path) / "exports" / (ss.get("recipe") or "dashboard"))
out = c1.text_input("Output directory", value=default_out, key="w_exp_out")
fmt = c2.selectbox("Format", ["parquet", "jsonl", "jsonl.gz", "jsonl.zst", "hf"], key="w_exp_fmt")
overwrite = st.checkbox("replace the output directory if it exists", key="w_exp_overwrite")
busy = widgets.job_registry().running(str(ws.path.resolve())) is not None
if st.button("Export", key="btn_export", type="primary", disabled=busy):

    def run(progress, recipe=recipe, out=out, fmt=fmt, overwrite=overwrite):
        from app.export import apply

        return {"out": out, "manifest": apply(ws, recipe, out, fmt=fmt, overwrite=overwrite, progress=progress)}

    try:
        widgets.job_registry().start(f"Export to {out}", str(ws.path.resolve()), run)
        st.rerun()
    except WinnowError as e:
        st.error(str(e))
last = next((j for j in widgets.job_registry().recent(str(ws.path.resolve())) if j.name.startswith("Export")), None)
if last is not None and last.status == "done" and isinstance(last.result, dict):
    st.caption(md_text(_export_summary(last.result)))

st.subheader("Report")
if st.button("Build the HTML report", key="btn_report"):
    try:
        from app.report import build_report

        path = Path(ws.path) / "reports" / f"{ss.get('recipe') or 'dashboard'}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        with st.spinner("building the report…"):
            build_report(ws, recipe, out=path)
        ss["_report_path"] = str(path)
        st.success(md_text(f"report written to {path} (and {path.with_suffix('.json').name} beside it)"))
    except (WinnowError, ImportError) as e:
        st.error(f"cannot build the report: {e}")
rp = ss.get("_report_path")
if rp and Path(rp).exists():
    st.download_button(
        "download the report (self-contained HTML)",
        Path(rp).read_bytes(),
        file_name=Path(rp).name,
        mime="text/html",
        key="dl_report",
    )
view_state.sync_to_url(st.query_params, ss)
