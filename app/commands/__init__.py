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


def print_json_last(obj: Any) -> None:
    """Print ``obj`` as one JSON line on stdout: the machine-readable last line of a command."""
    sys.stdout.write(json.dumps(obj, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()
