"""The model store: save/get/list/remove, workspace scoring as a corpus part, headless columns from --models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.errors import LearnError
from app.learn import store


class _Len:
    """A real (if simple) model kind defined by the test: score = weight * characters."""

    def __init__(self, m: store.StoredModel):
        self.w = float(m.arrays()["w"][0])
        self.columns = {f"len_{m.name}": "DOUBLE"}
        self.col = f"len_{m.name}"

    def score(self, texts):
        return {self.col: [self.w * len(t) for t in texts]}


@pytest.fixture(autouse=True)
def _kind():
    store.LOADERS["test_len"] = _Len
    yield
    store.LOADERS.pop("test_len", None)


def _model(name="m", w=2.0):
    return store.StoredModel(name=name, kind="test_len", digest="d1", settings={"w": w}, metrics={"auc": 0.9},
                             columns={f"len_{name}": "DOUBLE"}, blob=store.pack({"w": np.array([w])}))  # fmt: skip


def test_save_get_list_remove_and_score(tiny_ws):
    con = tiny_ws.cursor()
    with pytest.raises(LearnError, match="have: none"):
        store.get(con, "m")
    store.save(con, _model())
    store.save(con, _model())  # replace, not duplicate
    assert [m.name for m in store.list_models(con)] == ["m"]
    assert store.get(con, "m").metrics == {"auc": 0.9}
    with pytest.raises(LearnError, match="classifier model"):
        store.get(con, "m", kind="classifier")
    other = _model()
    other.kind = "classifier"
    with pytest.raises(LearnError, match="a test_len model is already named 'm'"):
        store.save(con, other)
    n = store.score_workspace(tiny_ws, "m")
    assert n == 6
    rows = dict(con.execute("SELECT id, len_m FROM corpus").fetchall())
    texts = dict(con.execute("SELECT id, text FROM docs").fetchall())
    assert rows == {i: 2.0 * len(t) for i, t in texts.items()}
    store.remove(tiny_ws, "m")
    assert "len_m" not in tiny_ws.columns("corpus")
    assert store.list_models(con) == []


def test_unknown_kind_and_bad_blob(tiny_ws):
    m = _model()
    m.kind = "from_the_future"
    with pytest.raises(LearnError, match="cannot load"):
        store.scorer(m)
    with pytest.raises(LearnError, match="unreadable"):
        store.unpack(b"not an npz")


def test_headless_apply_uses_stored_models(tmp_path, tiny_ws):
    from app.export.headless import apply_headless

    store.save(tiny_ws.cursor(), _model(w=1.0))
    tiny_ws.close()
    shard = tmp_path / "in.jsonl"
    docs = [{"id": f"d{i}", "text": "x" * (10 * i + 1)} for i in range(5)]
    shard.write_text("".join(json.dumps(d) + "\n" for d in docs))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\nrules:\n  - {signal: len_m, min: 20}\n")
    man = apply_headless(
        str(recipe), [str(shard)], tmp_path / "out", models=str(tmp_path / "ws"), tokens="estimate", id_field="id"
    )
    import pyarrow.parquet as pq

    ids = sorted(i for f in (tmp_path / "out").glob("*.parquet") for i in pq.read_table(f).column("id").to_pylist())
    assert ids == ["d2", "d3", "d4"]  # 21, 31, 41 characters >= 20
    assert '"digest": "d1"' in json.dumps(man)
    from app.errors import RecipeError

    with pytest.raises(RecipeError, match="give --models WS"):
        apply_headless(str(recipe), [str(shard)], tmp_path / "out2", tokens="estimate")
