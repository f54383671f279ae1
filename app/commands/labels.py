"""``winnow labels``: import, list, export and remove document labels (the training data of classifiers)."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit

NAME = "labels"
HELP = "document labels (good/bad, toxic, ...): import a file of id,label[,note], list counts, export, remove"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    imp = sub.add_parser("import", help="add the labels of a JSONL/JSON/CSV/Parquet file with id,label[,note]")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--by", metavar="WHO", help="who labelled (default: $USER)")
    imp.add_argument("--strict", action="store_true", help="fail (import nothing) when an id is not in the workspace")
    lst = sub.add_parser("list", help="labels with their document counts")
    exp = sub.add_parser("export", help="write the labels to a .jsonl, .csv or .parquet file")
    exp.add_argument("file", metavar="FILE")
    exp.add_argument("--label", metavar="L", help="only this label")
    rm = sub.add_parser("remove", help="remove a label (from every document, or only from --id ones)")
    rm.add_argument("--label", required=True, metavar="L")
    rm.add_argument("--id", action="append", dest="ids", metavar="ID", help="a document id (repeatable)")
    for s in (imp, lst, exp, rm):
        add_workspace(s)
        add_json(s)


def run(args: argparse.Namespace) -> int:
    from app.commands.ingest import safe_text as plain_text
    from app.explore import labels
    from app.workspace import Workspace

    if args.action not in ("import", "list", "export", "remove"):
        print("usage: winnow labels {import,list,export,remove} ... (see winnow labels --help)")
        return 2
    with Workspace.open(args.workspace, read_only=args.action in ("list", "export")) as ws:
        if args.action == "import":
            res = labels.import_labels(ws, args.file, by=args.by, strict=args.strict)
            if not args.json:
                per = ", ".join(f"{plain_text(k)} {v:,}" for k, v in res["labels"].items()) or "none"
                print(f"imported {res['added']:,} of {res['rows']:,} rows from {res['file']} ({per})")
                if res["unknown_ids"]:
                    ex = ", ".join(plain_text(i) for i in res["unknown_examples"])
                    print(f"{res['unknown_ids']:,} rows name ids not in the workspace and were not imported: {ex}"
                          + (" ..." if res["unknown_ids"] > len(res["unknown_examples"]) else ""))  # fmt: skip
                if res["skipped_empty"]:
                    print(f"{res['skipped_empty']:,} rows without an id or a label were skipped")
        elif args.action == "list":
            rows = labels.label_counts(ws.cursor())
            res = {"labels": rows}
            if not args.json:
                if not rows:
                    print("no labels in this workspace (winnow labels import FILE)")
                for r in rows:
                    by = f" by {', '.join(plain_text(b) for b in r['by'])}" if r["by"] else ""
                    print(f"{plain_text(r['label']):24s} {r['documents']:>8,} documents{by}")
        elif args.action == "export":
            n = labels.export_labels(ws.cursor(), args.file, label=args.label)
            res = {"file": args.file, "rows": n}
            if not args.json:
                print(f"wrote {n:,} labels to {args.file}")
        else:
            n = labels.remove_labels(ws, args.label, ids=args.ids)
            res = {"label": args.label, "removed": n}
            if not args.json:
                print(f"removed {n:,} {plain_text(args.label)} labels")
    emit(args, res)
    return 0
