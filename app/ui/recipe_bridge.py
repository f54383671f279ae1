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


def borderline(con: Any, rules: list[Rule], ui_index: int, *, n: int = 3) -> dict[str, Any]:
    """Documents just above / below the cut of one rule (``app.recipes.borderline``)."""
    from app.recipes import borderline as _borderline

    return _borderline(con, recipe_from_rules(rules), check_index(rules)[ui_index], n=n, text_chars=600)


def where_sql(con: Any, rules: list[Rule]) -> tuple[str, dict[str, Any]]:
    """``(boolean SQL, named params)``: true for documents the rules keep (map colouring, selections)."""
    from app.recipes import compile_recipe

    comp = compile_recipe(con, recipe_from_rules(rules))
    return comp.where_sql, comp.params


def edge_docs(con: Any, rules: list[Rule], ui_index: int, *, n: int = 3, text_chars: int = 600) -> dict[str, Any]:
    """Like ``app.recipes.borderline`` (same thresholds, same compiled checks) but fast at 1M documents: the
    documents are chosen over ``corpus_fast`` (top-n by the rule's column, no join, no text) and only their
    few texts are then fetched by id. ``app.recipes.borderline`` orders the joined ``corpus`` view and takes
    seconds at that scale, which would hold up the next slider move."""
    from app.recipes import compile_recipe
    from app.sql import qi
    from app.ui.queries import agg_relation

    rel = agg_relation(con)
    comp = compile_recipe(con, recipe_from_rules(rules), relation=rel, bind=False)
    c = comp.checks[check_index(rules)[ui_index]]
    value = qi(c.signal) if c.signal and c.signal in comp.columns else "NULL"
    cols = f"id, source, {value} AS value"
    thr, bound = None, None
    if c.kind == "rule" and c.rule is not None and c.rule.kind in ("range", "quantile"):
        bound = "min" if c.threshold.get("min") is not None else "max"
        thr = c.threshold.get(bound)
        col = qi(c.signal)
        # no tie-break on the text id: ordering 1M strings costs 5x the top-n itself
        above = con.execute(
            f"SELECT {cols} FROM {qi(rel)} WHERE {col} >= ? ORDER BY {col} ASC LIMIT ?", [thr, int(n)]
        ).fetchall()
        below = con.execute(
            f"SELECT {cols} FROM {qi(rel)} WHERE {col} < ? ORDER BY {col} DESC LIMIT ?", [thr, int(n)]
        ).fetchall()
    else:
        # a seeded pseudo-random sample: sort only the ~2% of rows whose id hash falls in one bucket
        used = {k: v for k, v in comp.params.items() if f"${k}" in c.sql}

        def sample(flag: str) -> list:
            for pre in ("hash(id) % 50 = 7 AND ", ""):
                sql = (
                    f"SELECT {cols} FROM {qi(rel)} WHERE {pre}coalesce({c.sql}, false) = {flag} "
                    f"ORDER BY hash(id) LIMIT {int(n)}"
                )
                got = con.execute(sql, used).fetchall()
                if len(got) >= n:
                    break
            return got

        above, below = sample("true"), sample("false")
    ids = [r[0] for r in above + below]
    texts = (
        dict(
            con.execute(
                f"SELECT id, left(text, {int(text_chars)}) FROM docs WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
            ).fetchall()
        )
        if ids
        else {}
    )
    keys = ("id", "source", "value")

    def rows(rs: list) -> list[dict[str, Any]]:
        return [{**dict(zip(keys, r)), "text": texts.get(r[0], "")} for r in rs]

    return {"rule": c.label, "bound": bound, "threshold": thr, "above": rows(above), "below": rows(below)}
