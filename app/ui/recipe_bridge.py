"""The Thresholds page's rules -> an ``app.recipes`` recipe, and the calls the pages make on it.

All counting, quantile resolution and borderline sampling is the recipes library's (one compiled recipe for
dashboard, CLI and report); this module only maps the dashboard's rule list onto it and back.
"""

from __future__ import annotations

from typing import Any

from app.ui.state import DEDUP_KINDS, Rule, to_recipe_dict


def recipe_from_rules(rules: list[Rule], *, name: str | None = None):
    """The validated :class:`app.recipes.Recipe` for the dashboard's rules."""
    from app.recipes import Recipe

    return Recipe.from_dict(to_recipe_dict(rules, name=name))


def check_index(rules: list[Rule]) -> dict[int, int]:
    """``{ui rule index: compiled check index}``: recipe rules keep their order, dedup checks come last
    in the order exact, near, semantic (as ``app.recipes.compile_recipe`` emits them)."""
    out: dict[int, int] = {}
    k = 0
    for i, r in enumerate(rules):
        if r.kind != "dedup":
            out[i] = k
            k += 1
    for kind in DEDUP_KINDS:
        for i, r in enumerate(rules):
            if r.kind == "dedup" and r.col == kind and i not in out:
                out[i] = k
                k += 1
                break
    return out


def summarize(con: Any, rules: list[Rule]) -> dict[str, Any]:
    """``app.recipes.summarize`` of the rules (kept docs/tokens, per source/lang, per rule, overlap)."""
    from app.recipes import summarize as _summarize

    return _summarize(con, recipe_from_rules(rules), relation=summary_relation(con))


def summary_relation(con: Any) -> str:
    """``corpus_fast`` (no text, no join chain: ~10x faster at 1M docs) when it can count tokens without the
    text (``size_tokens`` or ``size_chars`` present), else ``corpus``. Same rows, same counts."""
    from app.ui.queries import agg_relation

    rel = agg_relation(con)
    if rel == "corpus_fast":
        cols = {r[0] for r in con.execute("DESCRIBE corpus_fast").fetchall()}
        if {"size_tokens", "size_chars"} & cols:
            return rel
    return "corpus"


def borderline(con: Any, rules: list[Rule], ui_index: int, *, n: int = 3) -> dict[str, Any]:
    """Documents just above / below the cut of one rule (``app.recipes.borderline``)."""
    from app.recipes import borderline as _borderline

    return _borderline(con, recipe_from_rules(rules), check_index(rules)[ui_index], n=n, text_chars=600)


def where_sql(con: Any, rules: list[Rule]) -> tuple[str, dict[str, Any]]:
    """``(boolean SQL, named params)``: true for documents the rules keep (map colouring, selections)."""
    from app.recipes import compile_recipe

    comp = compile_recipe(con, recipe_from_rules(rules))
    return comp.where_sql, comp.params
