"""Learn: labels with counts and an import; train a classifier (a job with progress) and read its held-out metrics,
curves, confusion at a chosen threshold and worst errors; label the documents it suggests; fit reference models
(n-gram LM, DSIR) and compare their perplexity with the quality score. New clf_/ppl_/dsir_ columns join every
other page's signals."""

from __future__ import annotations

import streamlit as st

from app.escaping import md_text
from app.explore import learn_view
from app.ui import learn, learn_charts, widgets

widgets.page_header(
    "Learn", "Teach Winnow what good looks like: labels, classifiers with honest metrics, reference models."
)
ws = widgets.current_workspace()
if widgets.n_docs(ws) == 0:
    st.info("The workspace has no documents yet: ingest some on the Workspace page.")
    st.stop()

ss = st.session_state
VIEWS = ["Labels and classifiers", "Reference models"]
view = st.radio("view", VIEWS, horizontal=True, key="w_learn_view", label_visibility="collapsed")
learn.flash()

if view == VIEWS[0]:
    st.subheader("Labels")
    learn.labels_section(ws)

    st.subheader("Train a classifier")
    st.caption(
        "Two selectors name the classes: " + md_text(learn.SEL_HELP) + ". The metrics come from k-fold "
        "cross-validation (every example scored by a model that never saw it); the model then scores every "
        "document as clf_NAME."
    )
    learn.train_form(ws)

    clfs = widgets.cached(ws, learn_view.classifiers)
    if not clfs:
        st.caption("No classifier yet: label at least a few documents of each class (20 or more for metrics worth "
                   "trusting) and train one above.")  # fmt: skip
        st.stop()
    st.subheader("Classifiers")
    names = [c["name"] for c in clfs]
    if ss.get("w_learn_clf") not in names:
        ss["w_learn_clf"] = names[-1]  # the newest
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    name = c1.selectbox("classifier", names, key="w_learn_clf")
    with c2:
        learn.remove_model(ws, name, key="btn_clf_rm")
    clf = next(c for c in clfs if c["name"] == name)
    learn.metrics_view(ws, clf)

    st.subheader("Label these next")
    st.caption(
        "The documents the classifier is least sure about, spread over the map's clusters: a label here teaches it "
        "most. Label a few, then retrain."
    )
    learn.suggestions(ws, clf)
else:
    st.subheader("Fit a reference model")
    st.caption(
        "An n-gram language model fitted on a reference (ppl_NAME, lp_NAME, ccnet_bucket_NAME: CCNet-style "
        "perplexity) or DSIR importance weights toward a target (dsir_NAME, for importance resampling in a recipe's "
        "sample:). On the Map, a selection can be made the target directly."
    )
    learn.reference_form(ws)
    st.subheader("Models in this workspace")
    learn.models_list(ws)
    st.subheader("Perplexity against quality")
    learn_charts.scatter(ws)
