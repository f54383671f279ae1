"""The ``winnow`` command. Thin: parse, call the library, print.

Each subcommand is one module in :mod:`app.commands` defining ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; adding a command means adding a file.
Command modules import nothing heavy at module level so ``winnow --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from app import __version__
from app.errors import WinnowError
from app.errors_io import storage_error
from app.locks import lock_wait


def _command_modules() -> list:
    import app.commands as pkg

    mods = [importlib.import_module(f"app.commands.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]
    return sorted((m for m in mods if hasattr(m, "run")), key=lambda m: m.NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="winnow", description="Winnow: curate language-model training data (ingest, score, map, select, export)."
    )
    parser.add_argument("--version", action="version", version=f"winnow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        with lock_wait():  # a workspace another process holds: wait for it (app/locks.py), do not fail at once
            return int(args._run(args) or 0)
    except WinnowError as e:
        # a full disk or a refused write underneath: say what to do rather than relay the library's message
        e = (storage_error(e.__cause__) if e.__cause__ is not None else None) or e
        print(f"winnow: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("winnow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug, not bad input: still one line unless asked for the traceback
        if (err := storage_error(e)) is not None:  # ... or a full disk / read-only or forbidden directory
            print(f"winnow: error: {err}", file=sys.stderr)
            return err.exit_code
        if os.environ.get("WINNOW_DEBUG"):
            raise
        print(f"winnow: internal error: {type(e).__name__}: {e} (set WINNOW_DEBUG=1 for a traceback)", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
