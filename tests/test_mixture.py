"""Token-budget mixture: the plan (epochs, caps, warnings), an export whose achieved token shares are within 1% of
a 1:1:1 target (rows repeated or a weight column, same tokens), seeded and reproducible."""

from __future__ import annotations

import json
import random

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import RecipeError
from app.export import apply
from app.recipes import load_recipe
from app.recipes.mixture import Mixture, plan
from app.workspace import Workspace

SIZES = {"wiki": 600, "instruct": 300, "web": 1500}


def make_mix_ws(path) -> Workspace:
    """Three sources of different sizes; size_tokens 10..500 per document (seeded)."""
    rng = random.Random(7)
    ws = Workspace.open(path, create=True)
    ids, toks = [], []
    for src, n in SIZES.items():
        sid = [f"{src}{i:05d}" for i in range(n)]
        ws.write_source(src, pd.DataFrame({"id": sid, "text": [f"{src} text {i}" for i in range(n)]}))
        ids += sid
        toks += [rng.randint(10, 500) for _ in sid]
    sig = pd.DataFrame({"id": ids, "size_tokens": toks, "size_words": [t // 2 for t in toks]})
    with ws.transaction() as cur:
        cur.register("_sig", sig)
        cur.execute("CREATE OR REPLACE TABLE sig_mix AS SELECT * FROM _sig")
        cur.unregister("_sig")
        ws.register_part("sig_mix", kind="signal", con=cur)
    return ws


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_mix_ws(tmp_path_factory.mktemp("mix") / "ws")
    yield w
    w.close()


def recipe(tokens: int, *, cap: float | None = 2, repeat: str = "rows", seed: int = 0, extra: str = "") -> str:
    cap_s = f", max_epochs: {cap}" if cap is not None else ""
    return (
        "version: 1\nrules:\n  - {signal: size_words, min: 10}\n"
        f"mixture: {{by: source, tokens: {tokens}{cap_s}, repeat: {repeat}, seed: {seed},"
        f" shares: {{wiki: 0.34, instruct: 0.33, web: 0.33}}}}\n{extra}"
    )


def achieved_shares(ws, out) -> tuple[dict[str, float], dict[str, int], int]:
    """Token shares per source recomputed from the files (each row once, times mix_weight when present)."""
    tok = dict(ws.con.execute("SELECT id, size_tokens FROM corpus").fetchall())
    rows = pq.read_table([p for p in out.iterdir() if p.suffix == ".parquet"]).to_pylist()
    per: dict[str, int] = {}
    for r in rows:
        per[r["source"]] = per.get(r["source"], 0) + tok[r["id"]] * r.get("mix_weight", 1)
    total = sum(per.values())
    return {k: v / total for k, v in per.items()}, per, len(rows)


def test_one_to_one_to_one_plan_is_met_within_one_percent_in_tokens(ws, tmp_path):
    budget = 200_000  # instruct (~75k available after the rule) needs ~0.9 epochs, wiki 0.45, web 0.18
    m = apply(ws, recipe(budget), tmp_path / "rows")
    shares, per, n_rows = achieved_shares(ws, tmp_path / "rows")
    targets = {"wiki": 0.34, "instruct": 0.33, "web": 0.33}
    for g, t in targets.items():
        assert abs(shares[g] - t) / t < 0.01, (g, shares[g], t)
    mix = m["mixture"]
    assert abs(mix["tokens_achieved"] - budget) / budget < 0.01 and mix["tokens_achieved"] == sum(per.values())
    assert {g["group"]: g["share_achieved"] for g in mix["groups"]} == pytest.approx(shares, abs=1e-6)
    assert mix["rows"] == n_rows and mix["warnings"] == []


def test_repeats_past_one_epoch_rows_and_weight_agree(ws, tmp_path):
    budget = 300_000  # instruct needs ~1.3 epochs: full copies plus a sample
    m_rows = apply(ws, recipe(budget), tmp_path / "rows")
    m_w = apply(ws, recipe(budget, repeat="weight"), tmp_path / "w")
    ins = next(g for g in m_rows["mixture"]["groups"] if g["group"] == "instruct")
    assert 1 < ins["epochs"] < 2 and ins["rows"] > ins["docs"]
    _, per_rows, n_rows = achieved_shares(ws, tmp_path / "rows")
    _, per_w, n_w = achieved_shares(ws, tmp_path / "w")
    assert per_rows == per_w and n_w < n_rows
    assert m_w["mixture"]["tokens_achieved"] == m_rows["mixture"]["tokens_achieved"]
    ids = pq.read_table(tmp_path / "rows" / "data-00000-of-00001.parquet").column("id").to_pylist()
    assert ids == sorted(ids)  # repeated rows stay in id order


def test_a_cap_is_honoured_and_warned(ws, tmp_path):
    m = apply(ws, recipe(300_000, cap=1.0), tmp_path / "cap")
    ins = next(g for g in m["mixture"]["groups"] if g["group"] == "instruct")
    assert ins["capped"] and ins["epochs_used"] == 1.0 and ins["tokens_achieved"] == ins["tokens_available"]
    assert any("instruct" in w and "capped at 1" in w for w in m["mixture"]["warnings"])


def test_seeded_and_reproducible(ws, tmp_path):
    a = apply(ws, recipe(100_000, seed=1), tmp_path / "a")
    b = apply(ws, recipe(100_000, seed=1), tmp_path / "b")
    c = apply(ws, recipe(100_000, seed=2), tmp_path / "c")
    assert [f["sha256"] for f in a["files"]] == [f["sha256"] for f in b["files"]]
    assert [f["sha256"] for f in a["files"]] != [f["sha256"] for f in c["files"]]
    assert json.dumps(a["mixture"]) == json.dumps(b["mixture"])


def test_left_out_groups_and_missing_groups_are_warned():
    mix = Mixture(by="source", tokens=1000, shares={"a": 0.5, "b": 0.5}, max_epochs=4)
    p = plan(mix, {"a": (10, 100), "c": (5, 50)})
    assert any("none available" in w and w.startswith("b:") for w in p["warnings"])
    assert any("5 kept documents in 1 group(s) without a share" in w for w in p["warnings"])
    a = p["groups"][0]
    assert a["epochs"] == 5.0 and a["epochs_used"] == 4 and a["capped"]


@settings(max_examples=60, deadline=None)
@given(
    avail=st.lists(st.integers(0, 10**7), min_size=1, max_size=5),
    budget=st.integers(1, 10**8),
    cap=st.one_of(st.none(), st.floats(1, 8)),
)
def test_plan_never_exceeds_the_cap_or_the_target(avail, budget, cap):
    shares = {f"g{i}": 1 / len(avail) for i in range(len(avail))}
    p = plan(Mixture("source", budget, shares, cap), {f"g{i}": (1, a) for i, a in enumerate(avail)})
    for g in p["groups"]:
        assert g["epochs_used"] <= (cap if cap is not None else float("inf"))
        assert g["full_copies"] * g["tokens_available"] + g["fraction_tokens"] <= g["tokens_wanted"] + 1
        assert 0 <= g["fraction_tokens"] <= g["tokens_available"]


def test_bad_sections_are_one_line_errors(ws, tmp_path):
    with pytest.raises(RecipeError, match="shares must sum to 1"):
        load_recipe("version: 1\nmixture: {by: source, tokens: 5, shares: {a: 0.2}}\n")
    with pytest.raises(RecipeError, match="mixture needs 'tokens'"):
        load_recipe("version: 1\nmixture: {by: source, shares: {a: 1}}\n")
    with pytest.raises(RecipeError, match=r"max_epochs: 0.5 is outside"):
        load_recipe("version: 1\nmixture: {by: source, tokens: 5, max_epochs: 0.5, shares: {a: 1}}\n")
    with pytest.raises(RecipeError, match="no column 'nope'"):
        apply(ws, "version: 1\nmixture: {by: nope, tokens: 5, shares: {a: 1}}\n", tmp_path / "x")
