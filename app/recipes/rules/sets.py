"""``in`` and ``not_in``: keep documents whose column is (is not) one of a list of values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from app.errors import RecipeError
from app.recipes.rules.base import (
    Context,
    RuleKind,
    Validator,
    fmt,
    is_number_type,
    is_text_type,
    register,
    string_list,
)
from app.sql import qi


@dataclass(eq=False, kw_only=True)
class _SetRule(RuleKind):
    """Shared by ``in`` and ``not_in``; ``negate`` says which."""

    negate = False
    signal: str = ""
    values: list[Any] = field(default_factory=list)

    @classmethod
    def claims(cls, d: dict[str, Any]) -> bool:
        return cls.kind in d

    @classmethod
    def from_dict(cls, d: dict[str, Any], v: Validator, path: tuple) -> _SetRule:
        vals = d[cls.kind]
        if not isinstance(vals, list):
            vals = [vals]
        for i, x in enumerate(vals):
            if not isinstance(x, str | int | float | bool) or x is None:
                raise v.fail((*path, cls.kind, i), f"expected a string or number, got {x!r}")
        return cls(signal=v.text(d["signal"], (*path, "signal")), values=list(vals))

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, self.kind: list(self.values)}

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "values": [str(x) for x in self.values]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> _SetRule:
        return cls(signal=d["col"], values=string_list(d.get("values") or []))

    def url_arg(self) -> str:
        return "|".join(quote(str(x), safe="") for x in self.values)

    @classmethod
    def from_url(cls, col: str, arg: str) -> _SetRule | None:
        return cls(signal=col, values=[unquote(x) for x in arg.split("|") if x != ""])

    def auto_label(self, resolved: dict[str, Any] | None = None) -> str:
        op = "not in" if self.negate else "in"
        return f"{self.signal} {op} [{', '.join(map(fmt, self.values))}]"

    def check(self, columns: dict[str, str], where: str) -> None:
        t = columns[self.signal]
        for x in self.values:
            if is_number_type(t) and isinstance(x, str):
                raise RecipeError(f"{where}: {self.signal} is {t} but the list holds the text {x!r}")
            if is_text_type(t) and not isinstance(x, str):
                raise RecipeError(f"{where}: {self.signal} is text; quote {x!r} as a string")

    def compile(self, ctx: Context) -> tuple[str, dict[str, Any]]:
        if not self.values:
            return ("true" if self.negate else "false"), {"values": []}
        names = []
        for j, x in enumerate(self.values):
            ctx.params[f"{ctx.prefix}v{j}"] = x
            names.append(f"${ctx.prefix}v{j}")
        neg = "NOT " if self.negate else ""
        return f"({qi(self.signal)} {neg}IN ({', '.join(names)}))", {"values": list(self.values)}


@register
@dataclass(eq=False, kw_only=True)
class InRule(_SetRule):
    """``{signal: lang_code, in: [en, de]}``."""

    kind = "in"


@register
@dataclass(eq=False, kw_only=True)
class NotInRule(_SetRule):
    """``{signal: source, not_in: [social]}`` (NULL fails unless ``keep_null``)."""

    kind = "not_in"
    negate = True
