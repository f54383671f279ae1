"""MiniPLM-style reference-model difference: ``diff_A_B = lp_A - lp_B`` for two fitted n-gram models.

MiniPLM (Gu et al. 2024, "difference sampling") keeps documents that a strong reference model finds much
likelier than a weak one: text that is easy for both (boilerplate, repeated phrases) and text that is noise
for both (garbage, foreign scripts) get a difference near zero and fall away. Here ``A`` is typically fitted on
the target (``--on source:wiki``) and ``B`` on a small random sample (``--on random:2000``).

The difference is a stored model kind of its own (``lm_diff``), holding copies of both models' tables, so a
headless ``winnow apply --models WS`` computes it from the workspace alone, and it keeps scoring the same
numbers even when ``A`` or ``B`` is fitted again later (``winnow lm list`` then marks it stale).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from app.learn.ngram_lm import mean_logprob, nulls
from app.learn.store import StoredModel, loader, pack

KIND = "lm_diff"


def column(a: str, b: str) -> str:
    return f"diff_{a}_{b}"


def model_row(a: StoredModel, b: StoredModel) -> StoredModel:
    """The ``_models`` row of ``diff_A_B`` from the two stored n-gram models (their tables copied)."""
    arrays = {f"a_{k}": v for k, v in a.arrays().items()} | {f"b_{k}": v for k, v in b.arrays().items()}
    name = column(a.name, b.name)
    digest = hashlib.sha256(f"{KIND}:{a.digest}:{b.digest}".encode()).hexdigest()[:16]
    settings = {"a": a.name, "b": b.name, "a_digest": a.digest, "b_digest": b.digest}
    return StoredModel(name=name, kind=KIND, digest=digest, settings=settings, metrics={},
                       columns={name: "DOUBLE"}, blob=pack(arrays))  # fmt: skip


class DiffScorer:
    """``diff_A_B``: mean log-probability per token under A minus under B (NULL for a text without tokens)."""

    def __init__(self, m: StoredModel):
        arrays = m.arrays()
        self.a = {k[2:]: v for k, v in arrays.items() if k.startswith("a_")}
        self.b = {k[2:]: v for k, v in arrays.items() if k.startswith("b_")}
        self.col = m.name
        self.columns = {self.col: "DOUBLE"}

    def score(self, texts: list[str]) -> dict[str, list[Any]]:
        d = mean_logprob(self.a, texts) - mean_logprob(self.b, texts)
        return {self.col: nulls(np.asarray(d))}


@loader(KIND)
def load(m: StoredModel) -> DiffScorer:
    return DiffScorer(m)
