"""The Thresholds page's rules -> an ``app.recipes`` recipe, and the calls the pages make on it.

All counting, quantile resolution and borderline sampling is the recipes library's (one compiled recipe for
dashboard, CLI and report); this module only maps the dashboard's rule list onto it and back.
"""

from __future__ import annotations

from typing import Any

from app.recipes.rules import DEDUP_STEPS, RuleKind

Rule = RuleKind


#: the largest recipe file the Thresholds page reads (a recipe is a few kB; anything larger is not one)
MAX_RECIPE_BYTES = 1 << 20


def recipe_from_rules(
    rules: list[Rule], *, name: str | None = None, description: str | None = None, base: dict[str, Any] | None = None
):
    """The :class:`app.recipes.Recipe` the dashboard's rules mean (their objects, not a copy). ``base``
    (:func:`stage_base`): the stages the panel does not edit -- balancing, sampling, output columns, mixture,
    annotations, ``dedup.over`` -- kept from a loaded recipe, so saving from the page keeps every stage."""
    from app.recipes import Recipe

    panel = Recipe.from_panel(rules, name=name, description=description)
    if not base:
        return panel
    data = {**base, **{k: v for k, v in panel.to_dict().items() if k != "dedup"}}
    dedup = {k: v for k, v in (base.get("dedup") or {}).items() if k not in DEDUP_STEPS}
    dedup.update(panel.dedup.to_dict())
    data.pop("dedup", None)
    if any(dedup.get(s) for s in DEDUP_STEPS):
        data["dedup"] = {k: v for k, v in dedup.items() if k != "over" or v != "survivors"}
    return Recipe.from_dict(data)


def stage_base(recipe: Any) -> dict[str, Any]:
    """What of ``recipe`` the panel's rule list does not hold (every section but the rules, the dedup steps,
    the name and the description), as plain recipe data for :func:`recipe_from_rules`'s ``base``."""
    d = recipe.to_dict()
    out = {k: v for k, v in d.items() if k not in ("rules", "dedup", "name", "description", "version")}
    over = (d.get("dedup") or {}).get("over")
    if over:
        out["dedup"] = {"over": over}
    return out


def with_stages(
    base: dict[str, Any] | None, *, balance: list[dict[str, Any]] | None, sample: dict[str, Any] | None
) -> dict[str, Any]:
    """``base`` with its balance steps and sample replaced (an empty list / None removes them)."""
    out = dict(base or {})
    out.pop("balance", None)
    out.pop("sample", None)
    if balance:
        out["balance"] = [dict(b) for b in balance]
    if sample:
        out["sample"] = dict(sample)
    return out


def load_recipe_text(data: bytes | str, *, where: str = "the recipe file"):
    """A recipe from the bytes of an uploaded YAML file (RecipeError naming the line when it is not one)."""
    from app.errors import RecipeError
    from app.recipes import load_recipe

    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError(f"{where} is {len(data):,} bytes; a recipe is at most {MAX_RECIPE_BYTES:,}")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise RecipeError(f"{where} is not UTF-8 text") from e
    if not data.strip():
        raise RecipeError(f"{where} is empty")
    return load_recipe(data)


def stage_table(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for the page's stage table: each stage with the documents and tokens after it and what it removed
    (the same numbers ``winnow apply``, the manifest and the report show)."""
    return [
        {
            "after": s.get("label") or s["stage"],
            "stage": s["stage"],
            "documents": s["kept"],
            "removed": s.get("removed", 0),
            "tokens": s["kept_tokens"],
        }
        for s in summary.get("stages", [])
    ]


def full_summary(con: Any, rules: list[Rule], *, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``app.recipes.summarize`` of the whole recipe: the panel's rules plus ``base``'s stages."""
    from app.recipes import summarize as _summarize

    return _summarize(con, recipe_from_rules(rules, base=base))


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


def summarize(con: Any, rules: list[Rule], *, annotate: dict[str, Any] | None = None) -> dict[str, Any]:
    """``app.recipes.summarize`` of the rules (kept docs/tokens, per source/lang, per rule, overlap); with
    ``annotate`` (a recipe's ``annotate:`` section) the rules it names tag instead of removing, as at export."""
    from app.recipes import summarize as _summarize

    # the recipes library picks the fastest relation itself (a cached column frame of corpus_fast)
    return _summarize(con, recipe_from_rules(rules, base={"annotate": annotate} if annotate else None))


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


def retention(con: Any, rules: list[Rule], *, column: str, base: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per value of ``column`` (a map cluster, any categorical column): documents, the share the rules and dedup
    keep and, when the recipe balances or samples, the share the whole recipe keeps; each share also against
    the overall one (``vs overall`` 0.5 = kept half as much as the corpus), so a cut's bias against a topic
    shows. Largest values first; the numbers are ``summarize(group_by=column)``'s (the report's too)."""
    from app.recipes import summarize as _summarize

    def table(recipe: Any) -> tuple[dict[Any, dict[str, Any]], float | None]:
        s = _summarize(con, recipe, group_by=column)
        return {g["group"]: g for g in s["by_group"]}, s["kept_frac"]

    def vs(frac: float | None, overall: float | None) -> float | None:
        return None if frac is None or not overall else round(frac / overall, 2)

    # annotated rules keep (and tag) their documents, in the rules' share as in the recipe's
    tags = {"annotate": base["annotate"]} if base and base.get("annotate") else None
    cut, cut_all = table(recipe_from_rules(rules, base=tags))
    staged = bool(base and (base.get("balance") or base.get("sample")))
    whole, whole_all = table(recipe_from_rules(rules, base=base)) if staged else ({}, None)
    out = []
    for g, a in cut.items():
        row = {column: g, "documents": a["total"], "kept by the rules": a["kept"], "kept %": a["kept_frac"]}
        row["vs overall"] = vs(a["kept_frac"], cut_all)
        if staged:
            b = whole.get(g, {})
            row["kept by the recipe"] = b.get("kept", 0)
            row["recipe vs overall"] = vs(b.get("kept_frac"), whole_all)
        out.append(row)
    return out
