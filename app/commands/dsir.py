"""``winnow dsir``: DSIR importance weights toward a target (Xie et al. 2023), for importance resampling."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit

NAME = "dsir"
HELP = "importance weights toward target documents (DSIR): dsir_NAME = log p_target - log p_raw"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    p.add_argument("name", metavar="NAME", help="weights name: column dsir_NAME")
    p.add_argument(
        "--target", metavar="SEL", help="target documents: label:L, source:S, expr:EXPR, file:PATH, random:N"
    )
    p.add_argument("--raw", metavar="SEL", help="raw distribution (default: every document of the workspace)")
    p.add_argument("--bits", type=int, default=16, metavar="B", help="2^B hash buckets (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of random:N selectors")
    p.add_argument("--remove", action="store_true", help="remove the weights dsir_NAME and their column")
    add_json(p)


def run(args: argparse.Namespace) -> int:
    from app.errors import LearnError
    from app.learn import dsir, store
    from app.progress import tqdm_progress
    from app.workspace import Workspace

    if not args.remove and not args.target:
        raise LearnError("give --target SEL (the documents to move toward), or --remove")
    with Workspace.open(args.workspace) as ws:
        if args.remove:
            store.remove(ws, dsir.column(args.name))
            res: dict = {"removed": dsir.column(args.name)}
            if not args.json:
                print(f"removed {dsir.column(args.name)}")
        else:
            with tqdm_progress("dsir", disable=args.json or None) as prog:
                res = dsir.fit(ws, name=args.name, target=args.target, raw=args.raw, bits=args.bits,
                               seed=args.seed, progress=prog)  # fmt: skip
            if not args.json:
                m = res["metrics"]
                state = "unchanged (same data and settings)" if res["unchanged"] else (
                    f"{m['target_docs']:,} target vs {m['raw_docs']:,} raw documents; {res['documents']:,} scored")  # fmt: skip
                print(f"{res['name']}: {state}; resample with  sample: {{n: K, log_weight: {res['name']}}}")
    emit(args, res)
    return 0
