"""The Learn page under AppTest on a tiny workspace built in code: the empty state, a trained classifier's held-out
metrics, a suggestion's label button writing a label, errors as st.error next to the action, a training job
started from the form, reference models; plus the headless pieces it draws from (app.explore.learn_view)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from app.escaping import md_text
from app.explore import learn_view
from app.explore.labels import add_labels
from app.learn import ngram_lm
from tests.app.test_pages import app_at
from tests.test_classify import KITCHEN, PITCH, _doc

HOSTILE = "<img src=x onerror=alert(1)> kitchen oven"


def _build(path, *, n_labels: int) -> str:
    """80 cooking and 80 football documents (one hostile), signals and map parts; ``n_labels`` of each labelled."""
    from app.workspace import Workspace

    rng = np.random.default_rng(5)
    ids = [f"k{i:03d}" for i in range(80)] + [f"p{i:03d}" for i in range(80)]
    texts = [_doc(rng, KITCHEN) for _ in range(80)] + [_doc(rng, PITCH) for _ in range(80)]
    texts[70] = HOSTILE
    ws = Workspace.open(path, create=True)
    try:
        ws.write_source("kitchen", pd.DataFrame({"id": ids[:80], "text": texts[:80]}))
        ws.write_source("pitch", pd.DataFrame({"id": ids[80:], "text": texts[80:]}))
        sig = pd.DataFrame({"id": ids, "quality_score": rng.random(160).round(3), "size_words": [14] * 160})
        mp = pd.DataFrame({"id": ids, "map_x": rng.normal(size=160), "map_y": rng.normal(size=160),
                           "map_cluster": [i % 3 for i in range(160)]})  # fmt: skip
        with ws.transaction() as cur:
            for name, df, kind in (("sig_t", sig, "signal"), ("map_t", mp, "map")):
                cur.register("_df", df)
                cur.execute(f"CREATE TABLE {name} AS SELECT * FROM _df")
                cur.unregister("_df")
                ws.register_part(name, kind=kind, con=cur)
        if n_labels:
            add_labels(ws.cursor(), ids[:n_labels], "good", by="test")
            add_labels(ws.cursor(), ids[80 : 80 + n_labels], "bad", by="test")
    finally:
        ws.close()
    return str(path)


def _train(path: str, name: str = "topic") -> None:
    from app.learn import classifier
    from app.workspace import Workspace

    with Workspace.open(path) as ws:
        classifier.train(ws, name=name, positive="label:good", negative="label:bad", features="ngrams")


@pytest.fixture
def empty_ws(tmp_path):
    return _build(tmp_path / "ws", n_labels=0)


@pytest.fixture(scope="module")
def _trained_once(tmp_path_factory):
    path = _build(tmp_path_factory.mktemp("learn") / "ws", n_labels=25)
    _train(path)
    return path


@pytest.fixture
def trained_ws(_trained_once, tmp_path):
    """A copy of one trained workspace per test (tests write labels into it)."""
    import shutil

    return str(shutil.copytree(_trained_once, tmp_path / "ws"))


def _labels(path: str) -> list[tuple]:
    from app.workspace import Workspace

    ws = Workspace.open(path)
    try:
        return ws.cursor().execute("SELECT id, label, note FROM labels ORDER BY id, label").fetchall()
    finally:
        ws.close()


def test_empty_state_says_how_to_start(empty_ws):
    at = app_at(empty_ws, "learn")
    assert any("No labels yet" in i.value for i in at.info)
    assert any("No classifier yet" in c.value for c in at.caption)
    assert at.text_input(key="w_clf_pos").value == "label:good"  # the labels the other pages write
    assert at.text_input(key="w_clf_neg").value == "label:bad"
    assert not at.error


def test_trained_classifier_shows_held_out_metrics(trained_ws):
    at = app_at(trained_ws, "learn")
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["ROC AUC (held out)"]) > 0.9
    assert metrics["Positive examples"] == "25" and metrics["Negative examples"] == "25"
    assert not at.warning  # 25 per class: enough
    assert any("95% CI" in c.value for c in at.caption)
    table = next(h.proto.body for h in at.get("html") if "labelled positive" in h.proto.body)  # the confusion
    assert "predicted positive" in table and "predicted negative" in table
    assert "<img src=x" not in "".join(h.proto.body for h in at.get("html"))  # any text shown is escaped
    assert {"good", "bad"} <= {b.label for b in at.button}  # the suggestion buttons: the model's own labels


def test_few_labels_warn_plainly(tmp_path):
    path = _build(tmp_path / "ws", n_labels=6)
    _train(path)
    at = app_at(path, "learn")
    assert any(md_text("too few to trust") in w.value for w in at.warning)


def test_suggestion_button_writes_a_label(trained_ws):
    at = app_at(trained_ws, "learn")
    before = _labels(trained_ws)
    at.button(key="btn_sug_0_good").click().run()
    assert not at.exception
    after = _labels(trained_ws)
    (new,) = set(after) - set(before)
    assert new[1] == "good" and new[2] == "suggested by clf_topic"
    assert new[0] not in {r[0] for r in before}  # a document that had no label
    assert any("labelled" in s.value for s in at.success)


def test_confusion_slider_moves_the_counts(trained_ws):
    at = app_at(trained_ws, "learn")
    at.select_slider(key="w_clf_thr").set_value(len(_curve(trained_ws)) - 1).run()  # the lowest threshold
    table = next(h.proto.body for h in at.get("html") if "labelled positive" in h.proto.body)
    assert ">25<" in table  # the lowest threshold predicts every positive as positive


def _curve(path: str) -> list[dict]:
    from app.workspace import Workspace

    with Workspace.open(path) as ws:
        return learn_view.classifiers(ws.cursor())[0]["metrics"]["pr_curve"]


def test_selector_matching_nothing_is_an_error_next_to_train(trained_ws):
    at = app_at(trained_ws, "learn")
    at.text_input(key="w_clf_pos").set_value("label:nothing")
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    assert any(md_text("no document carries the label 'nothing'") in e.value for e in at.error)


def test_train_from_the_form_runs_a_job(empty_ws):
    from app.workspace import Workspace

    with Workspace.open(empty_ws) as ws:
        add_labels(ws.cursor(), [f"k{i:03d}" for i in range(20)], "good")
        add_labels(ws.cursor(), [f"p{i:03d}" for i in range(20)], "bad")
    at = app_at(empty_ws, "learn")
    at.text_input(key="w_clf_name").set_value("cook")
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.error
    deadline = time.time() + 60
    while time.time() < deadline and not any(m.label == "ROC AUC (held out)" for m in at.metric):
        time.sleep(0.5)
        at.run()
    assert any(m.label == "ROC AUC (held out)" for m in at.metric), [e.value for e in at.error]
    _join_jobs()
    assert at.selectbox(key="w_learn_clf").value == "cook"


def test_reference_models_view(trained_ws):
    at = app_at(trained_ws, "learn")
    at.radio(key="w_learn_view").set_value("Reference models").run()
    assert not at.exception
    assert "clf_topic" in "".join(h.proto.body for h in at.get("html"))  # the classifier is listed as a model
    at.text_input(key="w_ref_on").set_value("source:nowhere")
    next(b for b in at.button if b.label == "Fit").click().run()
    assert any(md_text("no source named 'nowhere'") in e.value for e in at.error)


# ---------------------------------------------------------------- headless pieces
def test_confusion_at_recovers_the_stored_confusion(trained_ws):
    from app.workspace import Workspace

    with Workspace.open(trained_ws) as ws:
        (clf,) = learn_view.classifiers(ws.cursor())
    m = clf["metrics"]
    for k, pt in enumerate(m["pr_curve"]):
        c = learn_view.confusion_at(m, k)
        assert c["tp"] + c["fn"] == 25 and (c["fp"] is None or c["fp"] + c["tn"] == 25)
        assert c["tp"] == round(pt["recall"] * 25) and not c["approximate"]


def test_learned_columns_are_named_in_the_catalogue(trained_ws):
    from app.explore import columns
    from app.workspace import Workspace

    with Workspace.open(trained_ws) as ws:
        info = {c.name: c for c in columns.catalogue(ws.cursor())}
    assert info["clf_topic"].kind == "signal" and info["clf_topic"].family == "classifier"
    assert "topic" in info["clf_topic"].description


# ---------------------------------------------------------------- labelling from the Map and Thresholds
def _wait_for_model(path: str, name: str, at, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with_models = [m for m in _models(path) if m["name"] == name]
        if with_models:
            return with_models[0]
        time.sleep(0.5)
    raise AssertionError(f"model {name} never appeared; errors: {[e.value for e in at.error]}")


def _join_jobs(timeout: float = 60) -> None:
    """Wait for the dashboard's job threads: one still writing when the interpreter exits aborts it."""
    import threading

    for t in [t for t in threading.enumerate() if t.name.startswith("winnow-job-")]:
        t.join(timeout)
        assert not t.is_alive(), f"{t.name} still running"


