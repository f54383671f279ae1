"""Shared text primitives for the heuristic families: one fast word tokenizer and the punctuation sets.

The word tokenizer is a single compiled regular expression that approximates the English tokenizer
DataTrove uses by default (spaCy's rule-based ``spacy.blank("en")``: whitespace split, then prefix,
suffix and infix punctuation, clitics such as ``n't`` and ``'s``, URLs kept whole). It is not spaCy,
but the Gopher/C4/FineWeb decisions computed from it agree with DataTrove's on >= 99% of realmix (see
``tests/test_signals_parity.py``), at a fraction of the cost.

Its whole-chunk exceptions (abbreviations, contractions) are the table of :mod:`app.signals._special`; the
letters of scripts written without spaces, which :func:`words_aware` splits, are :mod:`app.signals._unspaced`.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from itertools import chain
from typing import Any, TypeVar

from app.signals._special import special_cases
from app.signals._unspaced import _BASE, _MARK, UNSPACED

# DataTrove's/Gopher's notion of "punctuation" for symbol-only words. Written out here (our own list
# of the same characters) so the scorers never import datatrove at run time.
_PUNCT_BASE = "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
_CONTROL = "".join(chr(x) for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b))
PUNCTUATION = _PUNCT_BASE + _CONTROL

#: Characters that end a sentence: the Unicode Sentence_Terminal property plus the Khmer signs ៖ ៙ ៚
#: (the set FineWeb's line-punctuation rule and sentence splitting use).
TERMINAL_PUNCTUATION = frozenset(
    "!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e\u0964\u0965"
    "\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9\u17da\u1803\u1809\u1944"
    "\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b4e\u1b4f\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d\u1b7e\u1b7f\u1c3b\u1c3c"
    "\u1c7e\u1c7f\u2024\u203c\u203d\u2047\u2048\u2049\u2cf9\u2cfa\u2cfb\u2e2e\u2e3c\u2e53\u2e54\u2e60"
    "\u2e61\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d\uaa5e"
    "\uaa5f\uaaf0\uaaf1\uabeb\ufe12\ufe15\ufe16\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\uff61\U00010a56"
    "\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87\U00010f88"
    "\U00010f89\U00011047\U00011048\U000110be\U000110bf\U000110c0\U000110c1\U00011141\U00011142"
    "\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df\U00011238\U00011239\U0001123b"
    "\U0001123c\U000112a9\U000113d4\U000113d5\U0001144b\U0001144c\U000115c2\U000115c3\U000115c9"
    "\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf\U000115d0\U000115d1\U000115d2"
    "\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7\U00011641\U00011642\U0001173c\U0001173d"
    "\U0001173e\U00011944\U00011946\U00011a42\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42"
    "\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38"
    "\U00016b44\U00016d6e\U00016d6f\U00016e98\U0001bc9f\U0001da88"
)

# Word tokenizer pieces (see the module docstring).
_OPEN = "\"'“”‘’«»`´‚„「」『』（）〔〕【】《》〈〉⟦⟧([{<"
_PUNCT_EDGE = "…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪"
_PREFIX = re.compile("^(?:\\.\\.+|……|[" + re.escape(_OPEN + _PUNCT_EDGE + "§%=—–$£€¥₹₽~") + "]|\\+(?![0-9]))")
_UNITS = "km|kg|mg|cm|mm|ml|GB|MB|KB|TB|gb|mb|kb|lbs|lb|oz|ft|mph|hPa|m|g|K|k|T|G|M"
_SUFFIX = re.compile(
    "(?:\\.\\.+|……|['’][sS]|[" + re.escape(_OPEN + _PUNCT_EDGE + "—–") + "]"
    "|(?<=[0-9])\\+|(?<=[0-9])(?:[$£€¥%]|" + _UNITS + ")|(?<=[0-9…)\\]}\"'”’]|[^\\W\\d_A-Z])\\.|(?<=[A-Z][A-Z])\\.)$"
)
_INFIX = re.compile(
    r"(\.\.+|…|(?<=[0-9])[+\-*^](?=[0-9-])|(?<=[^\W\d_A-Z])\.(?=[^\W\d_a-z])|(?<=[^\W\d_]),(?=[^\W\d_])"
    r"|(?<=[^\W_])(?:---|--|——|[-–—~])(?=[^\W\d_])|(?<=[^\W_])[:<>=/](?=[^\W\d_]))"
)
_INITIALS = re.compile(r"^(?:[A-Za-z]\.){2,}$")
_URL = re.compile(r"^(?:https?://|www\.)\S+")
_URL_TAIL = re.compile(r"[.,;:!?)\]'\"}>]+$")
# Cheap exact pre-checks so most chunks skip the regular expressions (same results, much faster).
_PREFIX_FIRST = frozenset(_OPEN + _PUNCT_EDGE + "§%=—–$£€¥₹₽~.…+")
_SUFFIX_LAST = frozenset(_OPEN + _PUNCT_EDGE + "—–.+$£€¥%")
_UNIT_LAST = frozenset("mgbBlsztaKkTGMhPa")
_INFIX_CHARS = frozenset(".…+-*^,–—~:<>=/")


def _maybe_suffix(chunk: str) -> bool:
    last = chunk[-1]
    if last in _SUFFIX_LAST:
        return True
    if last in "sS" and len(chunk) > 1 and chunk[-2] in "'’":
        return True
    return last in _UNIT_LAST and not chunk.isalpha() and any(c.isdigit() for c in chunk)


#: Every match of :data:`_INFIX` starts at one of these characters.
_INFIX_AT = re.compile("[" + re.escape("".join(sorted(_INFIX_CHARS))) + "]")
#: Chunks longer than this split their infixes from the candidate characters only (same pieces, much faster on a
#: long run of Chinese: the infix pattern's look-behinds are tried at every position otherwise).
_LONG = 24


def _suffix(chunk: str) -> re.Match[str] | None:
    """``_SUFFIX.search(chunk)``, looking only at the last four characters unless the chunk ends with "..":
    every other alternative of the (end-anchored) pattern is at most three characters long, and a search from
    a later position still sees the characters before it for its look-behinds."""
    if chunk.endswith(".."):
        return _SUFFIX.search(chunk)
    return _SUFFIX.search(chunk, max(0, len(chunk) - 4))


def _infix_split(chunk: str) -> list[str]:
    """``_INFIX.split(chunk)``: the pieces between infixes and the infixes themselves, in order. A long chunk
    tries the pattern only where a match can start (one of :data:`_INFIX_CHARS`), left to right, as a scan does."""
    if len(chunk) <= _LONG:
        return _INFIX.split(chunk)
    out: list[str] = []
    prev = 0
    for c in _INFIX_AT.finditer(chunk):
        at = c.start()
        if at < prev:
            continue
        m = _INFIX.match(chunk, at)
        if m is not None:
            out.append(chunk[prev:at])
            out.append(m.group())
            prev = m.end()
    out.append(chunk[prev:])
    return out


SPECIAL = special_cases()


def _split_chunk(chunk: str, out: list[str]) -> None:
    tail: list[str] = []
    while chunk:
        sp = SPECIAL.get(chunk)
        if sp is None and "." in chunk and _INITIALS.match(chunk):
            sp = (chunk,)
        if sp is not None:
            out.extend(sp)
            chunk = ""
            break
        if chunk[0] in "hw" and _URL.match(chunk):
            m = _URL_TAIL.search(chunk)
            if m:
                tail[:0] = list(m.group())
                chunk = chunk[: m.start()]
            out.append(chunk)
            chunk = ""
            break
        m = _PREFIX.match(chunk) if chunk[0] in _PREFIX_FIRST else None
        if m:
            out.append(m.group())
            chunk = chunk[m.end() :]
            continue
        m = _suffix(chunk) if _maybe_suffix(chunk) else None
        if m and m.start() > 0:
            tail.insert(0, m.group())
            chunk = chunk[: m.start()]
            continue
        if m:  # the whole chunk is one suffix symbol
            out.append(chunk)
            chunk = ""
        break
    if chunk:
        if chunk.isalnum() or _INFIX_CHARS.isdisjoint(chunk):
            out.append(chunk)
        else:
            out.extend(p for p in _infix_split(chunk) if p)
    out.extend(tail)


#: Single characters that :data:`_SUFFIX` splits off the end of a chunk whatever letter precedes them.
_TAIL = frozenset(_OPEN + _PUNCT_EDGE + "—–")
#: Tokens of the other chunks seen lately (a chunk's tokens depend on the chunk alone): ``,`` ``it's`` ``(the``...
_CHUNKS: dict[str, tuple[str, ...]] = {}
_MAX_CHUNKS = 100_000


def words(text: str) -> list[str]:
    """Split ``text`` into word and punctuation tokens (DataTrove-compatible approximation)."""
    out: list[str] = []
    append = out.append
    special = SPECIAL
    tail = _TAIL
    cache = _CHUNKS
    for chunk in text.split():
        if (chunk.isalpha() or chunk.isdigit()) and chunk not in special:
            append(chunk)
            continue
        # a word then one punctuation mark ("word," "end."): what _split_chunk makes of it, without the regexes
        last = chunk[-1]
        if (
            (last in tail or (last == "." and not ("A" <= chunk[-2:-1] <= "Z")))
            and chunk[:-1].isalpha()
            and chunk not in special
            and chunk[:-1] not in special
        ):
            append(chunk[:-1])
            append(last)
            continue
        toks = cache.get(chunk)
        if toks is None:
            parts: list[str] = []
            _split_chunk(chunk, parts)
            toks = tuple(parts)
            if len(cache) >= _MAX_CHUNKS:
                cache.clear()
            cache[chunk] = toks
        out.extend(toks)
    return out


# Language-aware segmentation: the letters of scripts without spaces (app.signals._unspaced), one word each.
_UNIT = re.compile(f"[{_BASE}][{_MARK}]*|[{_MARK}]+|[^{_BASE}{_MARK}]+")
_OTHER_RUN = re.compile(f"([^{_BASE}{_MARK}]+)")
_ANY_MARK = re.compile(f"[{_MARK}]")
#: English tokens of the pieces between letters of scripts without spaces seen lately ("，" "19" "。"...).
_PIECES: dict[str, tuple[str, ...]] = {}
#: Segmentation modes: ``aware`` splits scripts without spaces into characters, ``datatrove`` keeps
#: DataTrove's English tokenizer unchanged (a run of Chinese is one word), for provable parity.
MODES = ("aware", "datatrove")


def words_aware(text: str) -> list[str]:
    """:func:`words`, then each token holding letters of a script written without spaces (Chinese,
    Japanese, Thai...) split into one word per letter (with its combining marks) and the pieces between.

    Text without such letters gets exactly :func:`words`' tokens, so English decisions stay DataTrove's;
    a Chinese paragraph counts its characters as words instead of being one long word."""
    toks = words(text)
    if text.isascii() or UNSPACED.search(text) is None:  # no letter of a script without spaces is ASCII
        return toks
    out: list[str] = []
    pieces = _PIECES
    search = UNSPACED.search
    for t in toks:
        if t.isascii() or search(t) is None:
            out.append(t)
        else:
            # alternating runs: letters and marks of scripts without spaces (even), anything else (odd)
            for i, run in enumerate(_OTHER_RUN.split(t)):
                if not run:
                    continue
                if i % 2:  # punctuation or Latin glued to the run: the English tokenizer splits it
                    toks_run = pieces.get(run)
                    if toks_run is None:
                        toks_run = tuple(words(run))
                        if len(pieces) >= _MAX_CHUNKS:
                            pieces.clear()
                        pieces[run] = toks_run
                    out.extend(toks_run)
                elif _ANY_MARK.search(run) is None:  # one word per letter
                    out.extend(run)
                else:  # each letter with the combining marks after it (marks alone: one word)
                    out.extend(_UNIT.findall(run))
    return out


def tokenize(text: str, mode: str = "aware") -> list[str]:
    """Word tokens of ``text`` under a segmentation mode (:data:`MODES`)."""
    return words(text) if mode == "datatrove" else words_aware(text)


def check_mode(mode: object) -> str:
    """``mode`` if it is one of :data:`MODES`, else a SignalError naming them."""
    from app.errors import SignalError

    if mode not in MODES:
        raise SignalError(f"unknown segmentation {mode!r}; use one of {', '.join(MODES)}")
    return str(mode)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (restored after it, even on error).

    A batch's token lists, per-line lists and result tuples make no reference cycles (reference counting frees
    them), but allocating hundreds of thousands of them triggers collections that scan them again and again as
    they accumulate: about a tenth of the document families' CPU time on realmix. Nested use is harmless."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


_F = TypeVar("_F", bound=Callable[..., Any])


def without_gc(fn: _F) -> _F:
    """Decorator: run ``fn`` under :func:`gc_paused` (a family's ``score_batch``)."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with gc_paused():
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]


