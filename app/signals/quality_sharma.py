"""Text quality score of Sharma et al. 2024 ("Text Quality-Based Pruning for Efficient Training of Language
Models"): 14 line-level indicators, a line score that is their weighted mean, and a document score that is
the token-weighted mean of its line scores (0 = poor, 1 = every line passes every indicator).

Weights are uniform by default. :func:`calibrate_weights` implements the paper's perplexity calibration
``w_i = max(0, (PPL_all - PPL_i) / PPL_all)`` for any perplexity callable (no language model is shipped):
``PPL_all`` is the perplexity of a sample of lines, ``PPL_i`` that of the sample lines passing indicator ``i``.
Pass the weights to the scorer with the ``weights`` option (``winnow score --quality-weights FILE``).

Part-of-speech indicators (has noun / has object / has determiner) use spaCy's ``en_core_web_sm`` tagger when
it is installed; otherwise an English word-list approximation (see :data:`POS_APPROXIMATION`).

Languages: the stop-word and part-of-speech indicators are English. With ``segmentation: aware`` (default), a
document whose letters are mostly not Latin (Chinese, Japanese, Thai, Russian, Arabic...) is scored with the
language-neutral variant: those four indicators are left out of the weighted mean (not counted as failed),
words of scripts without spaces are counted one per letter, and there the mean-word-length indicator is left
out too. Latin-script text keeps all 14 (so other Latin-script languages are still judged by English lists:
compare their scores within a language). ``segmentation: datatrove`` scores every text with all 14 as before.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from operator import mul
from typing import Any, ClassVar

from app.errors import SignalError
from app.signals._quality_words import (  # noqa: F401 (re-exported: the reference's public names)
    _CLOSERS,
    _DIGIT_PUNCT,
    _DIGIT_PUNCT_ASCII,
    _LATIN,
    _LETTER,
    _NOUN_SUFFIX,
    _OBJECT_ONLY,
    _WORD,
    _WORD_AWARE,
    DETERMINERS,
    ENGLISH_ONLY,
    FUNCTION,
    INDICATORS,
    OBJECT_PRONOUNS,
    POS_APPROXIMATION,
    SPACED_ONLY,
    STOP,
)
from app.signals._text import (
    TERMINAL_PUNCTUATION,
    check_mode,
    line_words_batch,
    without_gc,
    words,
    words_aware,
)
from app.signals._unspaced import UNSPACED
from app.signals.base import Scorer, register


def neutral_mask(text: str) -> tuple[bool, ...] | None:
    """Which indicators apply to ``text`` under the language-aware variant: None when all do (mostly Latin
    letters), else one flag per indicator (False = left out: English lists, and word length without spaces)."""
    if text.isascii():  # every letter is Latin (or there is none): all indicators apply
        return None
    letters = len(_LETTER.findall(text))
    if not letters or len(_LATIN.findall(text)) * 2 >= letters:
        return None
    unspaced = UNSPACED.search(text) is not None
    return tuple(not (k in ENGLISH_ONLY or (unspaced and k in SPACED_ONLY)) for k in INDICATORS)


def _pos_flags_approx(ws: list[str], ws_l: list[str]) -> tuple[int, int, int]:
    """(object, noun, determiner) flags of a line's words: a determiner; a determiner after the second word or
    an object pronoun (that is not also a determiner) after the first; a non-function word after a
    determiner, with a noun suffix, or capitalised after the first word."""
    det = 0 if DETERMINERS.isdisjoint(ws_l) else 1
    obj = 0 if DETERMINERS.isdisjoint(ws_l[2:]) and _OBJECT_ONLY.isdisjoint(ws_l[1:]) else 1
    noun = 0
    for i, wl in enumerate(ws_l):
        if wl in FUNCTION:
            continue
        if (i and (ws_l[i - 1] in DETERMINERS or ws[i][:1].isupper())) or _NOUN_SUFFIX.search(wl):
            noun = 1
            break
    return obj, noun, det


def line_indicators(
    line: str,
    *,
    pos: Callable[[str], tuple[int, int, int]] | None = None,
    aware: bool = False,
    n_tok: int | None = None,
) -> tuple[list[int], int]:
    """The 14 indicators (0/1, in :data:`INDICATORS` order) of one line, and its token count. ``aware``: a
    letter of a script without spaces is one word and one token. ``n_tok``: the line's token count when the
    caller already has its tokens."""
    aware = aware and UNSPACED.search(line) is not None
    if n_tok is None:
        n_tok = len(words_aware(line) if aware else words(line))
    ws = (_WORD_AWARE if aware else _WORD).findall(line)
    ws_l = list(map(str.lower, ws))
    n_w = len(ws)
    m = _LETTER.search(line)
    first = m.group() if m else ""
    first_cap = 1 if (first and (first.isupper() or not first.islower())) else 0
    all_caps = line.isupper() and sum(1 for c in line if c.isupper()) >= 2  # isupper() is rarely true
    rep_ok = 1 if n_w <= 1 or (1 - len(set(ws_l)) / n_w) <= 0.2 else 0
    non_space = len("".join(line.split()))  # str.split's whitespace is exactly regex \s
    ascii_line = line.isascii()
    n_dp = len(line) - len(line.translate(_DIGIT_PUNCT_ASCII)) if ascii_line else len(_DIGIT_PUNCT.findall(line))
    dp_ok = 1 if non_space and n_dp / non_space <= 0.25 else 0
    stripped = line.rstrip().rstrip(_CLOSERS)
    term = 1 if stripped and stripped[-1] in TERMINAL_PUNCTUATION else 0
    stops = sum(map(STOP.__contains__, ws_l))
    low = line.lower()
    no_js = 0 if ("javascript" in low or "lorem ipsum" in low) else 1
    tok_ok = 1 if 5 <= n_tok <= 256 else 0
    wc_ok = 1 if 3 <= n_w <= 100 else 0
    obj, noun, det = pos(line) if pos is not None else _pos_flags_approx(ws, ws_l)
    mean_len = sum(map(len, ws)) / n_w if n_w else 0.0
    cx_ok = 1 if 3 <= mean_len <= 10 else 0
    flags = [
        first_cap,
        0 if all_caps else 1,
        rep_ok,
        dp_ok,
        0 if "{" in line else 1,
        term,
        1 if stops >= 2 else 0,
        no_js,
        tok_ok,
        wc_ok,
        obj,
        noun,
        det,
        cx_ok,
    ]
    return flags, n_tok


def document_score(
    text: str,
    weights: Sequence[float],
    *,
    pos: Callable | None = None,
    aware: bool = False,
    line_tokens: Sequence[Sequence[str]] | None = None,
) -> float | None:
    """Token-weighted mean of the weighted line scores of the non-blank lines; None without tokens, and None
    when ``aware`` leaves out every indicator that has a weight (see :func:`neutral_mask`). ``line_tokens``:
    the tokens of each line of ``text.splitlines()`` under the same segmentation, when already known
    (:func:`app.signals._text.line_words_batch`)."""
    mask = neutral_mask(text) if aware else None
    if mask is not None:
        weights = [w if m else 0.0 for w, m in zip(weights, mask)]
    wsum = float(sum(weights))
    if not wsum:
        return None
    num = den = 0.0
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        known = None if line_tokens is None else len(line_tokens[i])
        flags, n_tok = line_indicators(line, pos=pos if mask is None else None, aware=aware, n_tok=known)
        if not n_tok:
            continue
        score = sum(map(mul, weights, flags)) / wsum
        num += score * n_tok
        den += n_tok
    return num / den if den else None


def calibrate_weights(
    texts: Sequence[str],
    perplexity: Callable[[list[str]], float],
    *,
    sample: int = 2000,
    seed: int = 0,
) -> list[float]:
    """Sharma et al.'s weights ``w_i = max(0, (PPL_all - PPL_i) / PPL_all)`` from a sample of lines.

    ``perplexity(lines) -> float`` is any language model's perplexity over a list of lines. Indicators that no
    sampled line passes get weight 0. Raises SignalError when every weight is 0 (nothing to calibrate on).
    """
    lines = [ln for t in texts for ln in t.splitlines() if ln.strip()]
    if not lines:
        raise SignalError("no text lines to calibrate the quality weights on")
    rng = random.Random(seed)
    if len(lines) > sample:
        lines = rng.sample(lines, sample)
    flags = [line_indicators(ln)[0] for ln in lines]
    ppl_all = float(perplexity(lines))
    if not ppl_all > 0:
        raise SignalError("the perplexity function returned a non-positive value")
    weights = []
    for i in range(len(INDICATORS)):
        subset = [ln for ln, f in zip(lines, flags) if f[i]]
        ppl_i = float(perplexity(subset)) if subset else ppl_all
        weights.append(max(0.0, (ppl_all - ppl_i) / ppl_all))
    if not any(weights):
        raise SignalError("every calibrated quality weight is 0 (no indicator lowers perplexity)")
    return weights


def _spacy_pos() -> Callable[[str], tuple[int, int, int]] | None:
    import importlib.util

    if importlib.util.find_spec("en_core_web_sm") is None:  # no tagger model: skip importing spaCy at all
        return None
    try:
        import spacy

        nlp = spacy.load("en_core_web_sm", disable=["ner", "lemmatizer"])
    except Exception:
        return None

    def pos(line: str) -> tuple[int, int, int]:
        doc = nlp(line[:5000])
        obj = int(any(t.dep_ in ("dobj", "obj", "iobj", "pobj", "dative") for t in doc))
        noun = int(any(t.pos_ in ("NOUN", "PROPN") for t in doc))
        det = int(any(t.pos_ == "DET" for t in doc))
        return obj, noun, det

    return pos


@register
class QualitySharma(Scorer):
    """Options: ``weights`` (14 numbers or a JSON file path), ``pos`` ("auto" | "approx"), ``segmentation``
    ("aware" default: the language-neutral variant for mostly non-Latin text; "datatrove": all 14 always)."""

    name = "quality"
    version = 2
    description = "text quality score of Sharma et al. 2024"
    columns: ClassVar[dict[str, str]] = {"quality_score": "DOUBLE", "quality_lines": "INTEGER"}
    docs: ClassVar[dict[str, str]] = {
        "quality_score": (
            "Sharma et al. 2024 text quality: token-weighted mean over lines of the weighted mean of 14 line indicators "
            "(0..1, uniform weights unless calibrated; NULL without tokens). Text whose letters are mostly not Latin "
            "is scored without the 4 English-list indicators (stop words, noun, object, determiner) and, for scripts "
            "without spaces, without the word-length one; NULL if no weighted indicator is left. POS indicators: spaCy en_core_web_sm when "
            "installed, else " + POS_APPROXIMATION
        ),
        "quality_lines": "non-blank lines scored (count)",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        w = options.get("weights")
        if isinstance(w, str):
            try:
                with open(w, encoding="utf-8") as f:
                    w = json.load(f)
            except (OSError, ValueError) as e:
                raise SignalError(f"cannot read quality weights from {w}: {e}") from e
        if w is None:
            w = [1.0] * len(INDICATORS)
        if isinstance(w, dict):
            w = [float(w.get(k, 0.0)) for k in INDICATORS]
        if len(w) != len(INDICATORS) or any(float(x) < 0 for x in w) or not any(w):
            raise SignalError(f"quality weights must be {len(INDICATORS)} non-negative numbers, not all 0")
        self.weights = [float(x) for x in w]
        self._pos = _spacy_pos() if options.get("pos", "auto") == "auto" else None
        self.mode = check_mode(options.get("segmentation", "aware"))

    def fingerprint(self) -> str:
        tag = hashlib.sha1(json.dumps(self.weights).encode()).hexdigest()[:8]
        return f"{self.version}:{tag}:{'spacy' if self._pos else 'approx'}:{self.mode}"

    @without_gc
    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        aware = self.mode == "aware"
        if self._pos is None:  # the word-list approximation: the whole batch at once, same numbers
            from app.signals._quality_batch import document_scores

            qs, nl = document_scores(texts, self.weights, line_words_batch(texts, self.mode), aware=aware)
            return {"quality_score": qs, "quality_lines": nl}
        scores, nlines = [], []
        for t, lines in zip(texts, line_words_batch(texts, self.mode), strict=True):
            scores.append(document_score(t, self.weights, pos=self._pos, aware=aware, line_tokens=lines))
            nlines.append(sum(1 for ln in t.splitlines() if ln.strip()))
        return {"quality_score": scores, "quality_lines": nlines}
