"""C4 line removal (Raffel et al. 2020), the part of DataTrove's ``C4QualityFilter`` that rewrites the text.

Each line is stripped and then removed when: one of its words is longer than ``max_word_length`` characters;
(after deleting Wikipedia citations such as ``[1]``, ``[edit]``, ``[citation needed]``) it does not end in
terminal punctuation ``. ? ! " '`` or ends in ``...``; it has fewer than ``min_words`` words; it mentions
"javascript"; it holds a cookie / privacy / terms-of-use phrase. The surviving lines are joined with ``\\n``.

C4 also drops whole pages (a surviving line with "lorem ipsum" or ``{``, fewer than five sentences). A transform
never drops a document: with ``page_markers: keep`` (the default) the lines that make C4 drop a page stay in
the text, in C4's order of checks (a "javascript" line is removed before its ``{`` is looked at), so the
``c4`` rules (``c4_lorem_ipsum``, ``c4_curly_bracket``, ``c4_sentences`` computed on the cleaned text with
``transforms.score: cleaned``) drop exactly the pages C4 drops; ``page_markers: drop`` removes such lines too.

The word lists, punctuation and the language-aware segmentation (option ``segmentation``, as the ``c4``
signal family: ``aware`` also ends lines with ``。 ！ ？`` and counts letters of scripts without spaces as
words; ``datatrove`` keeps C4's Latin rules) are the ``c4`` signal family's own, imported from
:mod:`app.signals.c4`, so the transform and the signals can never disagree about what a kept line is.
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.signals._text import MODES
from app.signals._unspaced import UNSPACED
from app.signals.c4 import _POLICY, AWARE_END_PUNCTUATION, CITATION, END_PUNCTUATION, _aware_words
from app.transforms.base import Transform, register, want_bool, want_choice, want_int


@register
class C4Lines(Transform):
    name = "c4_lines"
    version = 1
    label = "C4 line removal"
    description = "drop lines without terminal punctuation, with < 3 words, javascript or cookie/policy lines"
    defaults: ClassVar[dict[str, Any]] = {
        "remove_citations": True,
        "terminal_punct": True,
        "min_words": 3,
        "max_word_length": 1000,
        "javascript": True,
        "policy": True,
        "page_markers": "keep",
        "segmentation": "aware",
    }

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        for k in ("remove_citations", "terminal_punct", "javascript", "policy"):
            want_bool(options, k)
        want_int(options, "min_words", lo=0)
        want_int(options, "max_word_length", lo=1, allow_none=True)
        want_choice(options, "page_markers", ("keep", "drop"))
        want_choice(options, "segmentation", tuple(MODES))
        return options

    def apply(self, text: str) -> str:
        o = self.options
        aware_mode = o["segmentation"] == "aware"
        ends = AWARE_END_PUNCTUATION if aware_mode else END_PUNCTUATION
        aware = aware_mode and UNSPACED.search(text) is not None
        longest, min_words, keep_markers = o["max_word_length"], o["min_words"], o["page_markers"] == "keep"
        kept: list[str] = []
        for raw in text.splitlines():
            line = raw.strip()
            words = _aware_words(line) if aware and UNSPACED.search(line) else line.split()
            if longest is not None and len(line) > longest and any(len(w) > longest for w in words):
                continue
            if o["remove_citations"] and "[" in line:
                line = CITATION.sub("", line)
            if o["terminal_punct"] and (not line.endswith(ends) or line.endswith("...")):
                continue
            if len(words) < min_words:
                continue
            low = line.lower()
            if "lorem ipsum" in low:  # C4 drops the page here, before its javascript check
                if keep_markers:
                    kept.append(line)
                continue
            if o["javascript"] and "javascript" in low:
                continue
            if "{" in line:  # C4 drops the page here, before its policy check
                if keep_markers:
                    kept.append(line)
                continue
            if o["policy"] and _POLICY.search(low):
                continue
            kept.append(line)
        return "\n".join(kept).strip()