#: The last batch tokenised per mode: ``{mode: [texts, tokens per line per text, tokens per text or None]}``.
_MEMO: dict[str, list] = {}


def reset_memo() -> None:
    """Forget the memoised tokens and token arrays (the engine after each batch; benchmarks: make each family pay
    for its own tokenisation)."""
    from app.signals import _token_arrays

    _MEMO.clear()
    _token_arrays.forget()


def line_words_batch(texts: list[str], mode: str = "aware") -> list[list[list[str]]]:
    """For each text, the tokens of each of its lines (``str.splitlines``) under :func:`tokenize`, memoised on
    the batch object so every family scoring the same batch tokenises it once.

    A line's tokens are exactly those of the same words in the whole text (no token spans a line break, and
    language-aware splitting works token by token), so the text's tokens are the lines' tokens in order."""
    m = _MEMO.get(mode)
    if m is not None and m[0] is texts:
        return m[1]
    fn = words if mode == "datatrove" else words_aware
    with gc_paused():  # the token lists (see gc_paused)
        res = [[fn(line) for line in t.splitlines()] for t in texts]
    _MEMO[mode] = [texts, res, None]
    return res


def words_batch(texts: list[str], mode: str = "aware") -> list[list[str]]:
    """:func:`tokenize` for a batch (the lines' tokens of :func:`line_words_batch` joined), memoised likewise."""
    per_line = line_words_batch(texts, mode)
    m = _MEMO[mode]
    if m[2] is None:
        with gc_paused():
            m[2] = [ls[0] if len(ls) == 1 else list(chain.from_iterable(ls)) for ls in per_line]
    return m[2]


def transpose(rows: list[tuple], columns: list[str]) -> dict[str, list]:
    """Per-document tuples -> ``{column: values}``."""
    if not rows:
        return {c: [] for c in columns}
    return {c: list(v) for c, v in zip(columns, zip(*rows, strict=True), strict=True)}
