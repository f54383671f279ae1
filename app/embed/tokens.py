"""Token ids for the static embedder (``--fast``): the ids the Rust tokenizer gives, for a fraction of its CPU.

Why: profiling ``winnow embed --fast`` on realmix put ~85% of its CPU inside ``tokenizers``: the BERT
normaliser tracks an alignment per character, so even a warm tokenizer costs ~1 µs a character. The table
lookup and mean that follow are cheap.

How, exactly: a BERT-style tokenizer (``BertNormalizer`` + ``BertPreTokenizer`` + ``WordPiece``) ends a word at
every white-space character, and nothing in its normaliser joins characters across one (it deletes control
characters first: those Python's ``str.split`` counts as white space, such as ``\x0b`` or ``\x85``, are deleted
here too before splitting). So a document's ids are the concatenation of the ids of its chunks, and with
``handle_chinese_chars`` every CJK ideograph is a word of its own, so a chunk's ids are in turn those of its
ideographs and the runs between them. Chunks repeat (word frequencies are Zipfian), so each distinct chunk
is tokenised once by the real tokenizer and its ids kept in a bounded dictionary; a document then costs a
``split`` and a dictionary look-up a chunk, for a whole batch at once (the documents joined by a separator
chunk that no text can make). Truncation (the character cut, then the first ``max_length``
tokens) and the removal of ``[UNK]`` follow model2vec's ``StaticModel.encode``, so the ids (and so the
vectors) are the same. Tokenizers of other shapes (byte-level BPE, SentencePiece: a space belongs to the
next token there) take the plain path: the whole documents through ``encode_batch_fast``.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Sequence
from itertools import chain, compress, filterfalse, repeat
from operator import is_
from typing import Any

import numpy as np

#: most distinct chunks remembered; the dictionary is emptied when a batch takes it past this (~150 bytes
#: an entry: ~75 MB at most), so memory stays bounded on a corpus of any size
CACHE_ENTRIES = 500_000
# the ideograph ranges the BERT normaliser pads with spaces (``handle_chinese_chars``)
_CJK = (
    "\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002b73f"
    "\U0002b740-\U0002b81f\U0002b920-\U0002ceaf\U0002f800-\U0002fa1f"
)
_PIECE = re.compile(f"[{_CJK}]|[^{_CJK}]+")
_HAS_SPACE_OR_CJK = re.compile(f"[\\s{_CJK}]")
# a lower-cased printable-ASCII chunk's words under BertPreTokenizer: letter/digit runs, each punctuation alone
_ASCII_WORD = re.compile(r"[a-z0-9]+|[^a-z0-9]")
# white space to str.split but control characters (Cc) to the BERT normaliser, which deletes them: deleted first
_SPLIT_JOINERS = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
_JOINERS = re.compile("[\x00\x0b\x0c\x1c-\x1f\x85]")
# the documents of a batch are joined by this; the normaliser deletes NUL, so it is deleted from a text holding one
_SEP = " \x00 "
_SEP_IDS = array("i", [-1]).tobytes()
assert array("i").itemsize == 4  # token ids are kept as native int32 bytes


def chunkable(tokenizer: Any) -> tuple[bool, bool]:
    """``(by_space, by_ideograph)``: whether ``tokenizer`` (a ``tokenizers.Tokenizer``) is the BERT shape whose
    ids are the concatenation of its white-space-separated chunks' ids, and whether each CJK ideograph is a
    word of its own. Added tokens are matched before normalisation, so one holding a space or an ideograph
    (none in BERT vocabularies) turns the cached path off."""
    conf = json.loads(tokenizer.to_str())
    norm, pre, model = conf.get("normalizer") or {}, conf.get("pre_tokenizer") or {}, conf.get("model") or {}
    added = [str(t.get("content", "")) for t in conf.get("added_tokens") or []]
    ok = (
        norm.get("type") == "BertNormalizer"
        and bool(norm.get("clean_text"))
        and pre.get("type") == "BertPreTokenizer"
        and model.get("type") == "WordPiece"
        and not any(_HAS_SPACE_OR_CJK.search(t) or _JOINERS.search(t) for t in added)
    )
    return ok, ok and bool(norm.get("handle_chinese_chars"))


class TokenIds:
    """Token ids of documents as model2vec's ``StaticModel`` makes them: each text cut to ``max_length x
    median token length`` characters, tokenised without special tokens, truncated to ``max_length`` tokens,
    ``[UNK]`` dropped. ``tokenizer`` is a ``tokenizers.Tokenizer``; it is copied, never changed."""

    def __init__(self, tokenizer: Any, *, max_length: int, cache_entries: int = CACHE_ENTRIES):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        vocab = sorted(self.tokenizer.get_vocab().items(), key=lambda kv: kv[1])
        self.vocab_size = len(vocab)
        self.max_length = int(max_length)
        # model2vec's character cut: max_length times the median token length, on the raw text
        self.char_cut = self.max_length * int(np.median([len(t) for t, _ in vocab]))
        unk = getattr(self.tokenizer.model, "unk_token", None)
        self.unk_id = self.tokenizer.token_to_id(unk) if unk is not None else None
        self.by_space, self.by_ideograph = chunkable(self.tokenizer)
        self.cache_entries = int(cache_entries)
        self.cache: dict[str, bytes] = {_SEP.strip(): _SEP_IDS}
        # WordPiece in Python for printable-ASCII chunks (the Rust tokenizer costs ~15 us a chunk; this ~2 us)
        conf = json.loads(self.tokenizer.to_str())
        model = conf.get("model") or {}
        added = [str(t.get("content", "")).lower() for t in conf.get("added_tokens") or []]
        self.vocab: dict[str, int] = dict(vocab)
        self.prefix = str(model.get("continuing_subword_prefix", "##"))
        self.max_chars = int(model.get("max_input_chars_per_word", 100))
        self.longest = max((len(t) for t in self.vocab), default=1)  # no longer piece can match
        self.by_ascii = self.by_space and self.unk_id is not None
        # an added token is matched before normalisation: a chunk holding one takes the Rust path
        self._added = re.compile("|".join(re.escape(t) for t in added if t)) if any(added) else None
        self.words: dict[str, bytes] = {}

    def ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, counts)``: every document's kept token ids (int32, in order, documents one after another)
        and how many each has (int64, ``len(texts)``; 0 for a document with no known token)."""
        if not len(texts):
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
        flat, lens = self._cached(texts) if self.by_space else self._plain(texts)
        pos = np.arange(len(flat), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
        keep = pos < self.max_length
        if self.unk_id is not None:
            keep &= flat != self.unk_id
        doc = np.repeat(np.arange(len(texts), dtype=np.int64), lens)
        return flat[keep], np.bincount(doc[keep], minlength=len(texts)).astype(np.int64)

    def _plain(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Whole documents through the Rust tokenizer (any tokenizer shape): ``(ids, tokens a document)``."""
        cut = self.char_cut
        encs = self.tokenizer.encode_batch_fast([t[:cut] for t in texts], add_special_tokens=False)
        lens = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        flat = np.fromiter(chain.from_iterable(e.ids for e in encs), dtype=np.int32, count=int(lens.sum()))
        return flat, lens

    def _cached(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The batch joined by :data:`_SEP`, split into chunks, each looked up in the cache (the new ones
        tokenised once, see the module doc): ``(ids, tokens a document)``."""
        cut = self.char_cut
        cuts = [t[:cut] for t in texts]
        big = _SEP.join(cuts)
        if big.count("\x00") != len(cuts) - 1 or _SPLIT_JOINERS.search(big):
            cleaned = [_JOINERS.sub("", t) for t in cuts]
            if self._added is not None and any(
                a != b and self._added.search(b.lower()) for a, b in zip(cuts, cleaned, strict=True)
            ):
                return self._plain(texts)  # a deletion could make an added token: the tokenizer's own path
            big = _SEP.join(cleaned)
        chunks = big.split()
        cache = self.cache
        pieces = list(map(cache.get, chunks))
        if None in pieces:
            new = set(compress(chunks, map(is_, pieces, repeat(None))))
            if len(cache) + len(new) > self.cache_entries:
                cache.clear()
                self.words.clear()
                cache[_SEP.strip()] = _SEP_IDS
                new = set(chunks)
            self._learn(new)
            pieces = list(map(cache.__getitem__, chunks))
        flat = np.frombuffer(b"".join(pieces), dtype=np.int32)
        sep = flat == -1
        bounds = np.concatenate(([-1], np.flatnonzero(sep), [len(flat)]))
        return flat[~sep], np.diff(bounds) - 1

    def _learn(self, new: set[str]) -> None:
        """Tokenise the ``new`` chunks into the cache (int32 bytes each), ideograph by ideograph when allowed."""
        cache = self.cache
        split: dict[str, list[str]] = {}
        need = set(new)
        if self.by_ideograph:
            for c in new:
                if not c.isascii():
                    parts = _PIECE.findall(c)
                    if len(parts) > 1:
                        split[c] = parts
                        need.update(parts)
            need.difference_update(split)
        todo = list(filterfalse(cache.__contains__, need))
        if self.by_ascii:
            rust = []
            for c in todo:
                if c.isascii() and c.isprintable():
                    low = c.lower()
                    if self._added is None or not self._added.search(low):
                        cache[c] = self._ascii_ids(low)
                        continue
                rust.append(c)
            todo = rust
        for c, enc in zip(todo, self.tokenizer.encode_batch_fast(todo, add_special_tokens=False), strict=True):
            cache[c] = array("i", enc.ids).tobytes()
        for c, parts in split.items():
            cache[c] = b"".join(map(cache.__getitem__, parts))

    def _ascii_ids(self, low: str) -> bytes:
        """Ids of a lower-cased printable-ASCII chunk without spaces: on such text the BERT normaliser only
        lower-cases, and the pre-tokeniser cuts letter/digit runs and single punctuation marks."""
        words = self.words
        found = _ASCII_WORD.findall(low)
        for w in filterfalse(words.__contains__, found):
            words[w] = self._wordpiece(w)
        return b"".join(map(words.__getitem__, found))

    def _wordpiece(self, w: str) -> bytes:
        """WordPiece: greedy longest-match-first pieces of ``w`` (continuations carry the prefix); a word it
        cannot cover, or longer than ``max_chars``, is one ``[UNK]``."""
        vocab, prefix = self.vocab, self.prefix
        pieces: list[int] = []
        start, n = 0, len(w)
        if n > self.max_chars:
            return array("i", [self.unk_id]).tobytes()
        while start < n:
            end = min(n, start + self.longest)
            while end > start:
                i = vocab.get(w[start:end] if start == 0 else prefix + w[start:end])
                if i is not None:
                    break
                end -= 1
            else:  # no vocabulary entry covers w[start:]: the whole word is [UNK]
                return array("i", [self.unk_id]).tobytes()
            pieces.append(i)
            start = end
        return array("i", pieces).tobytes()
