"""Shared dashboard pieces: the open workspace, cached aggregate queries, job buttons with progress,
"what is missing" notices, safe document rendering. Pages stay thin by calling these."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import streamlit as st

from app.errors import WinnowError
from app.errors_io import WorkspaceBusy, storage_error
from app.escaping import md_text
from app.explore import queries
from app.explore.highlight import highlighted_html
from app.explore.jobs import JobRegistry
from app.ui import db
from app.workspace import DB_FILE, Workspace

CSS = """
<style>
.w-doc {font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.85rem; white-space: pre-wrap;
        word-break: break-word; background: #fafaf7; border: 1px solid #e6e6e0; border-radius: 6px;
        padding: 0.6rem 0.8rem; max-height: 28rem; overflow-y: auto; line-height: 1.45;}
.w-doc .w-rep {background: #fde2e1;} .w-doc .w-c4 {background: #fff3c4;}
.w-snip {font-family: ui-monospace, monospace; font-size: 0.8rem; white-space: pre-wrap; word-break: break-word;
         background: #f6f6f2; border-left: 3px solid #2f6f4f; padding: 0.3rem 0.5rem; margin-bottom: 0.4rem;
         max-height: 7.5rem; overflow: hidden;}
.w-snip.below {border-left-color: #b5523b;}
.w-meta {color: #666; font-size: 0.75rem;}
div[data-testid="stMetricValue"] {font-size: 1.6rem;}
h3.w-h {font-size: 1.5rem; font-weight: 600; margin: 0.4rem 0 0.6rem 0; padding: 0;}
table.w-tab {border-collapse: collapse; width: 100%; font-size: 0.82rem; margin-bottom: 0.6rem;}
table.w-tab th {text-align: left; font-weight: 600; color: #555; border-bottom: 1px solid #ddd; padding: 0.2rem 0.4rem;}
table.w-tab td {border-bottom: 1px solid #eee; padding: 0.15rem 0.4rem; overflow-wrap: anywhere;}
table.w-tab td.n {text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;}
table.w-tab .w-bar {display: inline-block; width: 4.5rem; height: 0.55rem; background: #e7e7e0; margin-right: 0.35rem;
                    vertical-align: middle; border-radius: 2px; overflow: hidden;}
table.w-tab .w-bar span {display: block; height: 100%; background: #2f6f4f;}
[data-testid="stMainBlockContainer"] {padding-top: 2.2rem;}
</style>
"""


def page_header(title: str, caption: str | None = None) -> None:
    # st.html of style tags alone goes to the page's event container (no space taken) and needs no markdown
    # parser: st.markdown(unsafe_allow_html) made every new session fetch and compile rehype-raw (190 KB)
    st.html(CSS)
    st.title(title)
    if caption:
        st.caption(caption)


# ---------------------------------------------------------------- workspace
def workspace_path() -> str:
    """The workspace this session looks at (from the URL ``ws``, ``--workspace`` or the default)."""
    if not st.session_state.get("ws"):
        st.session_state["ws"] = db.default_path()
    return st.session_state["ws"]


def current_workspace(*, required: bool = True) -> Workspace | None:
    """The open workspace, or an explanation and a link to the Workspace page when there is none."""
    path = workspace_path()
    try:
        return db.open_workspace(path)
    except WorkspaceBusy as e:  # another process writes it (winnow score...): say whom for, reload when free
        if required:
            st.error(md_text(e))
            reload_when_free(path)
            st.stop()
        return None
    except WinnowError as e:
        if required:
            missing = not (Path(path) / DB_FILE).exists()  # not a lock or a refused file: nothing to create
            st.warning(md_text(e) + (". Open or create one on the Workspace page." if missing else ""))
            pages = st.session_state.get("_pages") or {}
            if "workspace" in pages:
                st.page_link(pages["workspace"], label="Go to the Workspace page")
            st.stop()
        return None


@st.fragment(run_every=2.0)
def reload_when_free(path: str) -> None:
    """Under a "workspace in use" error: redraws the whole page once the other process has let go."""
    st.caption("This page reloads by itself once the workspace is free.")
    try:
        db.open_workspace(path)
    except WinnowError:
        return
    st.rerun(scope="app")


def version(ws: Workspace) -> str:
    """The workspace's data version, re-read at most every 2 s per session (each read is two small queries,
    and a page makes dozens of cached calls per rerun); jobs force a fresh read when they finish."""
    key = f"_ver::{ws.path}"
    hit = st.session_state.get(key)
    now = time.monotonic()
    if hit is None or now - hit[0] > 2.0:
        hit = (now, db.data_version(ws))
        st.session_state[key] = hit
    return hit[1]


def refresh_version(ws: Workspace) -> None:
    st.session_state.pop(f"_ver::{ws.path}", None)


@st.cache_resource(show_spinner=False)
def job_registry() -> JobRegistry:
    return JobRegistry()


# ---------------------------------------------------------------- cached aggregates (keyed by data version)
P = ParamSpec("P")
R = TypeVar("R")


def _name(fn: Callable[..., Any]) -> str:
    """``module.function``: what the cache keys a query by (the function object itself is not hashed)."""
    qual = getattr(fn, "__qualname__", "")
    if not qual or "<" in qual:  # a lambda or a local function: no name that says what was computed
        raise TypeError(f"cached() needs a module-level function, not {fn!r}")
    return f"{fn.__module__}.{qual}"


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(name: str, path: str, ver: str, _fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``_fn(cursor, *args, **kwargs)`` on the workspace at ``path``, cached by (``name``, path, data version,
    arguments) until the workspace's data changes (``ver``)."""
    ws = db.open_workspace(path)
    cur = ws.cursor()
    try:
        return _fn(cur, *args, **kwargs)
    finally:
        cur.close()


def cached(ws: Workspace, fn: Callable[Concatenate[Any, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(cursor, *args, **kwargs)`` on ``ws``, cached until the workspace's data changes.

    ``fn`` is a function taking a DuckDB connection first (:mod:`app.explore.queries`, :mod:`app.search`, ...),
    passed as an object so that imports and an editor can follow the call; its arguments must be hashable
    by Streamlit (plain values, lists, dicts)."""
    return _cached(_name(fn), str(ws.path.resolve()), version(ws), fn, *args, **kwargs)


def now(ws: Workspace, fn: Callable[Concatenate[Any, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(cursor, *args, **kwargs)`` on ``ws``, uncached (for input that changes fast: a search, a document)."""
    cur = ws.cursor()
    try:
        return fn(cur, *args, **kwargs)
    finally:
        cur.close()


# ---------------------------------------------------------------- what exists
def has_signals(ws: Workspace) -> bool:
    return any(k == "signal" for _, k in ws.parts())


def has_map(ws: Workspace) -> bool:
    return "map_x" in cached(ws, queries.corpus_columns)


def has_embeddings(ws: Workspace) -> bool:
    cur = ws.cursor()
    try:
        tables = {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        cur.close()
    # app.embed stores vectors in ``emb__<model>`` tables and names the active model in _meta
    return bool(ws.get_meta("embed.active")) or any(t.startswith("emb__") for t in tables)


def n_docs(ws: Workspace) -> int:
    return int(cached(ws, queries.overview)["documents"])


# ---------------------------------------------------------------- jobs
JOB_LABELS = {
    "score": "Compute signals",
    "embed": "Compute embeddings",
    "map": "Build the map",
    "index": "Build the search index",
}


def _job_fn(kind: str, ws: Workspace, **opts: Any):
    def run(progress):
        try:
            return work(progress)
        except Exception as e:  # a full disk or a refused write: say what to do, not "internal error"
            if (err := storage_error(e)) is None:
                raise
            raise err from e

    def work(progress):
        if kind == "score":
            from app.signals.engine import score

            return score(ws, signals=opts.get("signals") or ["all"], progress=progress)
        if kind == "embed":
            from app.embed import embed

            return embed(ws, fast=bool(opts.get("fast")), progress=progress)
        if kind == "map":
            from app.maps import build_map

            return build_map(ws, progress=progress)
        if kind == "index":
            from app.search import build_index

            return build_index(ws, progress=progress)
        if kind == "ingest":
            from app.ingest import ingest

            return ingest(
                ws, opts["srcs"], source=opts.get("source") or None, limit=opts.get("limit"), progress=progress
            )
        raise WinnowError(f"unknown job {kind}")

    return run


def start_job(kind: str, ws: Workspace, *, name: str | None = None, **opts: Any) -> None:
    """Start a background job; a missing area or a busy workspace is a one-line message, not a traceback."""
    try:
        job_registry().start(name or kind, str(ws.path.resolve()), _job_fn(kind, ws, **opts))
    except WinnowError as e:
        st.error(md_text(e))


def job_button(kind: str, ws: Workspace, *, key: str, label: str | None = None, **opts: Any) -> None:
    """A button that starts a background job (disabled while any job runs on this workspace)."""
    busy = job_registry().running(str(ws.path.resolve())) is not None
    if st.button(label or JOB_LABELS.get(kind, kind), key=key, disabled=busy, type="primary"):
        start_job(kind, ws, name=label or JOB_LABELS.get(kind, kind), **opts)
        st.rerun()


@st.fragment(run_every=1.0)
def _jobs_panel_live(path: str, only: str | None, skip: str | None) -> None:
    _jobs_panel_body(path, only, skip)


def _page() -> str:
    """The page this script run draws (its script hash; "" outside a Streamlit run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return getattr(ctx, "page_script_hash", "") if ctx is not None else ""


def _banner_here(job: Any) -> bool:
    """A finished job's banner belongs to the page where this session first saw it end: an "Export finished"
    read on Export does not come back on the Workspace page (issue 17)."""
    seen = st.session_state.setdefault("_job_banner_page", {})
    key = f"{job.name}@{job.started}"
    return seen.setdefault(key, _page()) == _page()


def _shown(job: Any, only: str | None, skip: str | None) -> bool:
    """Whether a panel that shows jobs named ``only...`` and hides jobs named ``skip...`` shows ``job``."""
    return (only is None or job.name.startswith(only)) and (skip is None or not job.name.startswith(skip))


def _jobs_panel_body(path: str, only: str | None = None, skip: str | None = None) -> bool:
    reg = job_registry()
    jobs = reg.recent(path, n=3)
    # whether anything runs is decided on every job, shown or not: two panels on one page agree on it and do
    # not take turns redrawing the whole app
    running = any(j.status == "running" for j in jobs)
    for j in (j for j in jobs if _shown(j, only, skip)):
        if j.status == "running":
            st.progress(j.fraction, text=md_text(j.describe()))  # a job's name holds the path typed
        elif j.finished and time.time() - j.finished < 600 and _banner_here(j):
            if j.status == "failed":
                st.error(md_text(f"{j.name} failed: {j.error}"))
            else:
                st.success(md_text(f"{j.name} finished in {j.finished - j.started:.1f} s"))
    if not running and st.session_state.get("_job_was_running"):
        st.session_state["_job_was_running"] = False
        for k in [k for k in st.session_state if str(k).startswith("_ver::")]:
            del st.session_state[k]
        st.rerun(scope="app")  # the data changed: redraw everything once
    if running:
        st.session_state["_job_was_running"] = True
    return running


def jobs_panel(ws: Workspace, *, only: str | None = None, skip: str | None = None) -> None:
    """Progress of this workspace's jobs; polls once a second only while a job is running.

    ``only`` / ``skip``: show just the jobs whose name starts with it, or all but those, so a page can put
    a job's progress and error next to the button that started it (the Workspace page's Ingest form)."""
    path = str(ws.path.resolve())
    if job_registry().running(path) is not None or st.session_state.get("_job_was_running"):
        _jobs_panel_live(path, only, skip)
    else:
        _jobs_panel_body(path, only, skip)


def missing(ws: Workspace, what: str, why: str, *, key: str) -> bool:
    """When ``what`` (signals/embeddings/map) is absent, say so and offer the button; True if missing."""
    present = {"signals": has_signals, "embeddings": has_embeddings, "map": has_map}[what](ws)
    if present:
        return False
    kind = {"signals": "score", "embeddings": "embed", "map": "map"}[what]
    st.info(f"No {what} yet: {why}")
    job_button(kind, ws, key=key)
    jobs_panel(ws)
    return True


# ---------------------------------------------------------------- documents
def _one_block(escaped_html: str) -> str:
    """HTML for ``st.markdown(unsafe_allow_html)`` with no line break left in it: markdown ends an HTML block at a
    blank line (``\\n\\n``, ``\\r\\r``) and would parse what follows (``![i](url)`` in a text: an image fetch) as
    markdown. The character references show the same line breaks in the ``pre-wrap`` block."""
    return escaped_html.replace("\r", "&#13;").replace("\n", "&#10;")


def doc_html(text: str, *, highlight: bool = True) -> None:
    """Show a document's full text, escaped, with flagged lines highlighted."""
    st.markdown(CSS + _one_block(highlighted_html(text or "", highlight=highlight)), unsafe_allow_html=True)


def snippet(text: str, *, meta: str = "", cls: str = "", n: int = 400) -> None:
    """A short escaped preview of a document (for borderline lists and selections)."""
    t = (text or "")[:n]
    st.markdown(
        _one_block(f'<div class="w-snip {cls}"><div class="w-meta">{html.escape(meta)}</div>{html.escape(t)}</div>'),
        unsafe_allow_html=True,
    )


def snippets_html(rows: list[dict], *, cls: str = "", n: int = 400) -> str:
    """Several escaped previews in one block (``rows``: ``text`` and ``meta``): one element, not one per row."""
    return "".join(
        f'<div class="w-snip {cls}"><div class="w-meta">{html.escape(str(r.get("meta", "")))}</div>'
        f"{html.escape((r.get('text') or '')[:n])}</div>"
        for r in rows
    )


def table_html(rows: list[dict], columns: dict[str, str], *, bars: tuple[str, ...] = (), limit: int = 50) -> str:
    """A small escaped HTML table (``columns``: key -> header); ``bars`` columns hold fractions drawn as bars.

    The Thresholds page redraws its tables on every slider move: an HTML table costs the browser far less
    than a data-grid widget, and nothing in it is interactive."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in columns.values())
    body = []
    for r in rows[:limit]:
        cells = []
        for k in columns:
            v = r.get(k)
            if isinstance(v, float) and v != v:  # NaN (a missing value in a pandas column)
                v = None
            if k in bars:
                f = 0.0 if v is None else max(0.0, min(1.0, float(v)))
                txt = "—" if v is None else f"{100 * float(v):.1f}%"
                cells.append(
                    f'<td class="n"><span class="w-bar"><span style="width:{100 * f:.1f}%"></span></span>{txt}</td>'
                )
            elif isinstance(v, bool) or v is None or isinstance(v, str):
                cells.append(f"<td>{html.escape('—' if v is None else str(v))}</td>")
            elif isinstance(v, int):
                cells.append(f'<td class="n">{v:,}</td>')
            elif isinstance(v, float):
                cells.append(f'<td class="n">{v:.4g}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f'<div class="w-meta">… {len(rows) - limit:,} more rows</div>' if len(rows) > limit else ""
    return f'<table class="w-tab"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{more}'


def open_doc(doc_id: str) -> None:
    """Open a document on the Documents page (state goes into the URL)."""
    st.session_state["doc"] = doc_id
    st.switch_page(st.session_state["_pages"]["documents"])


def fmt_int(n: Any) -> str:
    return "—" if n is None else f"{int(n):,}"


def fmt_pct(a: Any, b: Any) -> str:
    return "—" if not b else f"{100.0 * a / b:.1f}%"
