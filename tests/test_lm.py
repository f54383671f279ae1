"""Reference n-gram LMs: Kneser-Ney invariants, hashing bounds, fit/no-op/diff in a workspace, headless parity."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import LearnError
from app.learn import ccnet, ngram_lm, reference, store
from app.learn._hashtok import tokenize

EN = [
    "the cat sat on the mat and the dog sat on the log",
    "a cat and a dog played in the garden all day",
    "the weather was sunny and the children went to the park",
    "she read a book about the history of the city",
    "the train arrived at the station in the morning",
    "he cooked dinner for his family on sunday evening",
] * 4
OTHER = ["Buy now!!! $$$ click here >>> 50% off", "小明 今天 去 了 北京 的 公园", "qzx vbnm wrtp lkjh", "12345 67890"]


def _probs(tables, order, ctx_words, vocab):
    """P(w | ctx) for every w of ``vocab`` through the real scoring path (one window per word)."""
    ch = tokenize([" ".join(ctx_words)])[0][-(order - 1) :] if ctx_words else np.zeros(0, np.uint64)
    win = np.concatenate([np.full(order - 1 - len(ch), ngram_lm.BOS, np.uint64), ch])
    seq = np.concatenate([np.r_[win, w] for w in vocab]).astype(np.uint64)
    pred = np.zeros(len(seq), bool)
    pred[order - 1 :: order] = True
    return ngram_lm.position_probs(tables, seq, pred)


@pytest.mark.parametrize("order", [3, 4, 5])
def test_kn_distribution_sums_to_one_over_the_vocabulary(order):
    train = [*EN[:6], "中文 评论 很好 的 酒店"]
    tables, m = ngram_lm.fit_tables([train], order=order, bits=16)
    assert all(v == 0 for v in m["collisions"].values())  # no hashing loss at this size: the exact model
    vocab = np.unique(np.r_[tokenize(train)[0], ngram_lm.EOS])
    for ctx in (["the", "cat"], ["sat", "on", "the"], ["unseen", "words"], [], ["的"]):
        p = _probs(tables, order, ctx, vocab)
        assert (p > 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-5)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefg"), min_size=0, max_size=12), min_size=1, max_size=8),
       st.sampled_from([3, 4, 5]))  # fmt: skip
def test_kn_sums_to_one_for_any_tiny_corpus(docs, order):
    train = [" ".join(d) for d in docs]
    if not any(train):
        with pytest.raises(LearnError, match="no tokens"):
            ngram_lm.fit_tables([train], order=order, bits=14)
        return
    tables, _ = ngram_lm.fit_tables([train], order=order, bits=14)
    vocab = np.unique(np.r_[tokenize(train)[0], ngram_lm.EOS])
    for ctx in ([], docs[0][-(order - 1) :], ["a", "z"]):
        assert _probs(tables, order, ctx, vocab).sum() == pytest.approx(1.0, abs=1e-5)


def test_in_domain_text_has_lower_perplexity_and_memory_is_bounded():
    tables, m = ngram_lm.fit_tables([EN], order=3, bits=14)
    lp = ngram_lm.mean_logprob(tables, ["the dog sat on the mat in the park", *OTHER, "", "   "])
    assert (lp[0] > lp[1:5]).all()
    assert np.isnan(lp[5:]).all()  # no tokens: NULL, not a made-up number
    slots = m["slots"]
    assert all(v <= 1 << 14 for v in slots.values())
    want = sum(slots[k] * (10 if k < 3 else 6) for k in (1, 2, 3)) + sum(
        tables[k].nbytes for k in ("gamma1", "vocab", "order")
    )
    assert m["memory_bytes"] == want

    word = ["".join(chr(97 + (i // 26**k) % 26) for k in range(3)) for i in range(3000)]  # 3,000 distinct words
    _, m2 = ngram_lm.fit_tables([[f"{w} x y {w}" for w in word]], order=3, bits=12)
    assert m2["memory_bytes"] < 120_000 and sum(m2["collisions"].values()) > 0  # bounded, losses counted


def test_token_cap_reads_a_bounded_prefix():
    _, m = ngram_lm.fit_tables(ngram_lm.batches_of(EN, 2), order=3, bits=12, max_tokens=30)
    assert m["token_cap_reached"] and 30 <= m["tokens"] < 60 and m["docs"] < len(EN)


def test_bad_settings_are_one_line_errors():
    for order, bits in ((2, 20), (6, 20), (3, 8), (3, 40)):
        with pytest.raises(LearnError) as e:
            ngram_lm.check_settings(order, bits)
        assert "\n" not in str(e.value)
    with pytest.raises(LearnError, match="bad model name"):
        reference.check_name("ppl; DROP TABLE")


def test_scripts_and_buckets():
    assert ccnet.scripts(["hello world", "小明今天去了北京", "ひらがなと漢字", "Привет мир", "12345", ""]) == [
        "latin", "han", "japanese", "cyrillic", "other", "other"]  # fmt: skip
    b = ccnet.Buckets({"*": [10.0, 20.0], "han": [100.0, 200.0]})
    assert b.assign(["a", "b", "c", "小明", "x"], np.array([5.0, 15.0, 25.0, 150.0, np.nan])) == [
        "head", "middle", "tail", "middle", None]  # fmt: skip


@pytest.fixture
def lm_ws(tmp_path):
    from app.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.write_source("target", pd.DataFrame({"id": [f"t{i}" for i in range(len(EN))], "text": EN}))
    rest = OTHER * 10 + EN[:3]
    ws.write_source("rest", pd.DataFrame({"id": [f"r{i}" for i in range(len(rest))], "text": rest}))
    yield ws
    ws.close()


def test_fit_scores_workspace_noop_refit_diff_and_remove(lm_ws):
    res = reference.fit(lm_ws, name="tgt", on="source:target", order=3, bits=14)
    assert not res["unchanged"] and res["documents"] == len(EN) + 43
    con = lm_ws.cursor()
    rows = con.execute("SELECT source, avg(ppl_tgt), count(ccnet_bucket_tgt) FROM corpus GROUP BY 1").fetchall()
    ppl = {r[0]: r[1] for r in rows}
    assert ppl["target"] < ppl["rest"]
    assert reference.fit(lm_ws, name="tgt", on="source:target", order=3, bits=14)["unchanged"]
    assert not reference.fit(lm_ws, name="tgt", on="source:target", order=4, bits=14)["unchanged"]
    reference.fit(lm_ws, name="rnd", on="random:10", order=3, bits=14, seed=1)
    d = reference.diff(lm_ws, a="tgt", b="rnd")
    assert d["name"] == "diff_tgt_rnd"
    got = con.execute("SELECT lp_tgt - lp_rnd, diff_tgt_rnd FROM corpus WHERE lp_tgt IS NOT NULL").fetchall()
    assert all(a == pytest.approx(b, abs=1e-9) for a, b in got)
    assert not any(m.get("stale") for m in reference.listing(con))
    reference.fit(lm_ws, name="rnd", on="random:12", order=3, bits=14, seed=1)
    assert [m["name"] for m in reference.listing(con) if m.get("stale")] == ["diff_tgt_rnd"]
    store.remove(lm_ws, "tgt")
    assert "ppl_tgt" not in lm_ws.columns("corpus")
    with pytest.raises(LearnError, match="no lm model named 'tgt'"):
        reference.diff(lm_ws, a="tgt", b="rnd")
    with pytest.raises(LearnError, match="no source named"):
        reference.fit(lm_ws, name="x", on="source:nope")
    ref = lm_ws.path / "ref.txt"
    ref.write_text("\n".join(EN[:6]), encoding="utf-8")
    res = reference.fit(lm_ws, name="f", on=f"file:{ref}", bits=14)
    assert res["metrics"]["docs"] == 6 and res["documents"] == len(EN) + 43


def test_headless_apply_computes_the_same_columns(lm_ws, tmp_path):
    from app.export.headless import apply_headless

    reference.fit(lm_ws, name="tgt", on="source:target", order=3, bits=14)
    reference.fit(lm_ws, name="rnd", on="random:10", order=3, bits=14)
    reference.diff(lm_ws, a="tgt", b="rnd")
    from app.learn import dsir

    dsir.fit(lm_ws, name="tgt", target="source:target", bits=12)
    cols = ["ppl_tgt", "lp_tgt", "ccnet_bucket_tgt", "diff_tgt_rnd", "dsir_tgt"]
    want = {r[0]: r[1:] for r in lm_ws.cursor().execute(f"SELECT id, text, {', '.join(cols)} FROM corpus").fetchall()}
    lm_ws.close()
    shard = tmp_path / "in.jsonl"
    shard.write_text("".join(json.dumps({"id": i, "text": v[0]}) + "\n" for i, v in want.items()))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: r\nrules:\n  - {signal: ppl_tgt, min: 0}\noutput: {columns: [id, " + ", ".join(cols) + "]}\n"
    )
    man = apply_headless(str(recipe), [str(shard)], tmp_path / "out", models=str(tmp_path / "ws"), tokens="estimate",
                         id_field="id")  # fmt: skip
    import pyarrow.parquet as pq

    got = {}
    for f in (tmp_path / "out").glob("*.parquet"):
        for r in pq.read_table(f).to_pylist():
            got[r["id"]] = tuple(r[c] for c in cols)
    assert got and set(got) == {i for i, v in want.items() if v[1] is not None}
    for i, (ppl, lp, bucket, diff, w) in got.items():
        assert (ppl, lp, diff, w) == pytest.approx(want[i][1:3] + want[i][4:6], rel=1e-12)
        assert bucket == want[i][3]
    assert {e["kind"] for e in man["source"]["models"]} == {"lm", "lm_diff", "dsir"}


def test_cli_fit_list_diff_dsir_and_one_line_errors(lm_ws, capsys):
    from app.cli import main

    path = str(lm_ws.path)
    lm_ws.close()
    assert main(["lm", "fit", "tgt", "--on", "source:target", "-w", path, "--bits", "14", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["name"] == "tgt" and not out["unchanged"]
    assert main(["lm", "fit", "tgt", "--on", "source:target", "-w", path, "--bits", "14"]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert main(["lm", "fit", "rnd", "--on", "random:5", "-w", path, "--bits", "14"]) == 0
    assert main(["lm", "diff", "tgt", "rnd", "-w", path]) == 0
    assert main(["dsir", "tgt", "--target", "source:target", "-w", path, "--bits", "12"]) == 0
    capsys.readouterr()
    assert main(["lm", "list", "-w", path]) == 0
    listed = capsys.readouterr().out
    assert "diff_tgt_rnd" in listed and "ppl_tgt" in listed
    for argv, msg in ((["lm", "fit", "x", "--on", "bogus:1"], "bad selector"),
                      (["lm", "fit", "x", "--on", "source:target", "--order", "7"], "--order must be"),
                      (["lm", "fit", "x"], "either --on SEL"), (["lm", "diff", "tgt", "nope"], "no lm model"),
                      (["dsir", "x"], "give --target"), (["lm", "remove", "nope"], "no model named")):  # fmt: skip
        assert main([*argv, "-w", path]) == 1
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_set_associative_lookup_matches_a_plain_scan():
    word = ["".join(chr(97 + (i // 26**k) % 26) for k in range(3)) for i in range(3000)]
    texts = [f"{w} x y {w} {word[(i * 7) % 3000]}" for i, w in enumerate(word)]
    tables, m = ngram_lm.fit_tables([texts], order=3, bits=12)
    assert sum(m["collisions"].values()) > 0  # full sets: every lane is in use
    seq, _, _ = ngram_lm.sequences([*texts[:500], "unseen words here"], 3)
    for k, g in enumerate(ngram_lm.gram_hashes(seq, 3), 1):
        tags = tables[f"t{k}"].reshape(-1, ngram_lm.WAYS)
        b = (g >> np.uint64(64 - (len(tags).bit_length() - 1))).astype(np.int64)
        want = np.zeros(len(g), np.float32)
        for i, (row, key) in enumerate(zip(tags[b], g, strict=True)):
            lanes = np.flatnonzero(row == np.uint16(int(key) & 0xFFFF))
            want[i] = tables[f"a{k}"][b[i] * ngram_lm.WAYS + lanes[0]] if len(lanes) else 0.0
        assert np.array_equal(ngram_lm._lookup(tables, "a", k, g, 0.0), want)
