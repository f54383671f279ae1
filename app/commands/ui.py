"""``winnow ui``: open the dashboard on a workspace."""

from __future__ import annotations

import argparse

from app.commands import add_no_browser, add_workspace

NAME = "ui"
HELP = "open the Streamlit dashboard on a workspace (binds 127.0.0.1)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    p.add_argument("--port", type=int, default=8501, help="port (default: %(default)s)")
    p.add_argument("--address", default="127.0.0.1", help="address to bind (default: %(default)s, local only)")
    add_no_browser(p)


def run(args: argparse.Namespace) -> int:
    from app.launch import launch

    return launch(args.workspace, port=args.port, open_browser=not args.no_browser, address=args.address)
