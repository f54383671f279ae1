"""The scorer contract: one family of signals per file, found by name in a registry.

A scorer declares its output columns (name -> DuckDB type) and a version; bumping the version makes
``winnow score`` recompute that family. ``score_batch`` maps a list of texts to one list per column.
Scorers with ``scope = "corpus"`` (duplicates) need the whole workspace and implement
``score_corpus`` instead. Missing optional dependencies raise :class:`app.errors.MissingDependency`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, ClassVar

from app.errors import SignalError

REGISTRY: dict[str, type[Scorer]] = {}


class Scorer:
    """Base class of a signal family. Subclass, set the class variables, decorate with :func:`register`."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    #: output column -> DuckDB type, e.g. {"gopher_word_count": "INTEGER"}
    columns: ClassVar[dict[str, str]]
    #: output column -> one line: meaning, unit, reference
    docs: ClassVar[dict[str, str]] = {}
    #: pip packages needed at run time (checked by :meth:`check_available`)
    requires: ClassVar[tuple[str, ...]] = ()
    #: "document" (independent per text) or "corpus" (needs every document, e.g. deduplication)
    scope: ClassVar[str] = "document"
    description: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        """Return ``{column: values}`` with one value per text, for every declared column."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """What the stored values depend on besides the text: the version, plus any option that changes
        results (a block list, a model file). A changed fingerprint makes ``winnow score`` recompute."""
        return str(self.version)

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        """Corpus-scope scorers: write table ``dest`` (``id`` + every declared column, one row per document
        of ``ws``) with ``con``; return the number of rows. The engine swaps it in atomically."""
        raise NotImplementedError

    @classmethod
    def check_available(cls) -> None:
        """Raise MissingDependency when a required package is not importable."""


class SegmentedScorer(Scorer):
    """A scorer with the ``segmentation`` option: ``aware`` (the default) or ``datatrove``, how its words are
    split (:mod:`app.signals._text`). The mode is part of the fingerprint, so changing it recomputes the family."""

    def __init__(self, **options: Any) -> None:
        from app.signals._text import check_mode

        super().__init__(**options)
        self.mode = check_mode(options.get("segmentation", "aware"))

    def fingerprint(self) -> str:
        return f"{self.version}:{self.mode}"


def register(cls: type[Scorer]) -> type[Scorer]:
    """Class decorator adding a scorer to :data:`REGISTRY` under ``cls.name``."""
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise SignalError(f"two scorers are named {cls.name!r}")
    REGISTRY[cls.name] = cls
    return cls


def load_all() -> dict[str, type[Scorer]]:
    """Import every module of :mod:`app.signals` so their scorers register; return the registry."""
    import app.signals as pkg

    for m in pkgutil.iter_modules(pkg.__path__):
        if m.name not in {"base", "engine"} and not m.name.startswith("_"):
            importlib.import_module(f"app.signals.{m.name}")
    return REGISTRY


def get_scorer(name: str) -> type[Scorer]:
    """The scorer class registered as ``name``, or a SignalError listing the known names."""
    reg = load_all()
    if name not in reg:
        raise SignalError(f"unknown signal family {name!r}; known: {', '.join(sorted(reg))}")
    return reg[name]
