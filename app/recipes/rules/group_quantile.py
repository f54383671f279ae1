"""``group_quantile``: keep documents between two quantiles of a column *within each group* of another column.

"Keep the top 70% by ``quality_score`` within each language" is ``{signal: quality_score, min_quantile: 0.3,
by: lang_code}``. A corpus-wide quantile of an English-centric score removes most of every other language; a
quantile within each group keeps the same share of each. The per-group thresholds are resolved to values when
the recipe is compiled (one grouped query), like a ``quantile`` rule's, and written to the manifest, so an
export is reproducible from its manifest alone. Documents whose group is NULL form a group of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from app.errors import RecipeError
from app.recipes.rules.base import Context, Validator, finite, fmt, register, unknown_column
from app.recipes.rules.quantile import QuantileRule, quantile_bounds
from app.sql import qi

#: groups beyond which the rule refuses (each group is one CASE branch and two parameters)
MAX_GROUPS = 2000


@register
@dataclass(eq=False, kw_only=True)
class GroupQuantileRule(QuantileRule):
    """``{signal: quality_score, min_quantile: 0.3, by: lang_code}``: keep each group's top 70%. A quantile rule
    whose quantiles are taken within each group of ``by`` (bounds by value are not part of this kind)."""

    kind = "group_quantile"
    by: str = ""

    @classmethod
    def claims(cls, d: dict[str, Any]) -> bool:
        return "by" in d

    @classmethod
    def from_dict(cls, d: dict[str, Any], v: Validator, path: tuple) -> GroupQuantileRule:
        extra = [k for k in ("min", "max", "in", "not_in") if k in d]
        if extra:
            raise v.fail((*path, extra[0]), "a rule with 'by' takes min_quantile/max_quantile only")
        lo, hi = quantile_bounds(cls, d, v, path)
        if lo is None and hi is None:
            raise v.fail(path, "a rule with 'by' needs min_quantile or max_quantile")
        return cls(
            signal=v.text(d["signal"], (*path, "signal")),
            by=v.text(d["by"], (*path, "by")),
            min_quantile=lo,
            max_quantile=hi,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "by": self.by}

    def columns(self) -> list[str]:
        return [self.signal, self.by]

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "by": self.by}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GroupQuantileRule:
        by = d.get("by")
        if not isinstance(by, str) or not by:
            raise RecipeError("a within-group quantile rule needs its group column")
        return cls(
            signal=d["col"],
            by=by,
            min_quantile=finite(d.get("lo"), quantile=True),
            max_quantile=finite(d.get("hi"), quantile=True),
        )

    def url_arg(self) -> str:
        return f"{super().url_arg()},{quote(self.by, safe='')}"

    @classmethod
    def from_url(cls, col: str, arg: str) -> GroupQuantileRule | None:
        parts = arg.split(",")
        if len(parts) != 3 or not parts[2]:
            return None
        try:
            lo, hi = finite(parts[0], quantile=True), finite(parts[1], quantile=True)
        except RecipeError:
            return None
        return cls(signal=col, by=unquote(parts[2]), min_quantile=lo, max_quantile=hi)

    def auto_label(self, resolved: dict[str, Any] | None = None) -> str:
        parts = []
        if self.min_quantile:
            parts.append(f">= q{fmt(self.min_quantile)}")
        if self.max_quantile is not None:
            parts.append(f"<= q{fmt(self.max_quantile)}")
        return f"{self.signal} {' and '.join(parts) or '(no bound)'} within each {self.by}"

    def quantiles(self) -> list[tuple]:
        return [(self.signal, q, self.by) for q in (self.min_quantile, self.max_quantile) if q is not None]

    def check(self, columns: dict[str, str], where: str) -> None:
        super().check(columns, where)
        if self.by not in columns:
            raise unknown_column(self.by, columns, f"{where}.by")

    def compile(self, ctx: Context) -> tuple[str, dict[str, Any]]:
        col = qi(self.signal)
        if ctx.columns[self.signal].upper().startswith("BOOLEAN"):
            col = f"CAST({col} AS INTEGER)"
        by = f"CAST({qi(self.by)} AS VARCHAR)"
        conds, cuts = [], {}
        for bound, q, op in (("min", self.min_quantile, ">="), ("max", self.max_quantile, "<=")):
            if q is None:
                continue
            per_group = ctx.quantiles[(self.signal, q, self.by)]
            if len(per_group) > MAX_GROUPS:
                raise RecipeError(f"{ctx.where}: {self.by} has {len(per_group)} groups (at most {MAX_GROUPS})")
            branches = []
            for j, (g, t) in enumerate(sorted(per_group.items(), key=lambda kv: (kv[0] is None, str(kv[0])))):
                if t is None:
                    continue  # a group without values: every document of it has a NULL column and fails anyway
                p = f"{ctx.prefix}{bound}{j}"
                ctx.params[p] = float(t)
                if g is None:
                    branches.append(f"WHEN {by} IS NULL THEN ${p}")
                else:
                    ctx.params[p + "g"] = str(g)
                    branches.append(f"WHEN {by} = ${p}g THEN ${p}")
            cut = f"CASE {' '.join(branches)} END" if branches else "NULL"
            conds.append(f"{col} {op} {cut}")
            cuts[bound] = {("" if g is None else str(g)): t for g, t in per_group.items()}
        sql = "(" + " AND ".join(conds) + ")" if conds else f"({col} IS NOT NULL)"
        info = {
            "min": None,
            "max": None,
            "min_quantile": self.min_quantile,
            "max_quantile": self.max_quantile,
            "by": self.by,
            "cuts": cuts,
        }
        return sql, info

    def vector(self, state: Any, info: dict[str, Any]) -> Any:
        return None  # DuckDB evaluates the CASE over the recipe frame (row-aligned, no join)
