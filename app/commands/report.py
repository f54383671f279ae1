"""``winnow report``: a self-contained HTML report (and JSON) of what a recipe keeps and removes."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit, say

NAME = "report"
HELP = "write a self-contained HTML report (+ JSON) of a recipe's cut: counts, rules, overlap, distributions, samples"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    add_json(p)
    p.add_argument("--recipe", "-r", required=True, metavar="R", help="recipe YAML file or saved recipe name")
    p.add_argument("--out", "-o", default="report.html", metavar="FILE", help="HTML file (default: %(default)s)")
    p.add_argument("--samples", type=int, default=5, metavar="N", help="sample documents per group (default: 5)")
    p.add_argument(
        "--by",
        action="append",
        metavar="COLUMN",
        help="break retention down by this categorical column (repeatable; default: the map clusters, if any)",
    )
    p.add_argument(
        "--compare",
        metavar="B",
        help="add a section comparing the recipe (A) with recipe B (YAML file or saved name): A only / B only / "
        "both per source, language and cluster, the changed rules, flipped documents",
    )


def run(args: argparse.Namespace) -> int:
    from app.commands.apply import resolve_recipe
    from app.report import write_report
    from app.workspace import Workspace

    with Workspace.open(args.workspace, read_only=True) as ws:
        recipe = resolve_recipe(args.recipe, ws)
        other = resolve_recipe(args.compare, ws) if args.compare else None
        res = write_report(ws, recipe, args.out, samples=args.samples, by=args.by, compare=other)
    say(args, f"wrote {res['html']} ({res['bytes'] / 1e6:.1f} MB) and {res['json']}")
    emit(args, res)
    return 0
