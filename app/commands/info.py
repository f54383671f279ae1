"""``winnow info``: what a workspace holds."""

from __future__ import annotations

import argparse

from app.commands import add_workspace, print_json_last

NAME = "info"
HELP = "show counts of documents, characters, sources and signals in a workspace"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    p.add_argument("--json", action="store_true", help="print one JSON line instead of the summary")


def run(args: argparse.Namespace) -> int:
    from app.workspace import Workspace

    with Workspace.open(args.workspace, read_only=True) as ws:
        info = ws.info()
    if args.json:
        print_json_last(info)
        return 0
    print(f"workspace   {info['workspace']}")
    print(f"documents   {info['documents']:,}")
    print(f"characters  {info['characters']:,}")
    for name, n in info["sources"].items():
        print(f"  source    {name}: {n:,}")
    print(
        f"signals     {len(info['signals'])} columns"
        + (f": {', '.join(info['signals'][:12])}" if info["signals"] else "")
    )
    if len(info["signals"]) > 12:
        print(f"            ... and {len(info['signals']) - 12} more")
    return 0
