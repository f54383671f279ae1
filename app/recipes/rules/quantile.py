"""``quantile``: keep documents between two quantiles of a column over the whole corpus (resolved to values)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import RecipeError
from app.recipes.rules.base import Context, RuleKind, Validator, finite, register
from app.recipes.rules.range import bounds_label, bounds_sql, numeric_check, range_vector

KEYS = {"signal", "min_quantile", "max_quantile", "label", "keep_null"}


def quantile_bounds(cls: type, d: dict[str, Any], v: Validator, path: tuple) -> tuple[float | None, float | None]:
    """``(min_quantile, max_quantile)`` of a recipe mapping, validated (each in [0, 1], min <= max)."""
    for k in ("min", "max"):
        if k in d and f"{k}_quantile" in d:
            raise v.fail((*path, f"{k}_quantile"), f"give either {k} or {k}_quantile, not both")
    lo = float(v.num(d["min_quantile"], (*path, "min_quantile"), lo=0.0, hi=1.0)) if "min_quantile" in d else None
    hi = float(v.num(d["max_quantile"], (*path, "max_quantile"), lo=0.0, hi=1.0)) if "max_quantile" in d else None
    if lo is not None and hi is not None and lo > hi:
        raise v.fail((*path, "max_quantile"), "max_quantile is below min_quantile")
    return lo, hi


@register
@dataclass(eq=False, kw_only=True)
class QuantileRule(RuleKind):
    """``{signal: quality_score, min_quantile: 0.2}``: keep from the 20th percentile up (over every document)."""

    kind = "quantile"
    per_document = False
    signal: str = ""
    min_quantile: float | None = None
    max_quantile: float | None = None
    #: a bound by value on the other side (``{min: 5, max_quantile: 0.99}``)
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min_quantile == 0:  # ">= the smallest value" keeps what "no lower bound" keeps
            self.min_quantile = None

    @classmethod
    def claims(cls, d: dict[str, Any]) -> bool:
        return "signal" in d and bool({"min_quantile", "max_quantile"} & set(d)) and "by" not in d

    @classmethod
    def from_dict(cls, d: dict[str, Any], v: Validator, path: tuple) -> QuantileRule:
        r = cls(signal=v.text(d["signal"], (*path, "signal")))
        for k in ("min", "max"):
            if d.get(k) is not None:
                setattr(r, k, v.num(d[k], (*path, k)))
        r.min_quantile, r.max_quantile = quantile_bounds(cls, d, v, path)
        r.__post_init__()
        return r

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"signal": self.signal}
        for k in ("min", "max", "min_quantile", "max_quantile"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        if self.min_quantile is None and self.max_quantile is None:
            out["min_quantile"] = 0.0  # no bound yet: same as "not null", and it stays a quantile rule
        return out

    @property
    def lo(self) -> float | None:
        """The lower bound in the panel's vocabulary (settable: a bench or a page moves a cut through it)."""
        return self.min_quantile

    @lo.setter
    def lo(self, v: float | None) -> None:
        self.min_quantile = v

    @property
    def hi(self) -> float | None:
        return self.max_quantile

    @hi.setter
    def hi(self, v: float | None) -> None:
        self.max_quantile = v

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "lo": self.min_quantile, "hi": self.max_quantile}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> QuantileRule:
        return cls(
            signal=d["col"],
            min_quantile=finite(d.get("lo"), quantile=True),
            max_quantile=finite(d.get("hi"), quantile=True),
        )

    def url_arg(self) -> str:
        return ",".join("" if b is None else repr(float(b)) for b in (self.min_quantile, self.max_quantile))

    @classmethod
    def from_url(cls, col: str, arg: str) -> QuantileRule | None:
        lo, _, hi = arg.partition(",")
        try:
            return cls(signal=col, min_quantile=finite(lo, quantile=True), max_quantile=finite(hi, quantile=True))
        except RecipeError:
            return None

    def auto_label(self, resolved: dict[str, Any] | None = None) -> str:
        parts = [bounds_label(self.signal, self.min, self.max)] if self.min is not None or self.max is not None else []
        if self.min_quantile is not None or self.max_quantile is not None:
            parts.append(bounds_label(self.signal, self.min_quantile, self.max_quantile, q="q", resolved=resolved))
        return " and ".join(parts) or f"{self.signal} (no bound)"

    def quantiles(self) -> list[tuple]:
        return [(self.signal, q) for q in (self.min_quantile, self.max_quantile) if q is not None]

    def check(self, columns: dict[str, str], where: str) -> None:
        numeric_check(self.signal, columns, where)

    def compile(self, ctx: Context) -> tuple[str, dict[str, Any]]:
        lo = ctx.quantiles[(self.signal, self.min_quantile)] if self.min_quantile is not None else self.min
        hi = ctx.quantiles[(self.signal, self.max_quantile)] if self.max_quantile is not None else self.max
        if (self.min_quantile is not None and lo is None) or (self.max_quantile is not None and hi is None):
            raise RecipeError(f"{ctx.where}: {self.signal} has no values, so its quantile is undefined")
        sql = bounds_sql(self.signal, ctx.columns, ctx.params, ctx.prefix, lo, hi)
        return sql, {"min": lo, "max": hi, "min_quantile": self.min_quantile, "max_quantile": self.max_quantile}

    def vector(self, state: Any, info: dict[str, Any]) -> Any:
        return range_vector(state, self.signal, info, self.keep_null)
