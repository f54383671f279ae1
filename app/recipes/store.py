"""Recipes saved inside a workspace (table ``recipes``), so the dashboard and the CLI share them."""

from __future__ import annotations

from typing import Any

from app.errors import RecipeError
from app.recipes.schema import Recipe, load_recipe


def save_recipe(ws: Any, name: str, recipe: Recipe | str | dict) -> Recipe:
    """Store (or replace) ``recipe`` under ``name`` in the workspace; returns the validated recipe."""
    from app.workspace import now

    if not isinstance(name, str) or not name.strip():
        raise RecipeError("a saved recipe needs a non-empty name")
    r = load_recipe(recipe)
    if ws.read_only:
        raise RecipeError(f"workspace {ws.path} is open read-only; cannot save recipe {name!r}")
    cur = ws.cursor()
    cur.execute("INSERT OR REPLACE INTO recipes VALUES (?, ?, ?)", [name.strip(), r.to_yaml(), now()])
    return r


def list_recipes(ws: Any) -> list[dict[str, Any]]:
    """``[{name, yaml, updated_at}]`` of the saved recipes, by name."""
    rows = ws.cursor().execute("SELECT name, yaml, updated_at FROM recipes ORDER BY name").fetchall()
    return [{"name": n, "yaml": y, "updated_at": t} for n, y, t in rows]


def get_recipe(ws: Any, name: str) -> Recipe:
    """The saved recipe ``name``; RecipeError listing the saved names when absent."""
    rows = ws.cursor().execute("SELECT yaml FROM recipes WHERE name = ?", [name]).fetchall()
    row = rows[0] if rows else None
    if row is None:
        names = [r["name"] for r in list_recipes(ws)]
        raise RecipeError(f"no saved recipe {name!r} in {ws.path}; saved: {', '.join(names) or 'none'}")
    return load_recipe(row[0])


def delete_recipe(ws: Any, name: str) -> None:
    ws.cursor().execute("DELETE FROM recipes WHERE name = ?", [name])
