"""Documents: full-text (BM25 index), exact-substring and semantic search, a sortable table, and one document with every signal, its flagged
lines, nearest neighbours, duplicate-cluster members and benchmark matches (highlighted beside the benchmark item); tag it good or bad."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import search
from app.decontam import report as decontam_report
from app.errors import WinnowError
from app.errors_io import storage_error
from app.escaping import md_text
from app.explore import labels, queries
from app.ui import widgets

widgets.page_header("Documents", "Find documents, read them safely, and tag them.")
ws = widgets.current_workspace()
if widgets.n_docs(ws) == 0:
    st.info("The workspace has no documents yet: ingest some on the Workspace page.")
    st.stop()

ss = st.session_state
if decon_line := decontam_report.summary_line(ws):  # per benchmark: contaminated items and documents
    st.caption(md_text(decon_line))
cols = widgets.cached(ws, queries.corpus_columns)
num = widgets.cached(ws, queries.numeric_columns)
has_emb = widgets.has_embeddings(ws)

c1, c2, c3 = st.columns([4, 3, 2], vertical_alignment="bottom")
text = c1.text_input("Search", value=ss.get("q") or "", key="w_search", placeholder="words in the text…")
ss["q"] = text
mode = c2.radio(
    "mode",
    ["full text", "exact substring", "semantic"] if has_emb else ["full text", "exact substring"],
    horizontal=True,
    key="w_search_mode",
    help=(
        'full text: words (all required), "exact phrases", OR, -excluded, source:NAME; ranked by BM25 from the '
        "search index. exact substring: every document containing the text as typed, case-insensitive (scans every "
        "text). semantic: nearest documents by embedding" + ("" if has_emb else " (needs embeddings: Workspace page)")
    ),
)
sort_opts = ["(none)", *num]
order = c3.selectbox("Sort by", sort_opts, key="w_sort")
desc = st.toggle("descending", value=True, key="w_desc")
show = [c for c in ("quality_score", "size_words", "lang_code") if c in cols]
if not show:  # no such signals (e.g. imported ones only): the column every page opens on
    show = [c for c in [widgets.cached(ws, queries.default_numeric)] if c]
if order != "(none)" and order not in show:
    show.append(order)
order_col = None if order == "(none)" else order
query = text.strip()

res = None
note = ""
if mode == "full text":
    fts = search.index_state(ws)
    if fts != "current":
        st.info(
            "No full-text index yet"
            if fts == "missing"
            else "The full-text index is older than the documents (a source changed since it was built)",
            icon=":material/manage_search:",
        )
        st.caption("Until it is built, full-text search scans every text for the exact substring.")
        widgets.job_button(
            "index", ws, key="btn_fts_build", label="Rebuild the search index" if fts == "stale" else None
        )
        widgets.jobs_panel(ws)
    elif query:
        try:
            found = search.search_hits(ws, query, limit=200)
            res = widgets.now(ws, search.ranked_docs, found["rows"], columns=show, order=order_col, desc=desc)
            best = "ranked" if found["total"] <= len(res) else f"the best {len(res):,}"
            note = f"{found['total']:,} matching documents · {best} by BM25 score" + (
                f", sorted by {order_col}" if order_col else ""
            )
        except WinnowError as e:
            st.error(md_text(e))
            if not str(e).startswith("bad search query"):  # unreadable index files: offer a rebuild
                widgets.job_button("index", ws, key="btn_fts_build", label="Rebuild the search index")
                widgets.jobs_panel(ws)
            res = pd.DataFrame()
if mode == "semantic" and query:
    try:
        hits = search.semantic_search(ws, query, k=50)
        res = pd.DataFrame(
            [
                {"id": h["id"], "score": h["score"], "source": h["source"], "preview": (h.get("text") or "")[:200]}
                for h in hits
            ]
        )
    except (WinnowError, ImportError) as e:
        st.error(f"semantic search is unavailable: {md_text(e)}")
        res = pd.DataFrame()
if res is None:
    # the listing without a query depends only on the data: cached, so a new session draws it at once (uncached it
    # joins 200 ids to the texts, ~1.4 s at 1M documents on a busy machine); a typed substring scans every text
    res = (widgets.now if query else widgets.cached)(
        ws, search.substring_search, query, columns=show, limit=200, order=order_col, desc=desc
    )
    if query:
        note = f"{len(res):,} documents containing {query!r}" + (" (first 200)" if len(res) == 200 else "")
if not note:
    note = f"{len(res):,} documents listed" + (" (first 200)" if len(res) == 200 else "")
st.caption(md_text(note) + " · pick a row to open it")  # the note quotes the query and column names
pick = st.dataframe(
    res,
    hide_index=True,
    key="doc_table",
    on_select="rerun",
    selection_mode="single-row",
    width="stretch",
    height=260,
    column_config={"score": st.column_config.NumberColumn("score", format="%.3f")} if "score" in res else None,
)
rows = getattr(getattr(pick, "selection", None), "rows", None) or []
if rows:
    ss["doc"] = str(res.iloc[rows[0]]["id"])

c1, _ = st.columns([2, 3])
typed = c1.text_input("or open by id", value="", key="w_doc_id")
if typed.strip():
    ss["doc"] = typed.strip()

doc_id = ss.get("doc")
if not doc_id:
    st.stop()
doc = widgets.now(ws, queries.get_doc, doc_id)
if doc is None:
    st.warning(f"no document with id {md_text(repr(doc_id))}")
    st.stop()

st.divider()
st.subheader(f"Document {md_text(doc_id)}")
left, right = st.columns([3, 2], gap="large")
with left:
    hl = st.toggle(
        "highlight lines that line rules flag (yellow: C4/FineWeb line rules, red: repeated line)",
        value=True,
        key="w_hl",
    )
    widgets.doc_html(doc.get("text") or "", highlight=hl)
    c0, c1, c2, c3, c4 = st.columns([2, 3, 1, 1, 1], vertical_alignment="bottom")
    other = c0.text_input("label", key="w_label_name", placeholder="toxic, edu, …").strip()
    note = c1.text_input("note", key="w_label_note")
    for lab, col, key in (("good", c2, "good"), ("bad", c3, "bad"), (other, c4, "other")):
        if lab and col.button(f"tag {lab}", key=f"btn_tag_{key}"):
            try:
                labels.add_label(ws.cursor(), doc_id, lab, note or None)
                st.toast(f"tagged {md_text(doc_id)} {md_text(lab)}")
            except WinnowError as e:  # a bad label name
                st.error(md_text(e))
            except Exception as e:  # a full disk or a read-only workspace: one line that says what to do
                if (err := storage_error(e)) is None:
                    raise
                st.error(md_text(err))
    tags = widgets.now(ws, labels.labels_of, doc_id)
    if len(tags):
        st.caption(
            "labels: " + ", ".join(f"{md_text(r.label)} ({r.created_at:%Y-%m-%d %H:%M})" for r in tags.itertuples())
        )
with right:
    sig = {k: v for k, v in doc.items() if k not in ("text", "id")}
    st.markdown("**Signals and metadata**")
    st.dataframe(
        pd.DataFrame({"column": list(sig), "value": [str(v) for v in sig.values()]}),
        hide_index=True,
        width="stretch",
        height=min(600, 36 + 35 * len(sig)),
        key="doc_signals",
    )

if decon := decontam_report.document_matches(ws, doc_id, text=doc.get("text") or ""):
    st.markdown(f"**Benchmark matches** ({len(decon)} items): the matching words highlighted on both sides")
    st.markdown(widgets.CSS + decontam_report.matches_html(decon, doc.get("text") or ""), unsafe_allow_html=True)

n1, n2 = st.columns(2)
with n1:
    st.markdown("**Nearest neighbours**")
    if has_emb:
        try:
            for h in search.neighbours(ws, doc_id, k=8):
                widgets.snippet(
                    h.get("text") or "",
                    meta=f"{h['id']} · {h.get('source', '')} · similarity {h.get('score', 0):.3f}",
                    n=300,
                )
        except (WinnowError, ImportError) as e:
            st.caption(f"unavailable: {md_text(e)}")
    else:
        widgets.missing(ws, "embeddings", "nearest neighbours and semantic search need them.", key="miss_emb_docs")
with n2:
    st.markdown("**Duplicate-cluster members**")
    shown = False
    for col, size in (("dup_exact_cluster", "dup_exact_size"), ("dup_near_cluster", "dup_near_size")):
        if col in doc and doc[col] is not None and (doc.get(size) or 2) > 1:
            members = widgets.cached(ws, queries.cluster_members, col, doc[col])
            members = members[members["id"] != doc_id]
            if len(members):
                shown = True
                st.caption(f"{col} = {md_text(doc[col])} ({len(members)} others)")
                for r in members.itertuples():
                    widgets.snippet(r.preview, meta=f"{r.id} · {r.source}", n=200)
    if not shown:
        st.caption(
            "no duplicates of this document"
            if any(c.startswith("dup_") for c in cols)
            else "needs the dedup signals (compute signals on the Workspace page)"
        )
