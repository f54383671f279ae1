"""Letters of scripts written without spaces between words (Han, kana, Thai, Lao, Tibetan, Myanmar, Khmer).

The character classes (:data:`_BASE` letters, :data:`_MARK` combining marks) that the language-aware
segmentation (:func:`app.signals._text.words_aware`) splits one word per letter, and that several families
(quality, near dedup, Gopher) test tokens against; built once from the Unicode database at import.
"""

from __future__ import annotations

import re

# Scripts written without spaces between words (Han, kana, Thai, Lao, Tibetan, Myanmar, Khmer). In the
# language-aware segmentation each of their letters, with the combining marks after it, is one word.
_UNSPACED_BLOCKS = (
    (0x0E00, 0x0EFF),
    (0x0F00, 0x0FFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x3040, 0x30FF),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F),
)


def _char_class(pred: object) -> str:
    """A regex character class of the code points of :data:`_UNSPACED_BLOCKS` whose category passes."""
    import unicodedata

    runs: list[tuple[int, int]] = []
    for a, b in _UNSPACED_BLOCKS:
        for c in range(a, b + 1):
            if pred(unicodedata.category(chr(c))):  # type: ignore[operator]
                if runs and runs[-1][1] == c - 1:
                    runs[-1] = (runs[-1][0], c)
                else:
                    runs.append((c, c))
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in runs)


_BASE = _char_class(lambda k: k in ("Lo", "Lm")) + "\U00020000-\U0003134f"
_MARK = _char_class(lambda k: k in ("Mn", "Mc"))
#: Any letter or mark of a script written without spaces.
UNSPACED = re.compile(f"[{_BASE}{_MARK}]")


def is_unspaced(tok: str) -> bool:
    """True for a token that is one unit of a script written without spaces (see :func:`app.signals._text.words_aware`)."""
    return bool(tok) and UNSPACED.match(tok) is not None


def count_unspaced(toks: list[str]) -> int:
    """How many of ``toks`` are units of a script written without spaces (:func:`is_unspaced`)."""
    return len(list(filter(None, map(UNSPACED.match, toks))))
