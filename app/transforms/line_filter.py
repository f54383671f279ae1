"""Boilerplate-line removal by a line-level rule: drop the lines that match a regular expression, or that
have fewer than ``min_words`` words (menus, share buttons, "Read more", cookie banners a site repeats).

Options: ``drop_matching`` (a list of Python regular expressions searched in each line; case-insensitive
unless ``case_sensitive: true``), ``min_words`` (0 = off; words are whitespace-separated, and a line holding
letters of a script without spaces counts one word per letter, as the ``c4`` family counts them), and
``keep_blank`` (default true: blank lines separate paragraphs and are not boilerplate). At least one of
``drop_matching`` and ``min_words`` must be given. Line endings are kept as they are (``\\n``, ``\\r\\n``).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from app.signals._text import UNSPACED
from app.signals.c4 import _aware_words
from app.transforms.base import OptionError, Transform, register, want_bool, want_int

#: a pattern longer than this is refused (recipes are small documents; see app.recipes.yaml_safe)
MAX_PATTERN = 1000
#: the characters str.splitlines breaks lines at
_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@register
class LineFilter(Transform):
    name = "line_filter"
    version = 1
    label = "boilerplate line removal"
    description = "drop lines matching a regex or with fewer than N words"
    defaults: ClassVar[dict[str, Any]] = {
        "drop_matching": [],
        "min_words": 0,
        "case_sensitive": False,
        "keep_blank": True,
    }

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        want_bool(options, "case_sensitive")
        want_bool(options, "keep_blank")
        want_int(options, "min_words", lo=0)
        pats = options["drop_matching"]
        if isinstance(pats, str):
            pats = [pats]
        if not isinstance(pats, list) or not all(isinstance(p, str) and p for p in pats):
            raise OptionError("drop_matching", f"expected a list of regular expressions, got {pats!r}")
        flags = 0 if options["case_sensitive"] else re.IGNORECASE
        compiled = []
        for p in pats:
            if len(p) > MAX_PATTERN:
                raise OptionError("drop_matching", f"a pattern is {len(p)} characters long (at most {MAX_PATTERN})")
            try:
                compiled.append(re.compile(p, flags))
            except re.error as e:
                raise OptionError("drop_matching", f"{p!r} is not a regular expression: {e}") from e
        if not pats and not options["min_words"]:
            raise OptionError("drop_matching", "give drop_matching (regular expressions) or min_words (> 0)")
        self._patterns = compiled
        return {**options, "drop_matching": list(pats)}

    def _drop(self, line: str) -> bool:
        if not line.strip():
            return not self.options["keep_blank"]
        if any(p.search(line) for p in self._patterns):
            return True
        n = self.options["min_words"]
        if n:
            words = _aware_words(line) if UNSPACED.search(line) else line.split()
            return len(words) < n
        return False

    def apply(self, text: str) -> str:
        lines = text.splitlines(keepends=True)
        kept = [ln for ln in lines if not self._drop(ln.rstrip(_BREAKS))]
        if len(kept) == len(lines):
            return text
        if kept and lines[-1] == lines[-1].rstrip(_BREAKS):  # the text did not end with a line break
            kept[-1] = kept[-1].rstrip(_BREAKS)
        return "".join(kept)
