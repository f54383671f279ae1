"""``winnow diff``: what changed between two exports (documents, tokens, and the recipe change behind it)."""

from __future__ import annotations

import argparse

from app.commands import add_json, print_json_last

NAME = "diff"
HELP = "diff two exports: documents added/removed by source (and cluster), tokens, recipe changes, unchanged files"
DESCRIPTION = (
    "Compare export OUT_A (before) with OUT_B (after) from their manifest.json files and the ids in their data "
    "files: documents and tokens added and removed, by source, and by map cluster when the workspace both came from "
    "is still there and unchanged (or named with --workspace); the recipe differences that explain them (rules "
    "with changed thresholds, rules only on one side, other sections) beside each manifest's per-rule removals; "
    "the data files whose sha256 did not change."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_a", metavar="OUT_A", help="the earlier export directory")
    p.add_argument("out_b", metavar="OUT_B", help="the later export directory")
    p.add_argument(
        "--workspace",
        "-w",
        metavar="WS",
        help="a workspace holding both exports' documents: tokens and map clusters from it (default: the one the "
        "manifests name, when its documents have not changed)",
    )
    add_json(p)


def _print(res: dict) -> None:
    from app.commands.ingest import safe_text

    a, b = res["a"], res["b"]
    for tag, s in (("A", a), ("B", b)):
        name = f" recipe {safe_text(str(s['recipe_name']))}" if s["recipe_name"] else ""
        print(
            f"{tag} {safe_text(s['path'])}:{name} {s['kept_docs'] or 0:,} documents, {s['kept_tokens'] or 0:,} tokens"
        )
    ad, rm, un = res["added"], res["removed"], res["unchanged"]
    print(
        f"added {ad['docs']:,} documents ({ad['tokens']:,} tokens) · removed {rm['docs']:,} ({rm['tokens']:,} tokens)"
        f" · unchanged {un['docs']:,} ({un['tokens']:,} tokens); tokens: {res['tokens']}"
    )
    for g in res["by_source"]:
        if g["added"] or g["removed"]:
            print(
                f"  source {safe_text(str(g['source']))}: +{g['added']:,} -{g['removed']:,} ({g['unchanged']:,} same)"
            )
    for g in res["by_cluster"][:10]:
        if g["added"] or g["removed"]:
            print(f"  cluster {safe_text(str(g['cluster']))}: +{g['added']:,} -{g['removed']:,}")
    rec = res["recipe"]
    if rec["same_recipe"]:
        print("same recipe" + ("; the inputs differ" if res["inputs_changed"] else ""))
    for r in rec["rules"]:
        if r["status"] == "changed":
            print(
                f"  changed: {safe_text(r['a'])} (removed {r['a_removed']}) -> {safe_text(r['b'])} (removed {r['b_removed']})"
            )
        elif r["status"] == "only_a":
            print(f"  only in A: {safe_text(r['a'])} (removed {r['a_removed']})")
        elif r["status"] == "only_b":
            print(f"  only in B: {safe_text(r['b'])} (removed {r['b_removed']})")
    for s in rec["sections"]:
        print(f"  {s['section']}: {s['a']} -> {s['b']}")
    if not rec["same_recipe"] and res["inputs_changed"]:
        print("  the inputs differ too")
    print(f"{len(res['files_unchanged'])} data file(s) unchanged (same sha256)")


def run(args: argparse.Namespace) -> int:
    from app.export.diff import diff_exports

    res = diff_exports(args.out_a, args.out_b, workspace=args.workspace)
    if args.json:
        print_json_last(res)
    else:
        _print(res)
    return 0
