"""``winnow fields``: which fields make the text that signals, near dedup and embeddings see (:mod:`app.fields`)."""

from __future__ import annotations

import argparse
from typing import Any

from app.commands import add_json, add_workspace, print_json_last

NAME = "fields"
HELP = "choose the fields signals, dedup and embeddings see (e.g. instruction,input,output) instead of the text"
DESCRIPTION = (
    "Show, set or clear the workspace's text fields. instruction/input/output are read from Alpaca columns or "
    "chat turns (first user turn, last assistant turn; no role names or system prompt), prompt is instruction and "
    "input (or the first user turn), text is the ingested text, "
    "any other name a metadata column. A document without any of them is seen by its text. Signals, near dedup and "
    "embeddings computed from other fields are recomputed by the next winnow score / dedup near / embed."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", default="show", choices=["show", "set", "clear"], help="default: show")
    p.add_argument("spec", nargs="?", metavar="FIELDS", help="for set: comma-separated names, e.g. instruction,output")
    add_workspace(p)
    add_json(p)


def computed_from(ws: Any) -> dict[str, str]:
    """``{family or embed:<model>: fields}``: what each stored derived column set was computed from."""
    from app import fields
    from app.embed import fields_of
    from app.signals import engine

    out = {fam: fields.from_tag(r["version"]) for fam, r in sorted(engine.runs(ws).items())}
    out.update({f"embed:{m}": f for m, f in fields_of(ws).items()})
    return out


def describe(ws: Any) -> dict[str, Any]:
    """The workspace's fields, how many documents have each, and what the derived columns were computed from."""
    from app import fields

    cur = ws.cursor()
    f = fields.get(cur)
    c = fields.counts(cur, f)
    res: dict[str, Any] = {"fields": fields.label(f), "documents": c["documents"], "with_field": c["fields"]}
    res["fallback"] = c["fallback"]
    res["computed_from"] = computed_from(ws)
    res["stale"] = sorted(k for k, v in res["computed_from"].items() if v != res["fields"])
    return res


def run(args: argparse.Namespace) -> int:
    from app import fields
    from app.errors import WorkspaceError
    from app.workspace import Workspace

    if args.action == "set" and not args.spec:
        raise WorkspaceError('winnow fields set needs the fields, e.g. winnow fields set "instruction,input,output"')
    if args.action != "set" and args.spec:
        raise WorkspaceError(f"winnow fields {args.action} takes no FIELDS (did you mean: winnow fields set ...?)")
    read_only = args.action == "show"
    with Workspace.open(args.workspace, read_only=read_only) as ws:
        if args.action == "set":
            fields.put(ws.con, fields.parse(args.spec))
        elif args.action == "clear":
            fields.put(ws.con, None)
        res = describe(ws)
    if args.json:
        print_json_last(res)
        return 0
    n = res["documents"]
    have = ", ".join(f"{k} {v:,}" for k, v in res["with_field"].items())
    print(f"fields      {res['fields']}  ({n:,} documents; with each field: {have})")
    if res["fallback"]:
        print(f"            {res['fallback']:,} documents have none of them and are seen by their text")
    if res["stale"]:
        print(f"stale       computed from other fields: {', '.join(res['stale'])} (rerun winnow score / embed)")
    return 0
