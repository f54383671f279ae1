"""DSIR weights (hashed uni+bigram models of target and raw) and importance resampling in recipes
(``sample: {log_weight: COL}``: Gumbel top-k, exact, seeded, byte-reproducible)."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import LearnError, RecipeError
from app.learn import dsir, store
from app.recipes import compile_recipe, select_ids_sql

WIKI = ["the river flows through the valley to the sea", "the history of the city goes back to roman times",
        "the castle was built in the twelfth century by the duke", "the museum holds paintings from the period"]  # fmt: skip
CHAT = ["lol omg did u see that", "haha ok ttyl", "omg lol this is so funny", "u coming tonight or nah"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet="ab c中。", max_size=20), min_size=1, max_size=6))
def test_weights_are_per_document(texts):
    ratio = dsir.log_ratio(*(dsir.bucket_counts([t], 10)[0] for t in (WIKI, CHAT)))
    together = dsir.weights(ratio, texts)
    alone = np.array([dsir.weights(ratio, [t])[0] for t in texts])
    assert np.allclose(np.nan_to_num(together, nan=-1e9), np.nan_to_num(alone, nan=-1e9))  # no bigram across texts


def test_log_ratio_prefers_target_and_rejects_empty():
    ratio = dsir.log_ratio(dsir.bucket_counts([WIKI], 12)[0], dsir.bucket_counts([WIKI + CHAT], 12)[0])
    w = dsir.weights(ratio, ["the history of the valley", "lol omg u", ""])
    assert w[0] > 0 > w[1] and math.isnan(w[2])
    with pytest.raises(LearnError, match="no tokens"):
        dsir.log_ratio(dsir.bucket_counts([["", "  "]], 12)[0], np.ones(1 << 12))
    with pytest.raises(LearnError, match="--bits"):
        dsir.check_bits(40)


@pytest.fixture
def dws(tmp_path):
    from app.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.write_source("wiki", pd.DataFrame({"id": [f"w{i}" for i in range(40)], "text": WIKI * 10}))
    ws.write_source("chat", pd.DataFrame({"id": [f"c{i}" for i in range(360)], "text": CHAT * 90}))
    yield ws
    ws.close()


def test_fit_noop_and_resampling_toward_the_target(dws, tmp_path):
    res = dsir.fit(dws, name="w", target="source:wiki", bits=12)
    assert res["name"] == "dsir_w" and res["documents"] == 400
    assert dsir.fit(dws, name="w", target="source:wiki", bits=12)["unchanged"]
    assert not dsir.fit(dws, name="w", target="source:wiki", raw="source:chat", bits=12)["unchanged"]
    con = dws.cursor()
    recipe = "version: 1\nsample: {n: 40, log_weight: dsir_w, seed: 3}\n"
    sql, p = select_ids_sql(compile_recipe(con, recipe), columns=["id", "source"])
    rows = con.execute(sql, p).fetchall()
    assert len(rows) == 40 and sum(s == "wiki" for _, s in rows) >= 35  # uniform would give about 4
    assert con.execute(sql, p).fetchall() == rows
    from app.export import apply

    apply(dws, recipe, tmp_path / "a")
    apply(dws, recipe, tmp_path / "b")
    fa, fb = sorted((tmp_path / "a").glob("*.parquet")), sorted((tmp_path / "b").glob("*.parquet"))
    assert fa and [f.read_bytes() for f in fa] == [f.read_bytes() for f in fb]  # byte-reproducible
    store.remove(dws, "dsir_w")
    assert "dsir_w" not in dws.columns("corpus")


def _table(lw: list[float | None]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    df = pd.DataFrame({"id": [f"d{i:05d}" for i in range(len(lw))], "lw": pd.array(lw, dtype="Float64")})
    con.register("df", df)
    con.execute("CREATE TABLE t AS SELECT id, CAST(lw AS DOUBLE) AS lw, 'x' AS s FROM df")
    con.unregister("df")
    return con


def _sample(con, n: int, seed: int) -> list[str]:
    c = compile_recipe(con, f"version: 1\nsample: {{n: {n}, log_weight: lw, seed: {seed}}}\n", relation="t")
    sql, p = select_ids_sql(c)
    return [r[0] for r in con.execute(sql, p).fetchall()]


@settings(max_examples=12, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64)), min_size=1,
                max_size=30), st.integers(0, 35), st.integers(0, 5))  # fmt: skip
def test_resampling_is_exact_and_seeded(lw, n, seed):
    con = _table(lw)
    got = _sample(con, n, seed)
    finite = {f"d{i:05d}" for i, v in enumerate(lw) if v is not None and math.isfinite(v)}
    assert set(got) <= finite and len(got) == min(n, len(finite))  # exact K, no overflow, no NULL/inf drawn
    assert _sample(con, n, seed) == got
    big = [i for i, v in enumerate(lw) if v is not None and math.isfinite(v) and v > 1e6]
    if n and big and all(v is None or not math.isfinite(v) or v < -1e6 for j, v in enumerate(lw) if j not in big):
        assert {f"d{i:05d}" for i in big[: min(n, len(big))]} & set(got)


def test_resampling_is_proportional_to_exp_log_weight():
    w = np.repeat([1.0, 2.0, 3.0, 4.0], 1000)
    con = _table(np.log(w).tolist())
    share = np.zeros(4)
    for seed in range(5):
        got = np.array([int(i[1:]) for i in _sample(con, 100, seed)])
        share += np.bincount(got // 1000, minlength=4)
    assert share / share.sum() == pytest.approx([0.1, 0.2, 0.3, 0.4], abs=0.06)


def test_recipe_log_weight_errors():
    con = _table([0.0])
    con.execute("ALTER TABLE t ADD COLUMN txt VARCHAR")
    for body, msg in (("{n: 1, log_weight: nope}", "nope"), ("{n: 1, log_weight: txt}", "not a number"),
                      ("{n: 1, weight: lw, log_weight: lw}", "not both")):  # fmt: skip
        with pytest.raises(RecipeError, match=msg) as e:
            compile_recipe(con, f"version: 1\nsample: {body}\n", relation="t")
        assert "\n" not in str(e.value)


@pytest.mark.slow
def test_dsir_toward_wiki_on_realmix(realmix):
    """Resampling 10% of realmix with DSIR weights toward wiki keeps >= 5x the wiki-like share of a uniform draw."""
    q = "SELECT id, source, text FROM read_parquet($p) ORDER BY id"
    rows = duckdb.execute(q, {"p": str(realmix / "realmix.parquet")}).fetchall()
    texts = [r[2] for r in rows]
    tc, _ = dsir.bucket_counts([[t for _, s, t in rows if s == "wiki"]], dsir.DEFAULT_BITS)
    rc, _ = dsir.bucket_counts(dsir_batches(texts), dsir.DEFAULT_BITS)
    lw = np.concatenate([dsir.weights(dsir.log_ratio(tc, rc), b) for b in dsir_batches(texts)])
    con = duckdb.connect()
    con.register("df", pd.DataFrame({"id": [r[0] for r in rows], "source": [r[1] for r in rows], "lw": lw}))
    con.execute("CREATE TABLE t AS SELECT * FROM df")
    share = {}
    for key in ("log_weight: lw, ", ""):
        c = compile_recipe(con, f"version: 1\nsample: {{n: {len(rows) // 10}, {key}seed: 7}}\n", relation="t")
        sql, p = select_ids_sql(c, columns=["id", "source"])
        got = con.execute(sql, p).fetchall()
        assert len(got) == len(rows) // 10
        share[key] = sum(s in ("wiki", "web_article") for _, s in got) / len(got)
    assert share["log_weight: lw, "] >= 5 * share[""], share


def dsir_batches(texts: list[str], size: int = 4096):
    for i in range(0, len(texts), size):
        yield texts[i : i + size]
