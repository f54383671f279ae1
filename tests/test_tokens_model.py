"""Tokens in the target model's tokenizer (``size_tokens_<name>``): a tiny BPE trained in the test (no download),
counted per document as the tokenizer itself counts, stored as a part, used by the mixture and the manifest."""

from __future__ import annotations

import functools
import json

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import RecipeError, SignalError
from app.signals import tokens_model as tm
from tests.test_recipe_core import make_ws


def _train(path, texts):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=120, special_tokens=["[UNK]"]))
    tok.save(str(path))
    return tok


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_ws(tmp_path_factory.mktemp("tokm") / "ws", n=200)
    yield w
    w.close()


@pytest.fixture(scope="module")
def bpe(ws, tmp_path_factory):
    d = tmp_path_factory.mktemp("bpe")
    texts = [r[0] for r in ws.con.execute("SELECT text FROM docs ORDER BY id LIMIT 50").fetchall()]
    return d / "tokenizer.json", _train(d / "tokenizer.json", texts)


def test_counts_equal_the_tokenizer_and_are_stored(ws, bpe):
    path, tok = bpe
    res = tm.score_workspace(ws, tokenizer=path, name="tiny")
    assert res["column"] == "size_tokens_tiny" and res["computed"] == 200 and res["kind"] == "tokenizers"
    got = dict(ws.con.execute("SELECT id, size_tokens_tiny FROM corpus").fetchall())
    texts = dict(ws.con.execute("SELECT id, text FROM docs").fetchall())
    assert got == {i: len(tok.encode(t, add_special_tokens=False).ids) for i, t in texts.items()}
    assert tm.score_workspace(ws, tokenizer=path, name="tiny")["computed"] == 0  # same file, same documents
    assert tm.score_workspace(ws, tokenizer=path, name="tiny", force=True)["computed"] == 200
    fert = tm.fertility(ws.cursor(), "size_tokens_tiny")
    assert sum(r["docs"] for r in fert) <= 200 and all(r["tokens_per_char"] > 0 for r in fert)


def test_directory_and_default_name(tmp_path, bpe):
    path, _ = bpe
    d = tmp_path / "my-llama"
    d.mkdir()
    (d / "tokenizer.json").write_bytes(path.read_bytes())
    assert tm.default_name(d) == "my_llama" and tm.default_name(d / "tokenizer.json") == "my_llama"
    assert tm.TokenCounter(d).digest == tm.TokenCounter(d / "tokenizer.json").digest
    assert tm.TokenCounter(d).count(["a b c", ""]) == tm.TokenCounter(path).count(["a b c", ""])


#: a word of at most 20 characters: a slice of 64 always finds a space in its second half to cut at
WORD = st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=20)


@functools.cache
def _prop_counter() -> tm.TokenCounter:
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    root = tempfile.mkdtemp(prefix="tokens_model_")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    p = Path(root) / "tokenizer.json"
    _train(p, ["the cat sat on the mat", "a dog ran far away", "über straße 東京 ✓"])
    return tm.TokenCounter(p)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(WORD, max_size=30).map(" ".join), max_size=6), st.integers(min_value=2, max_value=40))
def test_slicing_never_changes_whitespace_separated_counts(texts, reps):
    """Long texts are encoded in slices cut at whitespace: with a whitespace pre-tokenizer the count is the
    same as encoding the text whole."""
    c = _prop_counter()
    long = [" ".join([t] * reps) for t in texts]
    from app.signals import size  # the one slicer (size.slices), shared with the size scorer's counter

    old = size._SLICE
    try:
        size._SLICE = 64
        sliced = c.count(long)
    finally:
        size._SLICE = old
    assert sliced == c.count(long) == [len(c._fast.encode(t, add_special_tokens=False).ids) for t in long]


def test_bad_inputs_are_one_line_errors(ws, tmp_path):
    with pytest.raises(SignalError, match="no tokenizer at"):
        tm.TokenCounter(tmp_path / "missing.json")
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(SignalError, match="cannot load the tokenizer"):
        tm.TokenCounter(bad)
    with pytest.raises(SignalError, match="cannot name a column"):
        tm.check_name("Llama-3")
    with pytest.raises(SignalError, match="cannot load the tokenizer"):
        tm.TokenCounter(tmp_path)  # a directory with no tokenizer in it


