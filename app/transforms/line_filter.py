"""Boilerplate-line removal by a line-level rule: drop the lines that match a regular expression, or that
have fewer than ``min_words`` words (menus, share buttons, "Read more", cookie banners a site repeats).

Options: ``drop_matching`` (a list of Python regular expressions searched in each line; case-insensitive
unless ``case_sensitive: true``), ``min_words`` (0 = off; words are whitespace-separated, and with
``segmentation: aware``, the default, a line holding letters of a script without spaces counts one word per
letter, as the ``c4`` family counts them; ``datatrove``: whitespace only), ``keep_blank`` (default true: blank
lines separate paragraphs and are not boilerplate) and ``timeout_s``. At least one of ``drop_matching`` and
``min_words`` must be given. Line endings are kept as they are (``\\n``, ``\\r\\n``).

Runaway patterns: a user's pattern can backtrack catastrophically (``(a|aa)+$`` on a long run of ``a``, nested
repeats) and would hang an export on one line. The patterns run on the ``regex`` module (Python ``re`` syntax,
with a ``timeout``): a search that takes longer than ``timeout_s`` (default 1 s; the module checks the clock
every so often, so it stops within a few times that) stops the export with one line naming the pattern, rather
than dropping or keeping that line silently.
"""

from __future__ import annotations

from typing import Any, ClassVar

import regex

from app.errors import RecipeError
from app.signals._text import MODES
from app.signals._unspaced import UNSPACED
from app.signals.c4 import _aware_words
from app.transforms.base import OptionError, Transform, register, want_bool, want_choice, want_int

#: a pattern longer than this is refused (recipes are small documents; see app.recipes.yaml_safe)
MAX_PATTERN = 1000
#: the most seconds ``timeout_s`` may give one search of one line
MAX_TIMEOUT = 60.0
#: the characters str.splitlines breaks lines at
_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@register
class LineFilter(Transform):
    name = "line_filter"
    version = 2  # 2: patterns run on the regex module with a timeout; the segmentation option
    label = "boilerplate line removal"
    description = "drop lines matching a regex or with fewer than N words"
    defaults: ClassVar[dict[str, Any]] = {
        "drop_matching": [],
        "min_words": 0,
        "case_sensitive": False,
        "keep_blank": True,
        "segmentation": "aware",
        "timeout_s": 1.0,
    }

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        want_bool(options, "case_sensitive")
        want_bool(options, "keep_blank")
        want_int(options, "min_words", lo=0)
        want_choice(options, "segmentation", tuple(MODES))
        t = options["timeout_s"]
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= MAX_TIMEOUT:
            raise OptionError("timeout_s", f"expected seconds between 0 and {MAX_TIMEOUT:g}, got {t!r}")
        pats = options["drop_matching"]
        if isinstance(pats, str):
            pats = [pats]
        if not isinstance(pats, list) or not all(isinstance(p, str) and p for p in pats):
            raise OptionError("drop_matching", f"expected a list of regular expressions, got {pats!r}")
        flags = 0 if options["case_sensitive"] else regex.IGNORECASE
        compiled = []
        for p in pats:
            if len(p) > MAX_PATTERN:
                raise OptionError("drop_matching", f"a pattern is {len(p)} characters long (at most {MAX_PATTERN})")
            try:
                compiled.append(regex.compile(p, flags))
            except regex.error as e:
                raise OptionError("drop_matching", f"{p!r} is not a regular expression: {e}") from e
        if not pats and not options["min_words"]:
            raise OptionError("drop_matching", "give drop_matching (regular expressions) or min_words (> 0)")
        self._patterns = compiled
        return {**options, "drop_matching": list(pats), "timeout_s": float(t)}

    def _drop(self, line: str) -> bool:
        if not line.strip():
            return not self.options["keep_blank"]
        if self._patterns and self._matches(line):
            return True
        n = self.options["min_words"]
        if n:
            aware = self.options["segmentation"] == "aware" and UNSPACED.search(line)
            words = _aware_words(line) if aware else line.split()
            return len(words) < n
        return False

    def _matches(self, line: str) -> bool:
        limit = self.options["timeout_s"]
        for p in self._patterns:
            try:
                if p.search(line, timeout=limit):
                    return True
            except TimeoutError as e:
                shown = p.pattern if len(p.pattern) <= 80 else p.pattern[:80] + "..."
                raise RecipeError(
                    f"line_filter: the pattern {shown!r} took over {limit:g} s on one line of {len(line):,} "
                    "characters (runaway backtracking, e.g. a repeated group whose choices overlap, such as (a|aa)+); "
                    "simplify it or raise line_filter's timeout_s"
                ) from e
        return False

    def apply(self, text: str) -> str:
        lines = text.splitlines(keepends=True)
        kept = [ln for ln in lines if not self._drop(ln.rstrip(_BREAKS))]
        if len(kept) == len(lines):
            return text
        if kept and lines[-1] == lines[-1].rstrip(_BREAKS):  # the text did not end with a line break
            kept[-1] = kept[-1].rstrip(_BREAKS)
        return "".join(kept)
