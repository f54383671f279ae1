"""The fast static embedder's own token ids (app.embed.tokens) against the Rust tokenizer and model2vec.

A tiny BERT tokenizer is built in code; the reference is model2vec's ``StaticModel.encode`` (what
``StaticEmbedder`` used before), whose vectors must come back bit-equal, and the Rust tokenizer's ids
(character cut, truncation, ``[UNK]`` dropped) for the ids themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.embed.models import normalise
from app.embed.static import StaticEmbedder
from app.embed.tokens import TokenIds, chunkable

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "cat", "sat", "on", "mat", "un", "##s", "##ed", "##ing", "##at", "hello", "world", "e", "o"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~，。！")
CJK = ["好", "中", "国", "不", "错"]
# text pieces that exercise every branch: white space Python splits on but BERT deletes, NUL, combining
# marks, accents, final sigma, dotted I, the specials spelt out or broken, long words, ideographs
PIECES = [
    *WORDS[:6],
    "Hello",
    "WORLD",
    "cats",
    "unsat",
    "zzz",
    "x" * 30,
    "the" * 6,
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1f",
    "\x85",
    "\xa0",
    "\u3000",
    "\u2028",
    "\x00",
    "\x01",
    "\x7f",
    "\u200b",
    "\ufffd",
    "é",
    "É",
    "e\u0301",
    "\u0301",
    "Σ",
    "ΣΣ",
    "İ",
    "ß",
    "[CLS]",
    "[cls]",
    "[SEP",
    "]",
    "[MA\x00SK]",
    "好",
    "中国",
    "不错！",
    "a好b",
    *PUNCT[:8],
    "，",
    "。",
    "😀",
    "123",
    "4",
]


def _tokenizer(*, bert: bool = True):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    digits = [str(d) for d in range(10)]
    vocab_list = SPECIALS + WORDS + letters + ["##" + c for c in letters] + digits + PUNCT + CJK + ["σ", "ς", "ß"]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(vocab_list))}
    if bert:
        tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=12))
        tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    else:
        tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(SPECIALS)
    return tok


def _folder(tmp: Path, tok, *, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    vec = rng.standard_normal((tok.get_vocab_size(), 16)).astype(np.float32)
    tmp.mkdir(parents=True, exist_ok=True)
    np.save(tmp / "vectors.npy", vec)
    tok.save(str(tmp / "tokenizer.json"))
    return tmp


def _rust_ids(tok, texts: list[str], *, max_length: int, cut: int) -> list[list[int]]:
    """The reference ids: what model2vec's tokenize gives (truncated by the tokenizer, [UNK] dropped)."""
    from tokenizers import Tokenizer

    ref = Tokenizer.from_str(tok.to_str())
    ref.no_padding()
    ref.enable_truncation(max_length)
    unk = ref.token_to_id("[UNK]")
    encs = ref.encode_batch_fast([t[:cut] for t in texts], add_special_tokens=False)
    return [[i for i in e.ids if i != unk] for e in encs]


def _split(ids: np.ndarray, counts: np.ndarray) -> list[list[int]]:
    ends = np.cumsum(counts)
    return [ids[e - c : e].tolist() for e, c in zip(ends, counts, strict=True)]


texts_st = st.lists(st.lists(st.sampled_from(PIECES), max_size=40).map("".join), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=texts_st, max_length=st.sampled_from([1, 3, 8, 512]), cache=st.sampled_from([2, 50, 100_000]))
def test_ids_are_the_rust_tokenizers(texts: list[str], max_length: int, cache: int) -> None:
    tok = _tokenizer()
    ids = TokenIds(tok, max_length=max_length, cache_entries=cache)
    assert ids.by_space and ids.by_ideograph and ids.by_ascii
    want = _rust_ids(tok, texts, max_length=max_length, cut=ids.char_cut)
    for _ in range(2):  # cold cache, then warm
        got = _split(*ids.ids(texts))
        assert got == want
    assert len(ids.cache) <= max(cache, 1) + 2 * sum(len(t) for t in texts) + 2


def test_vectors_are_model2vecs_bit_for_bit(tmp_path: Path) -> None:
    from model2vec import StaticModel

    tok = _tokenizer()
    folder = _folder(tmp_path / "m", tok)
    rng = np.random.default_rng(3)
    texts = ["".join(rng.choice(PIECES, size=int(rng.integers(0, 60)))) for _ in range(2_000)] + ["", " \n "]
    for max_length in (4, 512):
        emb = StaticEmbedder(folder, name="tiny", max_length=max_length)
        ref = StaticModel(np.load(folder / "vectors.npy"), tok, normalize=True, max_length=max_length)
        want = normalise(ref.encode(texts, use_multiprocessing=False))
        got = emb.encode(texts)
        assert got.dtype == np.float32 and got.shape == want.shape
        assert np.array_equal(got, want)
        assert not got[-2:].any()  # texts without a token: zero vectors


def test_other_tokenizer_shapes_take_the_plain_path(tmp_path: Path) -> None:
    from model2vec import StaticModel

    tok = _tokenizer(bert=False)
    assert chunkable(tok) == (False, False)
    folder = _folder(tmp_path / "w", tok)
    texts = ["the cat sat", "Hello world!", "", "zzz the"]
    emb = StaticEmbedder(folder, name="word", max_length=2)
    assert not emb.tokens.by_space
    ref = StaticModel(np.load(folder / "vectors.npy"), tok, normalize=True, max_length=2)
    assert np.array_equal(emb.encode(texts), normalise(ref.encode(texts, use_multiprocessing=False)))


def test_added_token_made_by_a_deleted_control_character() -> None:
    # "[MA\x00SK]": the Rust tokenizer matches added tokens before it deletes NUL, so this is not [MASK]
    tok = _tokenizer()
    ids = TokenIds(tok, max_length=512)
    texts = ["a [MA\x00SK] b", "[MASK]"]
    assert _split(*ids.ids(texts)) == _rust_ids(tok, texts, max_length=512, cut=ids.char_cut)


def test_inconsistent_folder_is_one_error(tmp_path: Path) -> None:
    from app.errors import EmbedError

    tok = _tokenizer()
    folder = _folder(tmp_path / "bad", tok)
    np.save(folder / "vectors.npy", np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(EmbedError, match="inconsistent"):
        StaticEmbedder(folder, name="bad")


@pytest.mark.slow
def test_realmix_vectors_unchanged(realmix: Path) -> None:
    """Every distinct realmix text through the distilled model, against model2vec (needs the prepared model)."""
    import pyarrow.parquet as pq
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    from app.embed.static import static_folder

    try:
        _, _, folder = static_folder(None)
    except Exception as e:  # no packaged model here
        pytest.skip(f"no static model: {e}")
    if not (folder / "vectors.npy").exists():
        pytest.skip("the --fast model is not prepared (winnow embed --prepare-fast)")
    texts = pq.read_table(realmix / "realmix.parquet", columns=["text"]).column("text").to_pylist()
    texts = sorted(set(texts))
    emb = StaticEmbedder(folder, name="realmix")
    ref = StaticModel(
        np.load(folder / "vectors.npy"), Tokenizer.from_file(str(folder / "tokenizer.json")), normalize=True
    )
    for s in range(0, len(texts), 4096):
        part = texts[s : s + 4096]
        assert np.array_equal(emb.encode(part), normalise(ref.encode(part, use_multiprocessing=False)))
