"""``winnow lm``: reference n-gram language models (perplexity, CCNet buckets, MiniPLM difference)."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit

NAME = "lm"
HELP = "fit reference n-gram language models: ppl_NAME, lp_NAME, ccnet_bucket_NAME; diff_A_B = lp_A - lp_B"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    fit = sub.add_parser("fit", help="fit a Kneser-Ney n-gram model on the selected documents, then score all")
    fit.add_argument("name", metavar="NAME", help="model name (letters, digits, _): columns ppl_NAME, lp_NAME")
    fit.add_argument("--on", metavar="SEL",
                     help="reference documents: label:L, source:S, expr:EXPR, file:PATH or random:N")  # fmt: skip
    fit.add_argument("--model", metavar="PATH",
                     help="instead of fitting: score with a local causal LM directory (Hugging Face format)")  # fmt: skip
    fit.add_argument("--max-tokens", type=int, default=512, metavar="N",
                     help="--model: score each document's first N tokens (default 512)")  # fmt: skip
    fit.add_argument("--batch-size", type=int, default=16, metavar="N", help="--model: documents per batch")
    fit.add_argument("--order", type=int, default=3, metavar="N", help="n-gram order, 3..5 (default 3)")
    fit.add_argument("--bits", type=int, default=22, metavar="B",
                     help="at most 2^B hash slots per order (default 22: <= 40 MiB per order)")  # fmt: skip
    fit.add_argument("--seed", type=int, default=0, help="seed of random:N and of the order documents are read")
    diff = sub.add_parser("diff", help="store diff_A_B = lp_A - lp_B (MiniPLM-style difference) and score all")
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B")
    rm = sub.add_parser("remove", help="remove a model and its columns")
    rm.add_argument("name", metavar="NAME")
    lst = sub.add_parser("list", help="the reference models, their settings and metrics")
    for s in (fit, diff, rm, lst):
        add_workspace(s)
        add_json(s)


def run(args: argparse.Namespace) -> int:
    from app.errors import LearnError
    from app.learn import reference, store
    from app.progress import tqdm_progress
    from app.workspace import Workspace

    if args.action not in ("fit", "diff", "remove", "list"):
        print("usage: winnow lm {fit,diff,list,remove} ... (see winnow lm --help)")
        return 2
    with Workspace.open(args.workspace, read_only=args.action == "list") as ws:
        if args.action == "list":
            res: dict = {"models": reference.listing(ws.cursor())}
            if not args.json:
                for m in res["models"]:
                    stale = " (stale: a model it uses was fitted again)" if m.get("stale") else ""
                    print(f"{m['name']:24s} {m['kind']:8s} {', '.join(m['columns'])}{stale}")
                if not res["models"]:
                    print("no reference models; fit one with: winnow lm fit NAME --on SEL")
        elif args.action == "remove":
            store.remove(ws, args.name)
            res = {"removed": args.name}
            if not args.json:
                print(f"removed {args.name}")
        elif args.action == "fit":
            if bool(args.on) == bool(args.model):
                raise LearnError("give either --on SEL (fit an n-gram model) or --model PATH (a local causal LM)")
            with tqdm_progress("lm fit", disable=args.json or None) as prog:
                if args.model:
                    res = reference.fit_transformer(ws, name=args.name, model=args.model, max_tokens=args.max_tokens,
                                                    batch_size=args.batch_size, progress=prog)  # fmt: skip
                else:
                    res = reference.fit(ws, name=args.name, on=args.on, order=args.order, bits=args.bits,
                                        seed=args.seed, progress=prog)  # fmt: skip
            if not args.json:
                m = res["metrics"]
                if res["unchanged"]:
                    print(f"{args.name}: unchanged (same data and settings, digest {res['digest']})")
                elif args.model:
                    print(f"{args.name}: {res['documents']:,} documents scored with {args.model}: ppl_{args.name}, "
                          f"lp_{args.name}")  # fmt: skip
                else:
                    print(f"{args.name}: fitted on {m['docs']:,} documents ({m['tokens']:,} tokens) in "
                          f"{m['fit_seconds']} s; {res['documents']:,} documents scored: ppl_{args.name}, "
                          f"lp_{args.name}, ccnet_bucket_{args.name}")  # fmt: skip
        else:
            with tqdm_progress("lm diff", disable=args.json or None) as prog:
                res = reference.diff(ws, a=args.a, b=args.b, progress=prog)
            if not args.json:
                state = "unchanged" if res["unchanged"] else f"{res['documents']:,} documents scored"
                print(f"{res['name']}: {state}")
    emit(args, res)
    return 0
