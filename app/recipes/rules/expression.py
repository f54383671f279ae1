"""``expr``: keep documents for which a boolean expression in the recipes' whitelist grammar holds."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote, unquote

from app.errors import RecipeError
from app.recipes.rules.base import Context, RuleKind, Validator, register, unknown_column

#: characters an expression keeps as is in the URL (the rest of printable ASCII but ``%`` ``:`` ``;`` ``|``)
URL_SAFE = " !\"#$&'()*+,-./<=>?@[]^_`{}~"


@register
@dataclass(eq=False, kw_only=True)
class ExprRule(RuleKind):
    """``{expr: "gopher_word_count > 50 and not (c4_lorem_ipsum = 1)"}``, parsed once per rule object."""

    kind = "expr"
    expr: str = ""
    #: the column to name the rule by while its expression does not parse (a rule being edited, a URL)
    hint: str = ""

    @cached_property
    def parsed(self) -> Any:
        """The parsed expression (:func:`app.recipes.expr.parse_expr`); RecipeError when it does not parse."""
        from app.recipes.expr import parse_expr

        return parse_expr(self.expr)

    @classmethod
    def claims(cls, d: dict[str, Any]) -> bool:
        return "expr" in d

    @classmethod
    def from_dict(cls, d: dict[str, Any], v: Validator, path: tuple) -> ExprRule:
        others = [k for k in d if k not in {"expr", "label", "keep_null"}]
        if others:
            raise v.fail((*path, others[0]), "an expr rule takes only 'expr', 'label' and 'keep_null'")
        r = cls(expr=v.text(d["expr"], (*path, "expr")))
        try:
            r.parsed  # noqa: B018  (parse now: errors belong to loading, with the line)
        except RecipeError as e:
            raise v.fail((*path, "expr"), str(e)) from None
        return r

    def to_dict(self) -> dict[str, Any]:
        return {"expr": self.expr}

    @property
    def col(self) -> str:
        """The first column the expression reads ("" when none or when it does not parse)."""
        cols = self.columns()
        return cols[0] if cols else self.hint

    def columns(self) -> list[str]:
        try:
            return list(self.parsed.columns)
        except RecipeError:
            return []

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "expr": self.expr}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ExprRule:
        if not isinstance(d.get("expr"), str):
            raise RecipeError("malformed expression rule")
        return cls(expr=d["expr"], hint=d.get("col") or "")

    def url_arg(self) -> str:
        return quote(self.expr, safe=URL_SAFE)

    @classmethod
    def from_url(cls, col: str, arg: str) -> ExprRule | None:
        text = unquote(arg)
        return cls(expr=text, hint=col) if text.strip() else None

    def auto_label(self, resolved: dict[str, Any] | None = None) -> str:
        return self.expr.strip() or "(empty expression)"

    def check(self, columns: dict[str, str], where: str) -> None:
        for c in self.parsed.columns:
            if c not in columns:
                raise unknown_column(c, columns, where)

    def compile(self, ctx: Context) -> tuple[str, dict[str, Any]]:
        return self.parsed.to_sql(ctx.params, prefix=ctx.prefix + "e"), {"expr": self.expr}
