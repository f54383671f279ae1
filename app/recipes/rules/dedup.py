"""``dedup``: the panel's and the URL's form of one of the recipe's dedup steps (``dedup: {exact: true}``).

It is not one of ``Recipe.rules``: dedup runs after every rule, over the survivors, and is compiled by
:func:`app.recipes.compile.compile_recipe` from ``Recipe.dedup``. This class gives it the same forms as the
rules so the panel, the URL and the session hold one list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import RecipeError
from app.recipes.rules.base import RuleKind, Validator, register

#: what a dedup rule can name: the recipe's dedup steps, in the order they run
STEPS = ("exact", "near", "semantic")
LABELS = {
    "exact": "exact duplicates (one per cluster: the smallest surviving id)",
    "near": "near duplicates (MinHash; one per cluster: the smallest surviving id)",
    "semantic": "semantic duplicates (removed when the document duplicated is kept)",
}


@register
@dataclass(eq=False, kw_only=True)
class DedupRule(RuleKind):
    """One dedup step (``step``: exact, near or semantic)."""

    kind = "dedup"
    in_rules = False
    per_document = False
    step: str = "exact"
    #: near only: the recipe's own Jaccard threshold (None: the workspace's scored clusters as they are)
    threshold: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.step not in STEPS:
            raise RecipeError(f"unknown duplicate kind {self.step!r}; choose one of {', '.join(STEPS)}")
        if self.threshold is not None:
            if self.step != "near":
                raise RecipeError(f"only near duplicates take a Jaccard threshold, not {self.step}")
            if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float):
                raise RecipeError(f"a near-duplicate Jaccard threshold is a number in (0, 1], not {self.threshold!r}")
            if not 0 < self.threshold <= 1:
                raise RecipeError(f"a near-duplicate Jaccard threshold is in (0, 1], not {self.threshold!r}")
            self.threshold = float(self.threshold)

    @classmethod
    def claims(cls, d: dict[str, Any]) -> bool:
        return False  # recipes write dedup in their own section

    @classmethod
    def from_dict(cls, d: dict[str, Any], v: Validator, path: tuple) -> DedupRule:
        raise v.fail(path, "dedup is its own recipe section: dedup: {exact: true}")

    def to_dict(self) -> dict[str, Any]:
        return {"dedup": self.step} if self.threshold is None else {"dedup": self.step, "threshold": self.threshold}

    def to_json(self) -> dict[str, Any]:
        """The panel's form; a near step's threshold travels as ``lo`` (the lowest Jaccard that is a duplicate)."""
        return {**super().to_json(), "lo": self.threshold}

    @property
    def col(self) -> str:
        return self.step

    def columns(self) -> list[str]:
        return []

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DedupRule:
        col = d.get("col") or ""
        lo = d.get("lo")
        return cls(step=col, threshold=lo if col == "near" and lo is not None else None)

    def url_arg(self) -> str:
        return "" if self.threshold is None else f"{self.threshold:g}"

    @classmethod
    def from_url(cls, col: str, arg: str) -> DedupRule | None:
        if col not in STEPS:
            return None
        return cls(step=col, threshold=float(arg) if arg and col == "near" else None)

    def auto_label(self, resolved: dict[str, Any] | None = None) -> str:
        if self.step == "near" and self.threshold is not None:
            return f"near duplicates at Jaccard >= {self.threshold:g} (MinHash; one per cluster: the smallest surviving id)"
        return LABELS[self.step]
