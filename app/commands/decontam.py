"""``winnow decontam``: register evaluation sets and flag the documents that contain them."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit, say
from app.decontam.near import DEFAULT_NEAR

NAME = "decontam"
HELP = "find benchmark (evaluation) text in the corpus: add, list, remove benchmarks; run the matching"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    add = sub.add_parser("add", help="register a benchmark from local JSONL/JSON/CSV/Parquet files, then run")
    add.add_argument("name", metavar="NAME")
    add.add_argument("files", nargs="+", metavar="FILE")
    add.add_argument("--field", action="append", metavar="F", help="field to render (repeatable; default: "
                     "instruction/question/choices/answer/... present in the file)")  # fmt: skip
    add.add_argument("--replace", action="store_true", help="replace a benchmark of the same name")
    add.add_argument("--no-run", action="store_true", help="register only; do not recompute the signals")
    rm = sub.add_parser("remove", help="unregister a benchmark, then run")
    rm.add_argument("name", metavar="NAME")
    run = sub.add_parser("run", help="recompute decon_hits, decon_max_overlap, decon_benchmarks for every document")
    run.add_argument("--ngram", type=int, metavar="N", help="word n-gram length (default 8)")
    for s in (add, run):
        s.add_argument("--near", nargs="?", type=float, const=DEFAULT_NEAR, metavar="J",
                       help="also flag light rewrites: documents whose normalised text has estimated Jaccard >= J "
                       f"(word 5-gram shingles, MinHash; default {DEFAULT_NEAR:g}) with one benchmark text; kept "
                       "for later runs")  # fmt: skip
        s.add_argument("--near-threshold", type=float, metavar="J", help="same as --near J")
        s.add_argument("--no-near", action="store_true", help="turn near matching off (the n-gram overlap only)")
        s.add_argument("--workers", "-j", type=int, default=1, metavar="N",
                       help="match in N processes (each holds a copy of the benchmark index)")  # fmt: skip
    lst = sub.add_parser("list", help="registered benchmarks and how many of their items the corpus contains")
    for s in (add, rm, run, lst):
        add_workspace(s)
        add_json(s)


def _print_summary(res: dict) -> None:
    print(f"{'benchmark':24s} {'items':>8s} {'matched':>8s} {'documents':>10s}")
    for b in res["benchmarks"]:
        print(f"{b['name']:24s} {b['items']:>8,} {b.get('items_matched', 0):>8,} {b.get('documents', 0):>10,}")
    if "contaminated" in res:
        near = res.get("near")
        print(
            f"{res['contaminated']:,} contaminated documents"
            + (f" (near matches at Jaccard >= {near:g} included)" if near else "")
        )


def _set_near(ws: object, args: argparse.Namespace) -> None:
    """Store ``--near [J]`` / ``--near-threshold J`` / ``--no-near`` in the workspace (before any change)."""
    from app.decontam import DecontamError
    from app.decontam.near import check_near, set_workspace_near

    j = args.near_threshold if args.near_threshold is not None else args.near
    if args.no_near and j is not None:
        raise DecontamError("give --near or --no-near, not both")
    if j is not None:
        check_near(j)
    if args.no_near or j is not None:
        set_workspace_near(ws.con, None if args.no_near else j)  # type: ignore[attr-defined]


def run(args: argparse.Namespace) -> int:
    from app.decontam import run as drun
    from app.decontam import store
    from app.progress import tqdm_progress
    from app.workspace import Workspace

    if args.action not in ("add", "remove", "run", "list"):
        print("usage: winnow decontam {add,list,remove,run} ... (see winnow decontam --help)")
        return 2
    with Workspace.open(args.workspace, read_only=args.action == "list") as ws:
        res: dict = {}
        if args.action in ("add", "run"):
            _set_near(ws, args)
        if args.action == "add":
            res["added"] = store.add_benchmark(ws, args.name, args.files, fields=args.field, replace=args.replace)
            a = res["added"]
            if not args.json:
                skipped = sum(a["skipped"].values())
                print(f"added {a['name']}: {a['items']:,} items, {a['units']:,} texts from fields "
                      f"{', '.join(a['fields'])}" + (f"; {skipped:,} records skipped" if skipped else ""))  # fmt: skip
        elif args.action == "remove":
            store.remove_benchmark(ws, args.name)
            say(args, f"removed benchmark {args.name}")
        if args.action == "list":
            res.update(drun.summary(ws))
        elif not getattr(args, "no_run", False):
            with tqdm_progress("decontam") as prog:
                res.update(drun.run(ws, progress=prog, n=getattr(args, "ngram", None),
                                    workers=getattr(args, "workers", 1) or 1))  # fmt: skip
    if not args.json and "benchmarks" in res:
        _print_summary(res)
    emit(args, res)
    return 0
