"""The Thresholds page's rules -> an ``app.recipes`` recipe, and the calls the pages make on it.

All counting, quantile resolution and borderline sampling is the recipes library's (one compiled recipe for
dashboard, CLI and report); this module only maps the dashboard's rule list onto it and back.
"""

from __future__ import annotations

from typing import Any

from app.recipes.rules import DEDUP_STEPS, RuleKind

Rule = RuleKind


def recipe_from_rules(rules: list[Rule], *, name: str | None = None, description: str | None = None):
    """The :class:`app.recipes.Recipe` the dashboard's rules mean (their objects, not a copy)."""
    from app.recipes import Recipe

    return Recipe.from_panel(rules, name=name, description=description)


def starting_points(ws: Any) -> dict[str, tuple[str, str | None]]:
    """What the Thresholds page can load: ``{choice: ("preset", name) | ("saved", name)}``."""
    from app.recipes import list_recipes
    from app.recipes.presets import PRESETS

    out: dict[str, tuple[str, str | None]] = {f"preset: {p}": ("preset", p) for p in PRESETS}
    out.update({f"saved: {r['name']}": ("saved", r["name"]) for r in list_recipes(ws)})
    return out


def load_starting_point(ws: Any, choice: tuple[str, str | None], *, language: str | None = None):
    """The recipe of a preset (for ``language``, when given) or of a saved recipe."""
    from app.recipes import Recipe, get_recipe
    from app.recipes.presets import preset

    kind, name = choice
    if kind == "preset":
        return Recipe.from_dict(preset(name, language=language or None))
    return get_recipe(ws, name)


def check_index(rules: list[Rule]) -> dict[int, int]:
    """``{ui rule index: compiled check index}``: recipe rules keep their order, dedup checks come last
    in the order exact, near, semantic (as ``app.recipes.compile_recipe`` emits them)."""
    out: dict[int, int] = {}
    k = 0
    for i, r in enumerate(rules):
        if r.in_rules:
            out[i] = k
            k += 1
    for step in DEDUP_STEPS:
        for i, r in enumerate(rules):
            if r.kind == "dedup" and r.col == step and i not in out:
                out[i] = k
                k += 1
                break
    return out


def summarize(con: Any, rules: list[Rule]) -> dict[str, Any]:
    """``app.recipes.summarize`` of the rules (kept docs/tokens, per source/lang, per rule, overlap)."""
    from app.recipes import summarize as _summarize

    # the recipes library picks the fastest relation itself (a cached column frame of corpus_fast)
    return _summarize(con, recipe_from_rules(rules))


def where_sql(con: Any, rules: list[Rule]) -> tuple[str, dict[str, Any]]:
    """``(boolean SQL, named params)``: true for documents the rules keep (map colouring, selections)."""
    from app.recipes import compile_recipe

    comp = compile_recipe(con, recipe_from_rules(rules))
    return comp.where_sql, comp.params


def edge_docs(con: Any, rules: list[Rule], ui_index: int, *, n: int = 3, text_chars: int = 600) -> dict[str, Any]:
    """The documents at the edge of one rule's cut: :func:`app.recipes.edges.edge_documents`, the picker the
    report uses too (chosen over ``corpus_fast`` without text, ties by id, only the few texts fetched)."""
    from app.recipes import compile_recipe
    from app.recipes.edges import edge_documents

    comp = compile_recipe(con, recipe_from_rules(rules), bind=False)
    return edge_documents(con, comp, check_index(rules)[ui_index], n=n, text_chars=text_chars)
