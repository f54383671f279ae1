"""Whitespace, Unicode and line-ending normalisation.

Steps, in this order (each can be switched off):

- ``newlines`` (default true): ``\\r\\n`` and lone ``\\r`` become ``\\n``, so a text saved on Windows has the
  same lines as its Unix copy (an all-CRLF page otherwise has no line ending in punctuation for FineWeb's
  ``line_punct_ratio``: every line ends in ``\\r``).
- ``unicode``: ``NFC`` (default), ``NFKC`` (also folds compatibility forms: full-width letters, ligatures) or
  ``none``; NFC makes composed and decomposed accents the same code points, which exact dedup and every
  character count depend on.
- ``trailing_spaces`` (default true): spaces and tabs at the end of each line are removed.
- ``collapse_spaces`` (default false): runs of spaces and tabs inside a line become one space (indentation
  at the start of a line is kept, so code keeps its shape).
- ``max_blank_lines`` (default 1; null for no limit): longer runs of blank lines are shortened.
- ``strip`` (default true): blank space at the start and end of the document is removed.

The result is idempotent: normalising a normalised text changes nothing (a property test checks it).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, ClassVar

from app.transforms.base import Transform, register, want_bool, want_choice, want_int

_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
_INNER = re.compile(r"(?<=\S)[ \t]{2,}|(?<=\S)\t")
_FORMS = ("NFC", "NFKC", "none")


@register
class Normalize(Transform):
    name = "normalize"
    version = 1
    label = "normalise whitespace, Unicode and line endings"
    description = "CRLF to LF, Unicode NFC, trailing spaces, blank-line runs, document ends"
    defaults: ClassVar[dict[str, Any]] = {
        "newlines": True,
        "unicode": "NFC",
        "trailing_spaces": True,
        "collapse_spaces": False,
        "max_blank_lines": 1,
        "strip": True,
    }

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        for k in ("newlines", "trailing_spaces", "collapse_spaces", "strip"):
            want_bool(options, k)
        want_choice(options, "unicode", _FORMS)
        want_int(options, "max_blank_lines", lo=0, allow_none=True)
        return options

    def apply(self, text: str) -> str:
        o = self.options
        if o["newlines"] and "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if o["unicode"] != "none" and not text.isascii():
            text = unicodedata.normalize(o["unicode"], text)
        if o["trailing_spaces"]:
            text = _TRAILING.sub("", text)
        if o["collapse_spaces"]:
            text = _INNER.sub(" ", text)
        n = o["max_blank_lines"]
        if n is not None:
            text = _blank_runs(text, n, trailing=o["trailing_spaces"])
        if o["strip"]:
            text = text.strip()
        return text


def _blank_runs(text: str, n: int, *, trailing: bool) -> str:
    """``text`` with runs of more than ``n`` blank lines (empty, or only spaces and tabs) cut to ``n``."""
    if "\n\n" not in text and not (not trailing and "\n" in text):
        return text
    out: list[str] = []
    blank = 0
    for line in text.split("\n"):
        if line.strip(" \t"):
            blank = 0
        else:
            blank += 1
            if blank > n:
                continue
        out.append(line)
    return "\n".join(out)
