"""``range``: keep documents whose column lies within ``[min, max]`` (either bound optional)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import RecipeError
from app.recipes.rules.base import Context, RuleKind, Validator, finite, fmt, is_number_type, register
from app.sql import qi

KEYS = {"signal", "min", "max", "label", "keep_null"}


def numeric_check(signal: str, columns: dict[str, str], where: str) -> None:
    """A range-like rule needs a numeric column."""
    t = columns[signal]
    if not is_number_type(t):
        raise RecipeError(f"{where}: {signal} is {t}, not a number; use in/not_in for categories")


def bounds_sql(signal: str, columns: dict[str, str], params: dict[str, Any], prefix: str, lo: Any, hi: Any) -> str:
    """``col >= $min AND col <= $max`` (booleans compared as 0/1; no bound: ``col IS NOT NULL``)."""
    col = qi(signal)
    if columns[signal].upper().startswith("BOOLEAN"):
        col = f"CAST({col} AS INTEGER)"
    conds = []
    if lo is not None:
        params[prefix + "min"] = float(lo)
        conds.append(f"{col} >= ${prefix}min")
    if hi is not None:
        params[prefix + "max"] = float(hi)
        conds.append(f"{col} <= ${prefix}max")
    return "(" + " AND ".join(conds) + ")" if conds else f"({col} IS NOT NULL)"


def bounds_label(signal: str, lo: Any, hi: Any, *, q: str = "", resolved: dict | None = None) -> str:
    """``size_words >= 50 and size_words <= 1e+05``; a quantile shows ``q0.2 (0.431)`` with its value."""
    r = resolved or {}
    parts = []
    for op, v, key in ((">=", lo, "min"), ("<=", hi, "max")):
        if v is not None:
            val = f" ({fmt(r[key])})" if q and r.get(key) is not None else ""
            parts.append(f"{signal} {op} {q}{fmt(v)}{val}")
    return " and ".join(parts) or f"{signal} (no bound)"


def range_vector(state: Any, signal: str, info: dict[str, Any], keep_null: bool) -> Any:
    return state.range_vector(signal, info.get("min"), info.get("max"), keep_null)


@register
@dataclass(eq=False, kw_only=True)
class RangeRule(RuleKind):
    """``{signal: size_words, min: 50, max: 100000}``: by value, both ends inclusive; NULL fails."""

    kind = "range"
    signal: str = ""
    min: float | None = None
    max: float | None = None

    @classmethod
    def claims(cls, d: dict[str, Any]) -> bool:
        return "signal" in d and not ({"in", "not_in", "min_quantile", "max_quantile", "by", "expr"} & set(d))

    @classmethod
    def from_dict(cls, d: dict[str, Any], v: Validator, path: tuple) -> RangeRule:
        r = cls(signal=v.text(d["signal"], (*path, "signal")))
        for k in ("min", "max"):
            if d.get(k) is not None:
                setattr(r, k, v.num(d[k], (*path, k)))
        if not ({"min", "max"} & set(d)):
            raise v.fail(path, f"rule on {r.signal!r} needs one of min, max, min_quantile, max_quantile, in, not_in")
        if r.min is not None and r.max is not None and r.min > r.max:
            raise v.fail((*path, "max"), f"max {r.max} is below min {r.min}")
        return r

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"signal": self.signal}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.min is None and self.max is None:
            out["min"] = None  # no bound yet: "not null", and it reads back as a range rule
        return out

    @property
    def lo(self) -> float | None:
        """The lower bound in the panel's vocabulary (settable: a bench or a page moves a cut through it)."""
        return self.min

    @lo.setter
    def lo(self, v: float | None) -> None:
        self.min = v

    @property
    def hi(self) -> float | None:
        return self.max

    @hi.setter
    def hi(self, v: float | None) -> None:
        self.max = v

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "lo": self.min, "hi": self.max}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RangeRule:
        return cls(signal=d["col"], min=finite(d.get("lo")), max=finite(d.get("hi")))

    def url_arg(self) -> str:
        return ",".join("" if b is None else repr(float(b)) for b in (self.min, self.max))

    @classmethod
    def from_url(cls, col: str, arg: str) -> RangeRule | None:
        lo, _, hi = arg.partition(",")
        try:
            return cls(signal=col, min=finite(lo), max=finite(hi))
        except RecipeError:
            return None

    def auto_label(self, resolved: dict[str, Any] | None = None) -> str:
        return bounds_label(self.signal, self.min, self.max)

    def check(self, columns: dict[str, str], where: str) -> None:
        numeric_check(self.signal, columns, where)

    def compile(self, ctx: Context) -> tuple[str, dict[str, Any]]:
        sql = bounds_sql(self.signal, ctx.columns, ctx.params, ctx.prefix, self.min, self.max)
        return sql, {"min": self.min, "max": self.max, "min_quantile": None, "max_quantile": None}

    def vector(self, state: Any, info: dict[str, Any]) -> Any:
        return range_vector(state, self.signal, info, self.keep_null)