def _models(path: str) -> list[dict]:
    from app.workspace import Workspace

    with Workspace.open(path) as ws:
        return learn_view.models_table(ws.cursor())


def test_map_density_selection_labels_are_written(empty_ws, monkeypatch):
    """The density view's cluster-name layer once rebound ``labels`` (the module) to a list: labelling a box
    selection there failed with an AttributeError."""
    from streamlit.elements.vega_charts import VegaLiteState

    from app.explore import queries

    monkeypatch.setattr(queries, "MAP_POINTS_MAX", 100)
    at = app_at(empty_ws, "map")
    at.session_state["map_density_chart"] = VegaLiteState({"selection": {"box": {"x0": [-9, 9], "y0": [-9, 9]}}})
    at.run()
    next(b for b in at.button if b.label.startswith("label ") and b.label.endswith(" as good")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(_labels(empty_ws)) == 160 and {r[1] for r in _labels(empty_ws)} == {"good"}


def test_map_selection_becomes_a_reference_model_target(empty_ws):
    from streamlit.elements.plotly_chart import PlotlySelectionState, PlotlyState

    ids = [f"k{i:03d}" for i in range(30)]
    at = app_at(empty_ws, "map")
    sel = {"points": [{"customdata": i} for i in ids], "point_indices": list(range(30)), "box": [], "lasso": []}
    at.session_state["map_chart"] = PlotlyState({"selection": PlotlySelectionState(sel)})
    at.run()
    at.text_input(key="w_map_tgt_name").set_value("cooking")
    next(b for b in at.button if b.label == "Label them and fit").click().run()
    assert not at.exception and not at.error
    assert {r[0] for r in _labels(empty_ws) if r[1] == "target_cooking"} == set(ids)
    model = _wait_for_model(empty_ws, "cooking", at)
    _join_jobs()
    assert model["kind"] == ngram_lm.KIND and "label:target_cooking" in model["summary"]


def test_thresholds_edge_documents_get_label_buttons(empty_ws):
    at = app_at(empty_ws, "thresholds", r="range:quality_score:0.5,")
    at.toggle(key="w_thr_edge_label").set_value(True).run()
    assert any("edge documents in the panel first" in c.value for c in at.caption)
    (rule,) = at.session_state["rules"]
    at.session_state["edge_uid"] = rule.uid
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="btn_edge_below_0_bad").click().run()
    assert not at.exception
    ((doc_id, label, note),) = _labels(empty_ws)
    assert label == "bad" and note == "thresholds edge document"
    from app.workspace import Workspace

    with Workspace.open(empty_ws) as ws:  # just below the cut: removed by the rule
        (q,) = ws.cursor().execute("SELECT quality_score FROM corpus WHERE id = ?", [doc_id]).fetchone()
    assert q < 0.5


