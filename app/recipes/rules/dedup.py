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

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.step not in STEPS:
            raise RecipeError(f"unknown duplicate kind {self.step!r}; choose one of {', '.join(STEPS)}")

    @classmethod
    def claims(cls, d: dict[str, Any]) -> bool:
        return False  # recipes write dedup in their own section

    @classmethod
    def from_dict(cls, d: dict[str, Any], v: Validator, path: tuple) -> DedupRule:
        raise v.fail(path, "dedup is its own recipe section: dedup: {exact: true}")

    def to_dict(self) -> dict[str, Any]:
        return {"dedup": self.step}

    @property
    def col(self) -> str:
        return self.step

    def columns(self) -> list[str]:
        return []

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DedupRule:
        return cls(step=d.get("col") or "")

    def url_arg(self) -> str:
        return ""

    @classmethod
    def from_url(cls, col: str, arg: str) -> DedupRule | None:
        return cls(step=col) if col in STEPS else None

    def auto_label(self, resolved: dict[str, Any] | None = None) -> str:
        return LABELS[self.step]
