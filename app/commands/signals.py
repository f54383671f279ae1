"""``winnow signals``: import precomputed per-document signals; list and document signal columns."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit, print_json_last, say

NAME = "signals"
HELP = "import external per-document scores as columns; list or document the signal columns"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    imp = sub.add_parser("import", help="join a Parquet/JSONL/CSV file of per-document scores into corpus")
    imp.add_argument("file", metavar="FILE")
    add_workspace(imp)
    imp.add_argument("--id-field", required=True, metavar="ID", help="field holding the document id")
    imp.add_argument("--prefix", default="", metavar="P", help="prefix for the imported column names")
    imp.add_argument("--name", metavar="NAME", help="part name (default: the file name); table import_<name>")
    imp.add_argument("--strict", action="store_true", help="fail when the file has ids not in the workspace")
    add_json(imp)
    lst = sub.add_parser("list", help="every signal column: family, type, meaning")
    add_json(lst)
    doc = sub.add_parser("docs", help="print the generated column table (Markdown); --write updates the docs")
    doc.add_argument("--write", action="store_true", help="rewrite docs/signals.md and README's signals section")
    add_json(doc)


def run(args: argparse.Namespace) -> int:
    if args.action == "import":
        from app.signals.external import import_signals
        from app.workspace import Workspace

        with Workspace.open(args.workspace) as ws:
            res = import_signals(
                ws, args.file, id_field=args.id_field, prefix=args.prefix, name=args.name, strict=args.strict
            )
        if args.json:
            print_json_last(res)
            return 0
        print(
            f"imported {res['matched']:,} of {res['rows']:,} rows into {res['table']}: "
            f"{', '.join(c['column'] for c in res['columns'])}"
        )
        if res["unknown_ids"]:
            print(
                f"{res['unknown_ids']:,} ids are not in the workspace (not imported), e.g. "
                f"{', '.join(map(repr, res['unknown_examples']))}"
            )
        if res["duplicate_ids"]:
            print(f"{res['duplicate_ids']:,} repeated ids: kept the first row of each")
        if res["null_ids"]:
            print(f"{res['null_ids']:,} rows without an id were skipped")
        if res["skipped"]:
            print(f"skipped fields: {', '.join(res['skipped'])}")
        return 0
    if args.action == "list":
        from app.signals.engine import column_docs

        docs = column_docs()
        if args.json:
            print_json_last(docs)
            return 0
        for col, d in docs.items():
            print(f"{col:34s} {d['type']:8s} {d['family']:18s} {d['doc']}")
        return 0
    if args.action == "docs":
        from app.signals.columns_doc import markdown_table, write_docs

        if args.write:
            written = [str(p) for p in write_docs()]
            say(args, f"wrote {', '.join(written)}")
            emit(args, {"written": written})
        else:
            print(markdown_table())
        return 0
    print("usage: winnow signals {import,list,docs} ... (see winnow signals --help)")
    return 2
