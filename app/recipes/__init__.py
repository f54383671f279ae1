"""Recipes: a versioned YAML description of a curation cut, compiled to SQL over ``corpus``.

The same :class:`Recipe` drives the dashboard's Thresholds page (:func:`summarize`, :func:`borderline`),
``winnow apply`` (:func:`select_ids_sql`) and the report. See ``docs/recipes.md`` for the schema.
"""

from app.recipes.compile import Check, Compiled, compile_recipe, select_ids_sql
from app.recipes.edges import borderline
from app.recipes.expr import parse_expr
from app.recipes.schema import VERSION, Balance, Dedup, Recipe, Rule, Sample, load_recipe
from app.recipes.store import delete_recipe, get_recipe, list_recipes, save_recipe
from app.recipes.summary import summarize

__all__ = [
    "VERSION",
    "Balance",
    "Check",
    "Compiled",
    "Dedup",
    "Recipe",
    "Rule",
    "Sample",
    "borderline",
    "compile_recipe",
    "delete_recipe",
    "get_recipe",
    "list_recipes",
    "load_recipe",
    "parse_expr",
    "save_recipe",
    "select_ids_sql",
    "summarize",
]
