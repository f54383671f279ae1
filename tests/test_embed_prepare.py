"""``winnow embed --prepare-fast`` / ``app.embed.static.prepare``: the static model is distilled into the very
cache folder ``--fast`` loads, so the first fast embed does not distil again. A tiny BERT built in code keeps
the distillation to a fraction of a second."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

WORDS = ["the", "of", "and", "cat", "dog", "mat", "sat", "on", "sun", "spam", "buy", "now", "fox", "jumps"]


def _tiny_model(folder: Path) -> Path:
    """A randomly initialised 1-layer BERT (hidden 32) with a WordPiece fast tokenizer over ~60 tokens."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = specials + list("abcdefghijklmnopqrstuvwxyz") + WORDS + [f"##{c}" for c in "aeiost"]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
    )
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(cfg).save_pretrained(folder)
    fast.save_pretrained(folder)
    assert (folder / "tokenizer.json").exists()
    return folder


@pytest.fixture()
def tiny_model(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    return _tiny_model(tmp_path / "tiny-bert")


def test_prepare_builds_the_cache_fast_mode_then_loads(tiny_model, tmp_path, monkeypatch):
    from app.embed import static

    first = static.prepare(str(tiny_model))
    folder = Path(first["folder"])
    assert first["distilled"] is True and first["name"] == "tiny-bert"
    assert folder.parent == tmp_path / "cache" / "static" and folder.name.endswith(f"-v{static.STATIC_VERSION}")
    vecs = np.load(folder / "vectors.npy")
    assert vecs.shape == (5 + 26 + len(WORDS) + 6, 32)  # one row per vocabulary token, hidden width
    assert first["bytes"] == sum(f.stat().st_size for f in folder.iterdir())
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["source"] == str(tiny_model.resolve()) and meta["version"] == static.STATIC_VERSION
    assert meta["source_digest"] in folder.name and meta["winnow"]

    # from here on nothing may distil: the embedder loads the prepared folder as it is
    def no_distil(*a, **k):
        raise AssertionError("distilled again although prepared")

    monkeypatch.setattr(static, "distill", no_distil)
    again = static.prepare(str(tiny_model))
    assert again["distilled"] is False and again["folder"] == first["folder"]
    emb = static.StaticEmbedder.for_model(str(tiny_model))
    assert emb.folder == folder and emb.dim == 32
    out = emb.encode(["the cat sat on the mat", "buy spam now", "the cat sat on the mat"])
    assert out.shape == (3, 32) and np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert np.allclose(out[0], out[2]) and not np.allclose(out[0], out[1])


def test_prepare_fast_cli_needs_no_workspace_and_reports(tiny_model, tmp_path, capsys, monkeypatch):
    from app.cli import main

    monkeypatch.setenv("WINNOW_WORKSPACE", str(tmp_path / "ws"))
    assert main(["embed", "--prepare-fast", "--model", str(tiny_model)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "distilled in" in lines[-1] and not any(line.startswith("{") for line in lines)
    assert not (tmp_path / "ws").exists()  # no workspace was created
    assert main(["embed", "--prepare-fast", "--model", str(tiny_model)]) == 0
    assert "already prepared" in capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["embed", "--prepare-fast", "--model", str(tiny_model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["distilled"] is False


def test_prepare_rejects_a_model_that_is_not_a_local_folder(tmp_path, monkeypatch):
    from app.embed.static import prepare
    from app.errors import EmbedError

    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    with pytest.raises(EmbedError, match="local model folder"):
        prepare("some-hub/model-name")
    assert not (tmp_path / "cache").exists()
