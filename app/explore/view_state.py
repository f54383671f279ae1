"""View state <-> URL query parameters, so that copying the URL restores the view.

Keys: ``ws`` workspace path, ``sig`` selected signal, ``by`` facet, ``r`` threshold rules, ``c`` map colour,
``doc`` open document, ``q`` search text, ``recipe`` recipe name. The page itself is the URL path
(``/thresholds``). Rules use a compact, readable encoding: ``kind:column:argument`` joined by ``;``, e.g.
``range:size_words:50.0,;in:lang_code:en|de;dedup:exact:`` (components percent-encoded). An ``expr`` rule's
argument is its expression with only ``%``, ``:``, ``;``, ``|`` and characters outside printable ASCII
percent-encoded (``expr:map_x:not (map_x between 1.5 and 3.2)``); its column is the first one it reads.
"""

from __future__ import annotations

from typing import Any

from app.recipes.rules import DEDUP_STEPS, KINDS, ExprRule, RuleKind, decode_url, encode_url, make

#: rule kinds the panel and the URL know (every kind in :mod:`app.recipes.rules`)
RULE_KINDS = tuple(KINDS)
#: what a ``dedup`` rule can name: the recipe's dedup steps
DEDUP_KINDS = DEDUP_STEPS
#: the "Add a rule on" choice that adds an ``expr`` rule (Thresholds page)
EXPR_ADD = "expression (any boolean SQL-like condition)"
STATE_KEYS = ("ws", "sig", "sig2", "by", "r", "c", "doc", "q", "recipe")


def Rule(kind: str, col: str = "", lo: Any = None, hi: Any = None, values: Any = None, expr: str = "") -> RuleKind:
    """A rule in the panel's vocabulary (``Rule("quantile", "quality_score", 0.05)``; older kind names such as
    ``qrange``/``notin`` are read too): a shorthand for :func:`app.recipes.rules.make`."""
    if kind == "expr":
        return expr_rule(expr, col=col)
    return make(kind, col, lo=lo, hi=hi, values=list(values or []), expr=expr)


def expr_columns(text: str) -> list[str]:
    """The columns an expression reads, in order; [] when it does not parse."""
    return ExprRule(expr=text).columns()


def expr_rule(text: str, *, col: str = "") -> ExprRule:
    """An ``expr`` rule; its ``col`` is the first column ``text`` reads (``col`` when it reads none or does
    not parse, so a rule being edited keeps the column it had)."""
    return ExprRule(expr=text, hint=col)


def encode_rules(rules: list[RuleKind]) -> str:
    """Rules -> the ``r`` query parameter (:func:`app.recipes.rules.encode_url`)."""
    return encode_url(rules)


def decode_rules(text: str | None) -> list[RuleKind]:
    """The ``r`` query parameter -> rules; malformed pieces are dropped (a URL is user input)."""
    return decode_url(text)


def to_recipe_dict(rules: list[RuleKind], *, name: str | None = None) -> dict[str, Any]:
    """The recipe (``app.recipes`` schema, version 1) these rules mean, as plain data."""
    from app.recipes import Recipe

    return Recipe.from_panel(rules, name=name).to_dict()


def from_recipe_dict(data: dict[str, Any]) -> list[RuleKind]:
    """Rules from a recipe's plain data (the parts the Thresholds page can edit; others are ignored)."""
    from app.recipes import Recipe

    return Recipe.from_dict(data).panel_rules()


def load_from_url(query_params: Any, session: Any) -> None:
    """On a session's first run, copy the URL's state into ``session`` (the URL wins over defaults)."""
    if session.get("_url_loaded"):
        return
    for k in STATE_KEYS:
        if k in query_params:
            session[k] = query_params[k]
    session["rules"] = decode_rules(session.get("r"))
    session["_url_loaded"] = True


def sync_to_url(query_params: Any, session: Any) -> None:
    """Write the session's view state into the URL (only keys that changed, to avoid needless reruns)."""
    session["r"] = encode_rules(session.get("rules") or [])
    for k in STATE_KEYS:
        v = session.get(k)
        if v in (None, ""):
            if k in query_params:
                del query_params[k]
        elif query_params.get(k) != str(v):
            query_params[k] = str(v)
