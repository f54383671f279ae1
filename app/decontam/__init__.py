"""Decontamination: find evaluation (benchmark) text inside the training corpus.

:mod:`app.decontam.text` normalises text and hashes word n-grams; :mod:`app.decontam.index` indexes the
benchmark n-grams and matches documents against them; :mod:`app.decontam.store` keeps registered
benchmarks in the workspace. The per-document signals come from the ``decontam`` scorer
(:mod:`app.signals.decontam`), so recipes filter on them like on any other signal.
"""

from __future__ import annotations

from app.errors import WinnowError


class DecontamError(WinnowError):
    """A benchmark file cannot be read or registered, or names a field it does not have."""
