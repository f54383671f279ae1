"""Rule kinds (see :mod:`app.recipes.rules.base`): every module of this package defines one and registers it.

The functions here are the only way in from outside forms: :func:`from_json` (the panel), :func:`decode_url` /
:func:`encode_url` (the ``r`` URL parameter), :func:`from_dict` (a recipe's ``rules:`` entry, via
:mod:`app.recipes.schema`).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any
from urllib.parse import quote, unquote

from app.errors import RecipeError
from app.recipes.rules.base import ALIASES, KINDS, Context, RuleKind, Validator, register
from app.recipes.rules.dedup import STEPS as DEDUP_STEPS
from app.recipes.rules.dedup import DedupRule
from app.recipes.rules.expression import ExprRule

for _m in pkgutil.iter_modules(__path__):  # one file per kind: importing registers it
    if _m.name != "base":
        importlib.import_module(f"{__name__}.{_m.name}")


#: every key any kind's recipe form may hold (unknown keys are refused with a suggestion)
RULE_KEYS = {"signal", "min", "max", "min_quantile", "max_quantile", "in", "not_in", "expr", "label", "keep_null", "by"}

__all__ = [
    "DEDUP_STEPS",
    "KINDS",
    "RULE_KEYS",
    "Context",
    "DedupRule",
    "ExprRule",
    "RuleKind",
    "Validator",
    "decode_url",
    "encode_url",
    "from_dict",
    "from_json",
    "make",
    "register",
]


def kind_class(name: Any) -> type[RuleKind]:
    """The class of a kind by name (older names accepted); RecipeError when unknown."""
    cls = KINDS.get(ALIASES.get(name, name)) if isinstance(name, str) else None
    if cls is None:
        raise RecipeError(f"unknown rule kind {name!r}; choose one of {', '.join(KINDS)}")
    return cls


def from_dict(d: dict[str, Any], v: Validator, path: tuple) -> RuleKind:
    """A recipe rule from its mapping: the one kind that claims it builds and validates it."""
    claim = [cls for cls in KINDS.values() if cls.claims(d)]
    if not claim:
        raise v.fail(path, "a rule needs 'signal' (with min/max, min_quantile/max_quantile, in or not_in) or 'expr'")
    if len(claim) > 1:
        raise v.fail(path, f"this rule mixes the forms of {' and '.join(c.kind for c in claim)}: use one rule for each")
    rule = claim[0].from_dict(d, v, path)
    if d.get("label") is not None:
        rule.label = str(d["label"])
    if "keep_null" in d:
        rule.keep_null = v.boolean(d["keep_null"], (*path, "keep_null"))
    return rule


def from_json(d: Any) -> RuleKind:
    """A rule from the panel's JSON ``{kind, col, lo, hi, values, expr, by, uid}``; RecipeError when malformed."""
    if not isinstance(d, dict):
        raise RecipeError("malformed rule")
    cls = kind_class(d.get("kind"))
    col, uid = d.get("col") or "", d.get("uid")
    if not isinstance(col, str) or (uid is not None and not isinstance(uid, str)):
        raise RecipeError("malformed rule")
    if not col and cls is not ExprRule:
        raise RecipeError("a rule without a column")
    rule = cls.from_json({**d, "col": col})
    label, keep_null = d.get("label"), d.get("keep_null")
    if isinstance(label, str) and label.strip():
        rule.label = label[:200]
    if isinstance(keep_null, bool):
        rule.keep_null = keep_null
    if uid:
        rule.uid = uid[:32]
    return rule


def make(kind: str, col: str = "", **fields: Any) -> RuleKind:
    """A rule from the panel's vocabulary (``make("quantile", "quality_score", lo=0.05)``)."""
    return from_json({"kind": kind, "col": col, **fields})


def encode_url(rules: list[RuleKind]) -> str:
    """Rules -> the ``r`` query parameter: ``kind:column:argument`` joined by ``;`` (components encoded)."""
    return ";".join(f"{r.kind}:{quote(r.col, safe='')}:{r.url_arg()}" for r in rules)


def decode_url(text: str | None) -> list[RuleKind]:
    """The ``r`` query parameter -> rules; malformed pieces are dropped (a URL is user input)."""
    out: list[RuleKind] = []
    for tok in (text or "").split(";"):
        parts = tok.split(":", 2)
        if len(parts) != 3:
            continue
        kind = ALIASES.get(parts[0], parts[0])
        cls = KINDS.get(kind)
        if cls is None or not (parts[1] or cls is ExprRule):
            continue
        try:
            rule = cls.from_url(unquote(parts[1]), parts[2])
        except (RecipeError, ValueError):
            continue
        if rule is not None:
            out.append(rule)
    return out