def test_mixture_counts_in_the_target_tokenizer(ws, bpe, tmp_path):
    from app.export import apply

    tm.score_workspace(ws, tokenizer=bpe[0], name="tiny")
    srcs = [r[0] for r in ws.con.execute("SELECT DISTINCT source FROM corpus ORDER BY 1").fetchall()][:2]
    total = ws.con.execute("SELECT sum(size_tokens_tiny) FROM corpus").fetchall()[0][0]
    shares = {srcs[0]: 0.5, srcs[1]: 0.5}
    recipe = {
        "rules": [],
        "mixture": {"by": "source", "tokens": int(total // 4), "shares": shares, "tokens_column": "size_tokens_tiny"},
    }
    m = apply(ws, recipe, tmp_path / "out")
    mix = m["mixture"]
    assert mix["tokens_counted_as"] == "size_tokens_tiny" and mix["tokens_column"] == "size_tokens_tiny"
    t = pq.read_table(next((tmp_path / "out").glob("*.parquet"))).to_pylist()
    tok = dict(ws.con.execute("SELECT id, size_tokens_tiny FROM corpus").fetchall())
    src = dict(ws.con.execute("SELECT id, source FROM corpus").fetchall())
    per = {s: sum(tok[r["id"]] for r in t if src[r["id"]] == s) for s in srcs}
    assert {g["group"]: g["tokens_achieved"] for g in mix["groups"]} == per
    for g in mix["groups"]:
        assert abs(g["share_achieved"] - 0.5) < 0.05
    recipe["mixture"]["tokens_column"] = "size_tokens_nope"
    with pytest.raises(RecipeError, match="tokens_column"):
        apply(ws, recipe, tmp_path / "out2")
    json.dumps(m)


def test_cli_score_tokenizer(tmp_path, bpe, capsys):
    from app.cli import main

    make_ws(tmp_path / "ws", n=60).close()
    args = ["score", "-w", str(tmp_path / "ws"), "--tokenizer", str(bpe[0]), "--tokenizer-name", "tiny"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "size_tokens_tiny" in out and "tokens/char" in out
    assert main([*args, "--json"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["computed"] == 0 and last["fertility"]
    assert main(["score", "-w", str(tmp_path / "ws"), "--tokenizer", str(tmp_path / "none.json")]) != 0
    assert "no tokenizer at" in capsys.readouterr().err


def test_hugging_face_directory_without_tokenizer_json(tmp_path, bpe):
    """A tokenizer directory of vocab.json + merges.txt loads through transformers, offline."""
    _, tok = bpe
    d = tmp_path / "gpt2like"
    d.mkdir()
    tok.model.save(str(d))
    (d / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "GPT2Tokenizer", "unk_token": "[UNK]"}))
    c = tm.TokenCounter(d)
    assert c.kind == "transformers"
    want = [len(x) for x in c._hf(["the cat sat", ""], add_special_tokens=False)["input_ids"]]
    assert c.count(["the cat sat", ""]) == want and want[0] > 0 and want[1] == 0


def test_headless_apply_counts_the_target_tokenizer_like_a_workspace(tmp_path, bpe, capsys):
    """``winnow apply --input ... --tokenizer PATH --tokenizer-name NAME``: a mixture counted in size_tokens_NAME
    runs headless and exports what the workspace export of the same documents does: the same documents, the same
    achieved tokens and shares, the tokenizer cited by sha256."""
    from app.cli import main
    from app.export import apply
    from app.ingest import ingest
    from app.workspace import Workspace

    words = ["alpha", "beta", "gamma", "delta", "epsilon", "über", "数据", "the", "cat"]
    docs = [
        {
            "id": f"h{i:04d}",
            "text": " ".join(words[(i * j) % len(words)] for j in range(5 + i % 40)),
            "topic": "abc"[i % 3],
        }
        for i in range(300)
    ]
    raw = tmp_path / "in.jsonl"
    raw.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    shares = {"a": 0.5, "b": 0.25, "c": 0.25}
    recipe = tmp_path / "mix.yaml"
    recipe.write_text(
        "version: 1\nrules: []\nmixture: {by: topic, tokens: 8000, max_epochs: 2, seed: 3, tokens_column: "
        f"size_tokens_tiny, shares: {json.dumps(shares)}}}\n"
    )
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, [str(raw)], source="raw", id_field="id")
        tm.score_workspace(w, tokenizer=bpe[0], name="tiny")
        ws_m = apply(w, str(recipe), tmp_path / "ws_out")
    args = ["apply", "-r", str(recipe), "-i", str(raw), "--source", "raw", "--id-field", "id", "--tokens", "estimate"]
    assert main([*args, "-o", str(tmp_path / "bad")]) != 0  # without the tokenizer: one line naming the option
    assert "--tokenizer PATH --tokenizer-name NAME" in capsys.readouterr().err
    tok_args = ["--tokenizer", str(bpe[0]), "--tokenizer-name", "tiny"]
    assert main([*args, *tok_args, "-o", str(tmp_path / "hl_out")]) == 0
    hl_m = json.loads((tmp_path / "hl_out" / "__winnow__" / "manifest.json").read_text())

    def groups(m):
        return {g["group"]: (g["tokens_achieved"], g["share_achieved"]) for g in m["mixture"]["groups"]}

    assert groups(hl_m) == groups(ws_m) and len(groups(ws_m)) == 3
    for g, (_, share) in groups(hl_m).items():
        assert abs(share - shares[g]) < 0.02
    ids = lambda d: sorted(pq.read_table(next(d.glob("*.parquet"))).column("id").to_pylist())  # noqa: E731
    assert ids(tmp_path / "hl_out") == ids(tmp_path / "ws_out")
    cited = hl_m["source"]["tokenizer"]
    assert cited["column"] == "size_tokens_tiny" and cited["digest"] == tm.TokenCounter(bpe[0]).digest
    assert main(["apply", "-w", str(tmp_path / "ws"), "-r", str(recipe), "-o", str(tmp_path / "x"), *tok_args]) != 0
    assert "--tokenizer is for headless apply" in capsys.readouterr().err
