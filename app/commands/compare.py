"""``winnow compare``: what recipe B keeps that recipe A does not, and the other way round, and why."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, print_json_last

NAME = "compare"
HELP = "compare two recipes on a workspace: documents and tokens kept by A only, B only and both; flipped documents"
DESCRIPTION = (
    "Compare recipe A (the current one) with recipe B over a workspace (each a YAML file or the name of a recipe "
    "saved in the workspace): kept documents and tokens for A only, B only and both, per source, language and map "
    "cluster; how many documents each rule flips (the first rule of the recipe that drops them); a sample of "
    "flipped documents with their text; the rules whose thresholds differ. One grouped query over the workspace, "
    "with the same SQL as the dashboard and winnow apply. --json prints the whole comparison as JSON."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    p.add_argument(
        "--recipe", "-r", action="append", required=True, metavar="R", help="a recipe (give exactly two: A then B)"
    )
    p.add_argument("--flipped", type=int, default=5, metavar="N", help="flipped documents shown per direction (5)")
    p.add_argument("--width", type=int, default=100, metavar="C", help="characters of text shown per document (100)")
    add_json(p)


def _preview(text: str | None, width: int) -> str:
    from app.commands.ingest import safe_text

    t = " ".join((text or "").split())
    return safe_text(t if len(t) <= width else t[: max(1, width - 1)] + "…")


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%" if b else "-"


def _print(res: dict, names: list[str], width: int) -> None:
    from app.commands.ingest import safe_text

    c = res["counts"]
    for side, name in (("a", names[0]), ("b", names[1])):
        s = res[side]
        print(
            f"{side.upper()} ({safe_text(name)}): keeps {s['kept_docs']:,} of {res['total_docs']:,} documents "
            f"({_pct(s['kept_docs'], res['total_docs'])}), {s['kept_tokens']:,} tokens ({res['tokens']})"
        )
    print(
        f"A only {c['a_only']['docs']:,} docs ({c['a_only']['tokens']:,} tokens) · B only {c['b_only']['docs']:,} "
        f"docs ({c['b_only']['tokens']:,} tokens) · both {c['both']['docs']:,} docs ({c['both']['tokens']:,} tokens)"
    )
    if res["same"]:
        print("no document changes fate")
    for r in res["rules"]:
        if r["status"] == "changed":
            print(f"  changed: {safe_text(r['a'])}  ->  {safe_text(r['b'])}")
        elif r["status"] == "only_a":
            print(f"  only in A: {safe_text(r['a'])}")
        elif r["status"] == "only_b":
            print(f"  only in B: {safe_text(r['b'])}")
    for s in res["sections"]:
        print(f"  {s['section']}: {s['a']} -> {s['b']}")
    for f in res["flips"]:
        who = "kept by A, dropped by B's" if f["direction"] == "a_only" else "kept by B, dropped by A's"
        print(f"  {f['docs']:,} docs ({f['tokens']:,} tokens) {who} {safe_text(f['rule'])}")
    changed = [g for g in res["by_source"] if g["a_only"] or g["b_only"]]
    for g in changed[:10]:
        print(
            f"  source {safe_text(str(g['source']))}: A keeps {g['kept_a']:,}, B keeps {g['kept_b']:,} of "
            f"{g['total']:,} (A only {g['a_only']:,}, B only {g['b_only']:,})"
        )
    for d in res["flipped"]:
        tag = "A only" if d["direction"] == "a_only" else "B only"
        print(f"  [{tag}] {safe_text(str(d['id']))} ({safe_text(d['rule'])}): {_preview(d['text'], width)}")


def run(args: argparse.Namespace) -> int:
    from app.commands.apply import resolve_recipe
    from app.errors import RecipeError
    from app.recipes.compare import compare_recipes
    from app.workspace import Workspace

    if len(args.recipe) != 2:
        raise RecipeError(f"give exactly two recipes (--recipe A --recipe B), got {len(args.recipe)}")
    if args.flipped < 0 or args.width < 1:
        raise RecipeError("--flipped must be >= 0 and --width >= 1")
    with Workspace.open(args.workspace, read_only=True) as ws:
        a, b = (resolve_recipe(r, ws) for r in args.recipe)
        res = compare_recipes(ws.cursor(), a, b, flipped=args.flipped, text_chars=max(args.width * 2, 200))
    if args.json:
        print_json_last(res)
    else:
        _print(res, args.recipe, args.width)
    return 0
