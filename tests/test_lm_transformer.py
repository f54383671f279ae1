"""The optional transformer LM scorer, on a tiny randomly initialised GPT-2 built and saved by the test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from app.errors import LearnError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.slow  # importing torch + transformers alone takes seconds to minutes

TEXTS = ["the cat sat on the mat", "a dog ran in the park today", "hello", "", "the cat ran " * 300]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    d = tmp_path_factory.mktemp("gpt2")
    tk = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.train_from_iterator(TEXTS * 3, trainers.WordLevelTrainer(special_tokens=["<unk>", "<eos>"]))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", eos_token="<eos>")
    fast.save_pretrained(d)
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=tk.get_vocab_size(), n_positions=64, n_embd=16, n_layer=1, n_head=2)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(d)
    return d


def _reference(path, text, max_tokens):
    """Mean log-likelihood of one text, unbatched, computed here with the model's own loss."""
    tok = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()
    ids = tok(text, return_tensors="pt", truncation=True, max_length=max_tokens)["input_ids"]
    if ids.shape[1] < 2:
        return math.nan
    with torch.no_grad():
        return -float(model(input_ids=ids, labels=ids).loss)


def test_batched_scores_equal_unbatched_and_truncate(tiny_lm):
    from app.learn import transformer_lm

    got = transformer_lm.mean_logprobs(str(tiny_lm), TEXTS, max_tokens=32, batch_size=3)
    want = [_reference(tiny_lm, t, 32) for t in TEXTS]
    assert np.allclose(got, want, equal_nan=True, atol=1e-5)
    assert np.isnan(got[2]) and np.isnan(got[3])  # fewer than 2 tokens: nothing to score


def test_fit_in_workspace_noop_and_errors(tiny_lm, tmp_path):
    from app.learn import reference
    from app.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.write_source("s", pd.DataFrame({"id": [f"d{i}" for i in range(len(TEXTS))], "text": TEXTS}))
    try:
        res = reference.fit_transformer(ws, name="tiny", model=str(tiny_lm), max_tokens=32, batch_size=2)
        assert res["documents"] == len(TEXTS)
        rows = dict(ws.cursor().execute("SELECT text, lp_tiny FROM corpus").fetchall())
        assert rows["the cat sat on the mat"] == pytest.approx(_reference(tiny_lm, "the cat sat on the mat", 32))
        assert rows[""] is None
        assert reference.fit_transformer(ws, name="tiny", model=str(tiny_lm), max_tokens=32)["unchanged"]
        with pytest.raises(LearnError, match=r"no config\.json"):
            reference.fit_transformer(ws, name="x", model=str(tmp_path))
        with pytest.raises(LearnError, match="max-tokens"):
            reference.fit_transformer(ws, name="x", model=str(tiny_lm), max_tokens=1)
    finally:
        ws.close()
