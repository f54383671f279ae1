"""``winnow recipe``: validate, show, list and save recipes; write a preset (``winnow recipe preset fineweb``)."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit, say

NAME = "recipe"
HELP = "validate a recipe file (optionally against a workspace), list/show/save recipes, or write a preset"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    add_json(p)
    p.add_argument("action", choices=["validate", "show", "list", "save", "preset"], help="what to do")
    p.add_argument(
        "recipe",
        nargs="?",
        metavar="R",
        help="recipe YAML file (validate, save), saved name (show) or preset: datatrove, fineweb, c4, gopher",
    )
    p.add_argument("--language", metavar="L", help="preset: keep language L and adapt English-only rules (e.g. zh)")
    p.add_argument("--out", metavar="FILE", help="preset: write the YAML to FILE instead of stdout")
    p.add_argument(
        "--name",
        help="save: the name to store the recipe under (default: the recipe's name:, else the file's stem)",
    )
    p.add_argument("--check", action="store_true", help="validate: also check columns against the workspace")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.errors import RecipeError
    from app.recipes import list_recipes, load_recipe, save_recipe, summarize
    from app.workspace import Workspace

    if args.action in ("validate", "show", "save") and not args.recipe:
        raise RecipeError(f"winnow recipe {args.action} needs a recipe")
    if args.action == "preset":
        return _preset(args)
    if args.action == "validate":
        r = load_recipe(Path(args.recipe))
        out = {"valid": True, "rules": len(r.rules), "signals": r.signals_used()}
        if args.check:
            with Workspace.open(args.workspace, read_only=True) as ws:
                s = summarize(ws.cursor(), r)
            out.update({"kept": s["kept_docs"], "total": s["total_docs"]})
        kept = f"; keeps {out['kept']:,} of {out['total']:,} documents" if args.check else ""
        # the summary is a YAML comment, so stdout stays a valid recipe
        say(args, r.to_yaml(), end="")
        say(args, f"# valid: {out['rules']} rule(s) on {len(out['signals'])} signal(s){kept}")
        emit(args, out)
        return 0
    if args.action == "list":
        with Workspace.open(args.workspace, read_only=True) as ws:
            rows = list_recipes(ws)
        for row in rows:
            say(args, f"{row['name']}\t{row['updated_at']}")
        if not rows:
            say(args, f"no saved recipes in {args.workspace}")
        emit(args, {"recipes": [row["name"] for row in rows]})
        return 0
    if args.action == "show":
        from app.commands.apply import resolve_recipe

        with Workspace.open(args.workspace, read_only=True) as ws:
            r = resolve_recipe(args.recipe, ws)
        say(args, r.to_yaml(), end="")
        emit(args, r.to_dict())
        return 0
    r = load_recipe(Path(args.recipe))
    name = args.name or r.name or Path(args.recipe).stem  # the recipe's own name: before the file's
    with Workspace.open(args.workspace) as ws:
        save_recipe(ws, name, r)
    say(args, f"saved recipe {name} ({len(r.rules)} rule(s)) in {args.workspace}")
    emit(args, {"saved": name})
    return 0


def _preset(args: argparse.Namespace) -> int:
    """Write preset ``args.recipe`` as recipe YAML to stdout or ``--out`` (no workspace needed)."""
    import sys
    from pathlib import Path

    from app.errors import RecipeError
    from app.recipes.presets import PRESETS, preset_yaml

    if not args.recipe:
        raise RecipeError(f"winnow recipe preset needs a name: {', '.join(PRESETS)}")
    text = preset_yaml(args.recipe, language=args.language)
    if not args.out:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise RecipeError(f"cannot write {out}: {e.strerror}") from e
    say(args, f"wrote preset {args.recipe}" + (f" ({args.language})" if args.language else "") + f" to {out}")
    emit(args, {"preset": args.recipe, "language": args.language, "out": str(out)})
    return 0
