"""Workspace: open or create, ingest (path, upload, hf: id), compute signals/embeddings/map, summary."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import streamlit as st

from app.errors import WinnowError
from app.errors_io import storage_error
from app.escaping import md_text
from app.explore import queries
from app.ui import db, widgets
from app.workspace import DB_FILE

widgets.page_header("Workspace", "Open or create a workspace, bring documents in, compute what the other pages need.")

path = widgets.workspace_path()
with st.form("open_ws"):
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    new_path = c1.text_input("Workspace directory", value=path, key="w_ws_path")
    submitted = c2.form_submit_button("Open / create")
if submitted and new_path.strip():
    try:
        db.open_workspace(str(Path(new_path.strip()).resolve()), create=True)
        st.session_state["ws"] = str(Path(new_path.strip()).resolve())
        st.rerun()
    except WinnowError as e:
        st.error(md_text(e))
        if Path(new_path.strip()).resolve() == Path(path).resolve():
            st.stop()  # the same message as below: once is enough

try:
    ws = db.open_workspace(path)
except WinnowError as e:
    if not (Path(path) / DB_FILE).exists():
        st.info("No workspace here yet: press **Open / create** to make one, then ingest documents below.")
    else:  # locked by another process, unreadable, forbidden: never shown as an empty workspace
        st.error(md_text(e))
        st.caption("Nothing was changed: this page opens the workspace once the problem above is solved.")
        widgets.reload_when_free(path)
    st.stop()

widgets.jobs_panel(ws, skip="Ingest")  # an ingest's progress and error show under the Ingest form instead

ov = widgets.cached(ws, queries.overview)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Documents", widgets.fmt_int(ov["documents"]))
c2.metric("Characters", widgets.fmt_int(ov["characters"]))
c3.metric("Tokens", widgets.fmt_int(ov["tokens"]) if ov["tokens"] is not None else "— (score: size)")
c4.metric("Sources", len(ov["by_source"]))

if ov["documents"]:
    # plain HTML tables (bars for the language shares), not a data grid and a chart: those two pull 2 MB of
    # JavaScript into a new session, and the browser compiling it delayed the metrics above by a second or more
    left, right = st.columns(2)
    with left:
        st.subheader("Sources")
        st.html(
            widgets.table_html(
                ov["by_source"].to_dict("records"),
                {"source": "source", "docs": "documents", "chars": "characters"},
                limit=200,
            )
        )
    with right:
        st.subheader("Languages" + (f" ({md_text(ov['lang_column'])})" if ov["lang_column"] else ""))
        if ov["by_lang"] is not None:
            langs = ov["by_lang"].head(15).assign(share=lambda d: d["docs"] / max(ov["documents"], 1))
            st.html(
                widgets.table_html(
                    langs.to_dict("records"),
                    {"lang": "language", "docs": "documents", "share": "share of documents"},
                    bars=("share",),
                )
            )
        else:
            st.caption("No language column yet: compute signals (the `lang` family adds `lang_code`).")

st.subheader("Compute")
n_signals = len(ws.signal_columns())  # catalog only: ws.info() would scan every text
c1, c2, c3 = st.columns(3)
with c1:
    st.markdown(f"**Signals** · {n_signals} columns")
    widgets.job_button("score", ws, key="btn_score", label="Compute signals")
with c2:
    st.markdown("**Embeddings** · " + ("present" if widgets.has_embeddings(ws) else "none"))
    fast = st.checkbox("fast static model (model2vec)", key="w_fast")
    widgets.job_button("embed", ws, key="btn_embed", label="Compute embeddings", fast=fast)
with c3:
    st.markdown("**Map** · " + ("present" if widgets.has_map(ws) else "none"))
    widgets.job_button("map", ws, key="btn_map", label="Build the map")


def _first_submit(request: tuple) -> bool:
    """False for the same ingest submitted again within 3 s: Enter in the path field arrived twice as a submit
    (issue 17), which started the ingest, then said it was still running (or ran it again)."""
    last = st.session_state.get("_ingest_submitted")
    now = time.monotonic()
    if last is not None and last[0] == request and now - last[1] < 3.0:
        return False
    st.session_state["_ingest_submitted"] = (request, now)
    return True


st.subheader("Ingest")
# only the open tab is drawn (a tab switch reruns the page): a new session does not build the upload and hub
# widgets it does not show
tab_path, tab_upload, tab_hf = st.tabs(
    ["From a path", "Upload a file", "Hugging Face id"], key="w_ingest_tab", on_change="rerun"
)
if tab_path.open:
    with tab_path, st.form("ingest_path"):
        src = st.text_input("Path or glob (JSONL, JSON, CSV, Parquet, TXT; .gz/.zst)", key="w_src")
        c1, c2 = st.columns(2)
        source = c1.text_input("Source name (optional)", key="w_src_name")
        limit = c2.number_input("Limit (optional)", min_value=1, value=None, step=1000, key="w_src_limit")
        request = (src.strip(), source, limit)
        if st.form_submit_button("Ingest") and src.strip() and _first_submit(request):
            widgets.start_job(
                "ingest",
                ws,
                name=f"Ingest {src.strip()}",
                srcs=[src.strip()],
                source=source,
                limit=int(limit) if limit else None,
            )
            st.rerun()
if tab_upload.open:
    with tab_upload:
        up = st.file_uploader(
            "A file to ingest", type=["jsonl", "json", "csv", "parquet", "txt", "gz", "zst"], key="w_upload"
        )
        up_source = st.text_input("Source name (optional)", key="w_up_name")
        if up is not None and st.button("Ingest the upload", key="btn_upload"):
            dest = ws.path / "uploads" / Path(up.name).name
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(up.getbuffer())
            except OSError as e:  # a full disk or a read-only workspace: one line that says what to do
                with contextlib.suppress(OSError):  # no half-written upload left behind
                    dest.unlink(missing_ok=True)
                st.error(md_text(storage_error(e) or f"cannot save the upload to {dest}: {e.strerror}"))
                st.stop()
            widgets.start_job(
                "ingest", ws, name=f"Ingest {up.name}", srcs=[str(dest)], source=up_source or Path(up.name).stem
            )
            st.rerun()
if tab_hf.open:
    with tab_hf, st.form("ingest_hf"):
        hf_id = st.text_input("Dataset id, e.g. `hf:allenai/c4:en:train` (needs network unless cached)", key="w_hf")
        hf_limit = st.number_input("Limit", min_value=1, value=10000, step=1000, key="w_hf_limit")
        if st.form_submit_button("Ingest from the hub") and hf_id.strip():
            sid = hf_id.strip() if hf_id.strip().startswith("hf:") else "hf:" + hf_id.strip()
            widgets.start_job("ingest", ws, name=f"Ingest {sid}", srcs=[sid], limit=int(hf_limit))
            st.rerun()
widgets.jobs_panel(ws, only="Ingest")  # next to the button that started it, not at the top of the page
