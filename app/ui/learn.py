"""The Learn page's pieces (labels, classifier training and metrics, suggestions, reference models) and the
labelling actions other pages borrow (a map selection as a reference model's target, Thresholds' edge documents).

Training and fitting run as background jobs of :func:`app.ui.widgets.job_registry` with progress; selectors are
resolved before a job starts, so "matches nothing" is a one-line ``st.error`` next to the button, not a failed
job. Label buttons write at once through button callbacks (they run before the page redraws, so the lists
already leave out what was just labelled). Every document text shown goes through the escaping widgets.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.errors import LearnError, WinnowError
from app.errors_io import storage_error
from app.escaping import md_text
from app.explore import labels, learn_view, queries
from app.ui import learn_charts, widgets

TRAIN, FIT = "Train classifier", "Fit reference model"
SEL_HELP = ("label:L (documents carrying a label), source:S, expr:EXPR (a recipe expression), file:PATH "
            "(reference texts), random:N (a seeded random sample)")  # fmt: skip
KINDS = {"n-gram LM (ppl_, lp_)": "lm", "DSIR weights (dsir_)": "dsir"}
ss = st.session_state


# ---------------------------------------------------------------- actions
def start(ws: Any, name: str, fn: Any, /, **kwargs: Any) -> bool:
    """Run ``fn(ws, progress=..., **kwargs)`` as the background job ``name``; a refusal is one ``st.error``."""

    def run(progress: Any) -> Any:
        try:
            return fn(ws, progress=progress, **kwargs)
        except Exception as e:  # a full disk or a refused write: say what to do, not "internal error"
            if (err := storage_error(e)) is None:
                raise
            raise err from e

    try:
        widgets.job_registry().start(name, str(ws.path.resolve()), run)
    except WinnowError as e:
        st.error(md_text(e))
        return False
    return True


def _busy(ws: Any) -> bool:
    return widgets.job_registry().running(str(ws.path.resolve())) is not None


def _label(ws: Any, ids: list[str], label: str, note: str) -> None:
    """Button callback: write ``label`` on ``ids`` now and leave a message for the redraw."""
    try:
        n = labels.add_labels(ws.cursor(), ids, label, note)
    except WinnowError as e:
        ss["_learn_msg"] = ("error", str(e))
        return
    except Exception as e:  # a full disk or a read-only workspace
        if (err := storage_error(e)) is None:
            raise
        ss["_learn_msg"] = ("error", str(err))
        return
    what = ids[0] if n == 1 else f"{n:,} documents"
    ss["_learn_msg"] = ("ok", f"labelled {what} as {label}")


def flash() -> None:
    """The message a label button or an import left for this redraw."""
    if got := ss.pop("_learn_msg", None):
        (st.error if got[0] == "error" else st.success)(md_text(got[1]))


def label_buttons(ws: Any, doc_id: str, choices: tuple[str, ...], *, key: str, note: str) -> None:
    """One button per label for one document, side by side."""
    for col, lab in zip(st.columns([1] * len(choices) + [6])[: len(choices)], choices, strict=True):
        col.button(lab, key=f"{key}_{lab}", on_click=_label, args=(ws, [doc_id], lab, note))


def train(ws: Any, *, name: str, positive: str, negative: str, features: str = "auto", folds: int = 5,
          seed: int = 0, threshold: float = 0.5) -> bool:  # fmt: skip
    """Check the name and both selectors now, then train as a job; False (and an ``st.error``) when refused."""
    from app.learn import classifier

    try:
        classifier.check_name(name)
        widgets.now(ws, learn_view.check_pair, positive.strip(), negative.strip(), seed=seed)
    except WinnowError as e:
        st.error(md_text(e))
        return False
    return start(ws, f"{TRAIN} {name}", classifier.train, name=name, positive=positive.strip(),
                 negative=negative.strip(), features=features, folds=folds, seed=seed, threshold=threshold)  # fmt: skip


def fit_reference(ws: Any, *, kind: str, name: str, on: str, raw: str = "", order: int = 3) -> bool:
    """Check the name and selectors now, then fit an n-gram LM (``kind="lm"``) or DSIR weights as a job."""
    from app.learn import dsir, reference

    try:
        reference.check_name(name)
        # the model store keys models by name: fitting over a classifier of that name would replace it
        model, own = (f"dsir_{name}", "dsir") if kind == "dsir" else (name, "lm")
        other = {r["name"]: r["kind"] for r in widgets.now(ws, learn_view.models_table)}.get(model)
        if other not in (None, own):
            raise LearnError(f"a {other} model is already named {model!r}: choose another name or remove it")
        for spec in (on, raw) if raw.strip() else (on,):
            widgets.now(ws, learn_view.check_selector, spec.strip())
    except WinnowError as e:
        st.error(md_text(e))
        return False
    if kind == "dsir":
        return start(ws, f"{FIT} dsir_{name}", dsir.fit, name=name, target=on.strip(), raw=raw.strip() or None)
    return start(ws, f"{FIT} {name}", reference.fit, name=name, on=on.strip(), order=int(order))


# ---------------------------------------------------------------- labels
def labels_section(ws: Any) -> None:
    """Counts per label (or how to get the first labels) and an import of a labels file."""
    counts = widgets.now(ws, labels.label_counts)  # labels are not in the data version: never cached
    if counts:
        rows = [{**r, "latest": str(r["latest"])[:16], "by": ", ".join(r["by"])} for r in counts]
        st.html(widgets.table_html(rows, {"label": "label", "documents": "documents", "rows": "labels",
                                          "latest": "latest", "by": "by"}, limit=100))  # fmt: skip
    else:
        st.info("No labels yet. Tag documents **good** or **bad** on the Documents page, label a selection on the "
                "Map or the edge documents on Thresholds, or import a file below; then train a classifier on them.")  # fmt: skip
    with st.form("learn_import"):
        c1, c2 = st.columns([5, 1], vertical_alignment="bottom")
        path = c1.text_input("Import labels: a JSONL, CSV or Parquet file with id, label[, note]", key="w_lab_file")
        go_import = c2.form_submit_button("Import")
    if go_import and path.strip():
        try:
            res = labels.import_labels(ws, path.strip())
        except WinnowError as e:
            st.error(md_text(e))
            return
        per = ", ".join(f"{k} {v:,}" for k, v in res["labels"].items()) or "none"
        msg = f"imported {res['added']:,} of {res['rows']:,} rows ({per})"
        if res["unknown_ids"]:
            msg += f"; {res['unknown_ids']:,} rows name ids not in this workspace (e.g. {', '.join(res['unknown_examples'])})"
        if res["skipped_empty"]:
            msg += f"; {res['skipped_empty']:,} rows without an id or a label skipped"
        ss["_learn_msg"] = ("ok", msg)
        st.rerun()


# ---------------------------------------------------------------- classifiers
def train_form(ws: Any) -> None:
    """Name, selectors (defaults from the labels present), features; trains as a job with progress."""
    pos0, neg0 = widgets.now(ws, learn_view.default_selectors)
    with st.form("learn_train"):
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Name (the column clf_NAME)", value="quality", key="w_clf_name")
        pos = c2.text_input("Positive class", value=pos0, key="w_clf_pos", help=SEL_HELP)
        neg = c3.text_input("Negative class", value=neg0, key="w_clf_neg", help=SEL_HELP)
        c4, c5, c6 = st.columns(3)
        feats = c4.selectbox("Features", ["auto", "ngrams", "embeddings"], key="w_clf_feat",
                             help="hashed word n-grams, the stored embeddings, or the better of both by "
                                  "cross-validated AUC")  # fmt: skip
        folds = c5.number_input("Cross-validation folds", min_value=2, max_value=10, value=5, key="w_clf_folds")
        seed = c6.number_input("Seed", min_value=0, value=0, key="w_clf_seed")
        go_train = st.form_submit_button("Train", type="primary", disabled=_busy(ws))
    if go_train and train(ws, name=name.strip(), positive=pos, negative=neg, features=feats, folds=int(folds),
                          seed=int(seed)):  # fmt: skip
        ss["w_learn_clf"] = name.strip()
        st.rerun()
    widgets.jobs_panel(ws, only=TRAIN)


def _ci(m: dict[str, Any], key: str) -> str:
    ci = m.get(f"{key}_ci95")
    return f"95% CI {ci[0]:.3f}–{ci[1]:.3f}" if ci else "no interval"


def metrics_view(ws: Any, clf: dict[str, Any]) -> None:
    """Held-out AUC/AP with intervals, PR curve, calibration, the confusion at a chosen threshold, the errors."""
    m = clf["metrics"]
    st.caption(md_text(f"{clf['positive']} vs {clf['negative']} · {m.get('folds')}-fold cross-validation · "
                       f"features {m.get('features')} · digest {clf['digest']}"))  # fmt: skip
    if m.get("warning"):
        st.warning(md_text(m["warning"]))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("ROC AUC (held out)", f"{m.get('auc', float('nan')):.3f}", help=_ci(m, "auc"))
    c1.caption(_ci(m, "auc"))
    c2.metric("Average precision", f"{m.get('ap', float('nan')):.3f}", help=_ci(m, "ap"))
    c2.caption(_ci(m, "ap") + f" · base rate {m.get('base_rate')}")
    c3.metric("Positive examples", f"{m.get('n_positive', 0):,}")
    c4.metric("Negative examples", f"{m.get('n_negative', 0):,}")
    learn_charts.curves(m)
    curve = m.get("pr_curve") or []
    if not curve:
        return
    trained = float(m.get("threshold", 0.5))
    points = list(range(len(curve)))[::-1]  # lowest threshold first
    near = min(points, key=lambda i: abs(curve[i]["threshold"] - trained))
    k = st.select_slider("Threshold (points of the held-out PR curve)", points, value=near, key="w_clf_thr",
                         format_func=lambda i: f"{curve[i]['threshold']:.4f}")  # fmt: skip
    t = curve[k]["threshold"]
    conf = learn_view.confusion_at(m, k)
    st.html(widgets.table_html(
        [{"": "predicted positive", "positive": conf["tp"], "negative": conf["fp"]},
         {"": "predicted negative", "positive": conf["fn"], "negative": conf["tn"]}],
        {"": f"at ≥ {conf['threshold']}", "positive": "labelled positive", "negative": "labelled negative"}))  # fmt: skip
    st.caption(f"precision {conf['precision']:.3f} · recall {conf['recall']:.3f}"
               + (" · counts approximate (rounded curve)" if conf["approximate"] else ""))  # fmt: skip
    fp, fn = m.get("false_positives") or [], m.get("false_negatives") or []
    st.markdown(f"**Errors at the trained threshold {trained}** (the most confident wrong held-out predictions)")
    left, right = st.columns(2)
    for col, what, errs, cls in ((left, "false positives", fp, ""), (right, "false negatives", fn, "below")):
        col.caption(f"{what}: {len(errs)} listed")
        if not errs:
            continue
        rows = widgets.now(ws, learn_view.error_examples, errs[:10])
        col.html(widgets.snippets_html([{"meta": f"{r['id']} · p {r['p']}", "text": r["text"]} for r in rows],
                                       cls=cls, n=400))  # fmt: skip
    s = clf["settings"]
    c1, c2, _ = st.columns([2, 2, 3])
    retrain = dict(name=clf["name"], positive=s.get("positive", ""), negative=s.get("negative", ""),
                   features=s.get("features", "auto"), folds=int(s.get("folds", 5)), seed=int(s.get("seed", 0)))  # fmt: skip
    again = c1.button("Retrain (new labels count)", key="btn_clf_retrain", disabled=_busy(ws))
    moved = float(t) != trained and c2.button(f"Retrain with threshold {t}", key="btn_clf_thr", disabled=_busy(ws))
    if (again or moved) and train(ws, **retrain, threshold=float(t) if moved else trained):
        st.rerun()


def suggestions(ws: Any, clf: dict[str, Any], *, n: int = 8) -> None:
    """The documents whose labels would teach the classifier most, each with its label buttons."""
    from app.learn.suggest import suggest

    s = clf["settings"]
    pos, neg = (str(s.get(k, "")) for k in ("positive", "negative"))
    own = pos.startswith("label:") and neg.startswith("label:")
    choices = (pos[6:], neg[6:]) if own else ("good", "bad")
    if not own:
        st.caption(md_text(f"This classifier trains on {pos} vs {neg}: labels written here ({choices[0]}, "
                           f"{choices[1]}) teach it once it is trained on label: selectors."))  # fmt: skip
    try:
        rows = suggest(ws, name=clf["name"], n=n)
    except WinnowError as e:
        st.error(md_text(e))
        return
    if not rows:
        st.caption("Nothing left to suggest: every scored document is labelled or in the training set.")
    for k, r in enumerate(rows):
        cluster = "" if r["cluster"] is None else f" · cluster {r['cluster']}"
        widgets.snippet(r["text"], meta=f"{r['id']} · p {r['p']} · uncertainty {r['uncertainty']}{cluster}")
        label_buttons(ws, r["id"], choices, key=f"btn_sug_{k}", note=f"suggested by clf_{clf['name']}")


def remove_model(ws: Any, name: str, *, key: str) -> None:
    """A button that removes a stored model and its columns."""
    from app.learn import store

    if st.button(f"Remove {name}", key=key, disabled=_busy(ws)):
        try:
            store.remove(ws, name)
        except WinnowError as e:
            st.error(md_text(e))
            return
        widgets.refresh_version(ws)
        ss["_learn_msg"] = ("ok", f"removed the model {name} and its columns")
        st.rerun()


# ---------------------------------------------------------------- reference models
def reference_form(ws: Any) -> None:
    """Fit an n-gram LM or DSIR weights on a selector as a job (the Map's "make this the target" fills it)."""
    srcs = list(widgets.cached(ws, queries.overview)["by_source"]["source"])
    with st.form("learn_ref"):
        c1, c2, c3 = st.columns([2, 1, 2])
        kind = c1.radio("Model", list(KINDS), key="w_ref_kind", horizontal=True)
        name = c2.text_input("Name", value="ref", key="w_ref_name")
        on = c3.text_input("Reference / target", value=f"source:{srcs[0]}" if srcs else "", key="w_ref_on",
                           help=SEL_HELP)  # fmt: skip
        c4, c5 = st.columns([3, 2])
        raw = c4.text_input("DSIR raw distribution (blank: the whole corpus)", key="w_ref_raw", help=SEL_HELP)
        order = c5.select_slider("n-gram order", [3, 4, 5], value=3, key="w_ref_order")
        go_fit = st.form_submit_button("Fit", type="primary", disabled=_busy(ws))
    if go_fit and fit_reference(ws, kind=KINDS[kind], name=name.strip(), on=on, raw=raw, order=order):
        st.rerun()
    widgets.jobs_panel(ws, only=FIT)


def models_list(ws: Any) -> None:
    """Every stored model (kind, digest, columns, a summary of its data and metrics) and a remove button."""
    rows = widgets.cached(ws, learn_view.models_table)
    if not rows:
        st.caption("No models yet: fit one above, or train a classifier on the other view.")
        return
    st.html(widgets.table_html(rows, {"name": "name", "kind": "kind", "digest": "digest", "columns": "columns",
                                      "summary": "data and metrics", "created": "created"}))  # fmt: skip
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    pick = c1.selectbox("model", [r["name"] for r in rows], key="w_model_rm")
    with c2:
        remove_model(ws, pick, key="btn_model_rm")


# ---------------------------------------------------------------- labelling from other pages
def target_action(ws: Any, ids: list[str]) -> None:
    """On a Map selection: label it ``target_NAME`` and fit a reference model (n-gram LM or DSIR) on that label."""
    from app.learn import reference

    if not ids:
        return
    with st.expander(f"Make these {len(ids):,} documents a target: fit a reference model on them"):
        with st.form("map_target"):
            c1, c2, c3 = st.columns([1, 2, 2], vertical_alignment="bottom")
            name = c1.text_input("model name", value="target", key="w_map_tgt_name")
            kind = c2.radio("model", list(KINDS), key="w_map_tgt_kind", horizontal=True)
            go_fit = c3.form_submit_button("Label them and fit", disabled=_busy(ws))
        st.caption("Labels the selection target_NAME, then fits NAME on label:target_NAME (every document carrying "
                   "that label); its columns then colour this map and join the other pages' signals.")  # fmt: skip
        if go_fit:
            name = name.strip()
            try:
                reference.check_name(name)
                labels.add_labels(ws.cursor(), ids, f"target_{name}", "map selection: target")
            except WinnowError as e:
                st.error(md_text(e))
            else:
                if fit_reference(ws, kind=KINDS[kind], name=name, on=f"label:target_{name}"):
                    st.rerun()
        widgets.jobs_panel(ws, only=FIT)


def edge_labels(ws: Any, rules: list[Any], uid: str | None) -> None:
    """Under the Thresholds panel: the edge documents of the rule the panel shows, each with good/bad buttons."""
    from app.explore import panel_api, recipe_bridge

    if not st.toggle("label the edge documents of the rule shown in the panel", key="w_thr_edge_label"):
        return
    flash()
    usable = panel_api.usable(rules)
    uids = [r.uid for r in usable]
    if uid not in uids:
        st.caption("Open a rule's edge documents in the panel first.")
        return
    try:
        edge = widgets.now(ws, recipe_bridge.edge_docs, usable, uids.index(uid), n=3)
    except WinnowError as e:
        st.error(md_text(e))
        return
    st.caption(md_text(f"{edge['rule']}: the documents nearest the cut on each side"))
    for side in ("above", "below"):
        for k, d in enumerate(edge[side]):
            widgets.snippet(d["text"], meta=f"{d['id']} · {d['source']} · {d['value']} ({side} the cut)",
                            cls="below" if side == "below" else "")  # fmt: skip
            label_buttons(ws, d["id"], ("good", "bad"), key=f"btn_edge_{side}_{k}", note="thresholds edge document")
