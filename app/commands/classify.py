"""``winnow classify``: train a classifier in the workspace (clf_NAME), read its held-out metrics, list, remove,
and ask which documents to label next."""

from __future__ import annotations

import argparse
from typing import Any

from app.commands import add_json, add_workspace, emit

NAME = "classify"
HELP = "train classifiers from labels or selectors (clf_NAME), show held-out metrics, suggest what to label next"
SELECTORS = "label:L, source:S, expr:EXPR, file:PATH or random:N"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    tr = sub.add_parser("train", help="train NAME (cross-validated metrics), then score every document as clf_NAME")
    tr.add_argument("name", metavar="NAME")
    tr.add_argument("--positive", required=True, metavar="SEL", help=f"the positive class: {SELECTORS}")
    tr.add_argument("--negative", required=True, metavar="SEL", help=f"the negative class: {SELECTORS}")
    tr.add_argument("--features", choices=["ngrams", "embeddings", "auto"], default="auto",
                    help="hashed word n-grams, stored embeddings, or auto (the better by cross-validation)")  # fmt: skip
    tr.add_argument("--folds", type=int, default=5, metavar="K", help="cross-validation folds (default 5)")
    tr.add_argument("--seed", type=int, default=0, metavar="S", help="folds, random:N and bootstrap seed")
    tr.add_argument("--threshold", type=float, default=0.5, metavar="T", help="threshold of the confusion (0.5)")
    sub.add_parser("list", help="the workspace's classifiers with their AUC")
    sh = sub.add_parser("show", help="a classifier's metrics and its worst errors as text")
    sh.add_argument("name", metavar="NAME")
    sh.add_argument("--errors", type=int, default=5, metavar="N", help="false positives/negatives shown (5)")
    rm = sub.add_parser("remove", help="remove a classifier and its clf_NAME column")
    rm.add_argument("name", metavar="NAME")
    sg = sub.add_parser("suggest", help="documents to label next (uncertain, spread over the map's clusters)")
    sg.add_argument("name", metavar="NAME")
    sg.add_argument("-n", type=int, default=20, metavar="N", help="how many (default 20)")
    for s in (tr, sub.choices["list"], sh, rm, sg):
        add_workspace(s)
        add_json(s)


def _ci(m: dict[str, Any], key: str) -> str:
    ci = m.get(f"{key}_ci95")
    return f"{m.get(key)} (95% CI {ci[0]}-{ci[1]})" if ci else str(m.get(key))


def print_metrics(m: dict[str, Any]) -> None:
    """The held-out metrics as a few lines."""
    c = m.get("confusion", {})
    print(f"held-out ({m.get('folds')}-fold) ROC AUC {_ci(m, 'auc')}, average precision {_ci(m, 'ap')}; "
          f"{m.get('n_positive'):,} positive, {m.get('n_negative'):,} negative")  # fmt: skip
    print(f"at threshold {m.get('threshold')}: precision {c.get('precision')}, recall {c.get('recall')} "
          f"(tp {c.get('tp')}, fp {c.get('fp')}, fn {c.get('fn')}, tn {c.get('tn')})")  # fmt: skip
    if m.get("warning"):
        print(f"warning: {m['warning']}")


def get_classifier(ws: Any, name: str) -> Any:
    """The stored classifier ``name`` (also on a read-only workspace without a ``_models`` table yet)."""
    from app.errors import LearnError
    from app.learn import store

    if not ws.has_table(store.TABLE):
        raise LearnError(f"no classifier model named {name!r} in this workspace; have: none")
    return store.get(ws.cursor(), name, kind="classifier")


def _snippet(text: str, n: int = 160) -> str:
    from app.commands.ingest import safe_text

    t = " ".join(text.split())
    return safe_text(t[:n] + ("..." if len(t) > n else ""))


def run(args: argparse.Namespace) -> int:
    from app.workspace import Workspace

    if args.action not in ("train", "list", "show", "remove", "suggest"):
        print("usage: winnow classify {train,list,show,remove,suggest} ... (see winnow classify --help)")
        return 2
    read_only = args.action in ("list", "show", "suggest")
    with Workspace.open(args.workspace, read_only=read_only) as ws:
        res = globals()[f"_{args.action}"](ws, args)
    emit(args, res)
    return 0