def test_documents_page_writes_any_label_name(empty_ws):
    """Labels beyond good/bad (toxic, edu, ...) from the Documents page; a bad name is one st.error."""
    at = app_at(empty_ws, "documents", doc="p003")
    at.text_input(key="w_label_name").set_value("toxic").run()
    at.button(key="btn_tag_other").click().run()
    assert not at.exception
    assert _labels(empty_ws) == [("p003", "toxic", None)]
    at.text_input(key="w_label_name").set_value("not a label!").run()
    at.button(key="btn_tag_other").click().run()
    assert not at.exception and any(md_text("bad label name") in e.value for e in at.error)
    assert len(_labels(empty_ws)) == 1


def test_learned_columns_join_the_other_pages(trained_ws):
    """clf_NAME is a signal like any other: Distributions draws it, Thresholds offers a rule on it."""
    at = app_at(trained_ws, "distributions", sig="clf_topic")
    assert at.selectbox(key="w_dist_sig").value == "clf_topic"
    at = app_at(trained_ws, "thresholds")
    assert "clf_topic" in at.selectbox(key="w_add_col").options


def test_fitting_over_a_classifier_of_the_same_name_is_refused(trained_ws):
    """Models are stored by name: an LM fitted as 'topic' replaced the classifier 'topic' and its clf_topic."""
    at = app_at(trained_ws, "learn")
    at.radio(key="w_learn_view").set_value("Reference models").run()
    at.text_input(key="w_ref_name").set_value("topic")
    next(b for b in at.button if b.label == "Fit").click().run()
    _join_jobs()
    assert any(md_text("a classifier model is already named 'topic'") in e.value for e in at.error)
    assert [(m["name"], m["kind"]) for m in _models(trained_ws)] == [("topic", "classifier")]


def test_import_a_labels_file_reports_unknown_ids(empty_ws, tmp_path):
    f = tmp_path / "labels.csv"
    f.write_text("id,label,note\nk001,edu,clear\np002,edu,\nnope9,edu,x\n", encoding="utf-8")
    at = app_at(empty_ws, "learn")
    at.text_input(key="w_lab_file").set_value(str(f))
    next(b for b in at.button if b.label == "Import").click().run()
    assert not at.exception and not at.error
    (ok,) = at.success
    assert md_text("imported 2 of 3 rows (edu 2)") in ok.value and "nope9" in ok.value
    assert {r[:2] for r in _labels(empty_ws)} == {("k001", "edu"), ("p002", "edu")}
    assert any(">edu<" in h.proto.body for h in at.get("html"))  # the counts table
    at.text_input(key="w_lab_file").set_value(str(tmp_path / "missing.csv"))
    next(b for b in at.button if b.label == "Import").click().run()
    assert any(md_text("does not exist") in e.value for e in at.error)
