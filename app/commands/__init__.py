"""One module per ``winnow`` subcommand (see :mod:`app.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.workspace import default_workspace


def add_workspace(p: argparse.ArgumentParser) -> None:
    """The ``--workspace`` option every command shares (default ``$WINNOW_WORKSPACE`` or ``data/default``)."""
    p.add_argument(
        "--workspace",
        "-w",
        default=str(default_workspace()),
        metavar="WS",
        help="workspace directory (default: %(default)s)",
    )


def add_no_browser(p: argparse.ArgumentParser) -> None:
    """``--no-browser`` for the commands that start the dashboard (``ui``, ``demo``); ``--no-open`` is
    accepted as an undocumented alias so either spelling works on both."""
    p.add_argument("--no-browser", action="store_true", dest="no_browser", help="do not open a browser window")
    p.add_argument("--no-open", action="store_true", dest="no_browser", help=argparse.SUPPRESS)


def add_engine(p: argparse.ArgumentParser) -> None:
    """``--engine local|ray`` and ``--ray-address`` for the commands whose per-document work can run elsewhere."""
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="where per-document batches run: local processes (default) or Ray (pip install 'winnow[ray]')",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="an existing Ray cluster (e.g. ray://head:10001); without it --engine ray starts a local one",
    )


def print_json_last(obj: Any) -> None:
    """Print ``obj`` as one JSON line on stdout: the machine-readable last line of a command."""
    sys.stdout.write(json.dumps(obj, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


#: the one help text of every command's ``--json``
JSON_HELP = "print only one JSON line (the machine-readable result) instead of the human summary"


def add_json(p: argparse.ArgumentParser) -> None:
    """``--json`` for a command: without it the command prints a readable summary and no JSON at all."""
    p.add_argument("--json", action="store_true", help=JSON_HELP)


def wants_json(args: argparse.Namespace) -> bool:
    """Whether this invocation asked for JSON (``--json``); False for a command without the option."""
    return bool(getattr(args, "json", False))


def say(args: argparse.Namespace, *parts: Any, **kw: Any) -> None:
    """``print`` for the human summary: silent under ``--json``, so stdout then holds only the JSON line."""
    if not wants_json(args):
        print(*parts, **kw)


def emit(args: argparse.Namespace, obj: Any) -> None:
    """Print ``obj`` as the JSON last line only under ``--json``; by default the human summary stands alone."""
    if wants_json(args):
        print_json_last(obj)