def _train(ws: Any, args: argparse.Namespace) -> dict[str, Any]:
    from app.learn.classifier import train
    from app.progress import tqdm_progress

    with tqdm_progress(f"classify {args.name}") as prog:
        r = train(ws, name=args.name, positive=args.positive, negative=args.negative, features=args.features,
                  folds=args.folds, seed=args.seed, threshold=args.threshold, progress=prog)  # fmt: skip
    if not args.json:
        for note in r.notes:
            print(f"note: {note}")
        if r.unchanged:
            print(f"{r.name}: unchanged (same training data and settings, digest {r.digest}); nothing to do")
        else:
            print(f"trained {r.name} on {r.features} features in {r.seconds:.1f} s (digest {r.digest}); "
                  f"{r.scored:,} documents scored into {r.column}")  # fmt: skip
        print_metrics(r.metrics)
    return r.as_dict()


def _list(ws: Any, args: argparse.Namespace) -> dict[str, Any]:
    from app.learn import store

    con = ws.cursor()
    models = store.list_models(con, kind="classifier") if ws.has_table(store.TABLE, con=con) else []
    out = [{"name": m.name, "column": f"clf_{m.name}", "digest": m.digest, "features": m.metrics.get("features"),
            "auc": m.metrics.get("auc"), "n_positive": m.metrics.get("n_positive"),
            "n_negative": m.metrics.get("n_negative"), "positive": m.settings.get("positive"),
            "negative": m.settings.get("negative"), "created_at": m.created_at} for m in models]  # fmt: skip
    if not args.json:
        if not out:
            print("no classifiers in this workspace (winnow classify train NAME --positive SEL --negative SEL)")
        for r in out:
            print(f"{r['name']:20s} AUC {r['auc']}  {r['features']:10s} {r['positive']} vs {r['negative']} "
                  f"({r['n_positive']:,} / {r['n_negative']:,})")  # fmt: skip
    return {"classifiers": out}


def _show(ws: Any, args: argparse.Namespace) -> dict[str, Any]:
    from app.learn.selectors import iter_texts

    m = get_classifier(ws, args.name)
    met = m.metrics
    errors = {k: met.get(k, [])[: max(0, args.errors)] for k in ("false_positives", "false_negatives")}
    ids = [e["id"] for v in errors.values() for e in v]
    texts: dict[str, str] = {}
    for chunk, tx in iter_texts(ws.cursor(), ids):
        texts.update(zip(chunk, tx, strict=True))
    for v in errors.values():
        for e in v:
            e["text"] = texts.get(e["id"], "")
    if not args.json:
        print(f"{m.name} ({m.kind}, digest {m.digest}): {m.settings.get('positive')} vs {m.settings.get('negative')}, "
              f"{met.get('features')} features, column clf_{m.name}")  # fmt: skip
        print_metrics(met)
        for k, label in (("false_positives", "false positives (negatives scored high)"),
                         ("false_negatives", "false negatives (positives scored low)")):  # fmt: skip
            print(f"{label}:")
            for e in errors[k] or []:
                print(f"  {e['p']:.3f}  {_snippet(str(e['id']), 40)}  {_snippet(e['text'])}")
            if not errors[k]:
                print("  none")
    return {**m.entry(), "errors": errors}


def _remove(ws: Any, args: argparse.Namespace) -> dict[str, Any]:
    from app.learn import store

    get_classifier(ws, args.name)
    store.remove(ws, args.name)
    if not args.json:
        print(f"removed classifier {args.name} and its column clf_{args.name}")
    return {"removed": args.name}


def _suggest(ws: Any, args: argparse.Namespace) -> dict[str, Any]:
    from app.learn.suggest import suggest

    rows = suggest(ws, name=args.name, n=args.n)
    if not args.json:
        if not rows:
            print("nothing to suggest: every scored document is labelled or in the training set")
        for r in rows:
            cl = f" cluster {r['cluster']}" if r.get("cluster") is not None else ""
            print(f"{r['p']:.3f}{cl}  {_snippet(str(r['id']), 40)}  {_snippet(r['text'])}")
    return {"name": args.name, "suggestions": rows}
