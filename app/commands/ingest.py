"""``winnow ingest``: read files, globs, shard directories or Hugging Face datasets into a workspace."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from app.commands import add_json, add_workspace, emit

NAME = "ingest"
HELP = "ingest JSONL/JSON/Parquet/CSV/TSV/text files, globs, directories or hf:NAME into a workspace"
DESCRIPTION = (
    "Ingest documents into a workspace (created if missing). SRC is a file, a glob (quote it), a directory of "
    "shards, a datasets save_to_disk directory, or hf:NAME[:CONFIG][/SPLIT]. Each SRC becomes a source named "
    "after its path unless --source is given; re-ingesting a source replaces it. Bad rows are skipped and "
    "counted (or fail the run with --strict); the run is atomic. The last stdout line is a JSON summary."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("srcs", nargs="+", metavar="SRC", help="file, glob, directory, save_to_disk dir or hf:NAME")
    add_workspace(p)
    add_json(p)
    p.add_argument("--source", help="source name for all SRCs (default: derived from each SRC's path)")
    p.add_argument(
        "--source-field",
        metavar="F",
        help="take each document's source from field F (one source per value, e.g. realmix's or Dolma's 'source')",
    )
    p.add_argument("--text-field", metavar="F", help="field holding the text (default: auto-detected)")
    p.add_argument("--id-field", metavar="F", help="field holding unique ids (default: stable generated ids)")
    p.add_argument("--limit", type=int, metavar="N", help="stop after the first N documents in file order")
    p.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="keep a seeded random sample of N documents across all shards and sources (the N smallest "
        "md5(seed, id)); the rest are counted as skipped not_in_sample",
    )
    p.add_argument("--seed", type=int, metavar="S", help="seed of --sample (default 0)")
    p.add_argument(
        "--invalid-utf8",
        choices=("skip", "replace"),
        default="skip",
        help="a record with invalid UTF-8 (bad bytes, a lone \\ud800 escape): skip it, counted as invalid_utf8 "
        "(default), or keep it with U+FFFD in their place, counted as repaired",
    )
    p.add_argument("--strict", action="store_true", help="fail on the first bad row instead of skipping it")
    p.add_argument(
        "--full-schema",
        action="store_true",
        help="type large JSON-lines files from every line, not a spread sample (slower; keeps fields that only "
        "appear outside the sample)",
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_text(s: str) -> str:
    """Names from the input (sources, fields, file paths) as shown on a terminal: control characters
    escaped, so a field name cannot move the cursor or change colours."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def _text_line(entry: dict) -> str:
    """How a source's text was made, e.g. ``text from field 'body' (the only string field; ...)``."""
    fields = ", ".join(repr(f) for f in entry["fields"])
    if entry["text"] == "alpaca":
        return f"text rendered from Alpaca fields {fields}"
    if entry["text"] == "chat":
        return f"text rendered from chat field {fields}"
    why = {
        "--text-field": "--text-field",
        "name": "a common text field name",
        "only string field": "the only string field; pass --text-field to choose another",
    }.get(entry.get("chosen", ""), entry.get("chosen", ""))
    typ = entry.get("type") or ""
    if typ == "JSON":
        typ = "; its values mix types: the non-strings are skipped as non_string_text"
    elif typ:
        typ = f"; its type is {typ}: values that are not UTF-8 text are skipped"
    return f"text from field {fields} ({why}{typ})"


def _report(summary: dict) -> None:
    for s in summary["sources"]:
        skipped = sum(s["skipped"].values())
        print(
            f"source {safe_text(s['source'])}: read {s['read']:,}, ingested {s['ingested']:,}, skipped {skipped:,}"
            f" ({s['files']} file{'s' if s['files'] != 1 else ''}, {s['bytes'] / 1e6:.1f} MB)"
        )
        for entry in s.get("text") or []:
            print(f"  {safe_text(_text_line(entry))}")
        for reason, n in s["skipped"].items():
            first = ", ".join(s["skipped_first"].get(reason, []))
            print(f"  skipped {reason}: {n:,}" + (f" (first: {safe_text(first)})" if first else ""))
        for reason, n in s.get("repaired", {}).items():
            first = ", ".join(s.get("repaired_first", {}).get(reason, []))
            print(f"  repaired {reason}: {n:,} kept with U+FFFD (first: {safe_text(first)})")
    if summary.get("sample"):
        sm = summary["sample"]
        print(f"sample: {sm['n']:,} documents (seed {sm['seed']}, smallest {sm['key']}) of {sm['of']:,} documents read")
    if summary["ignored_files"]:
        print(f"ignored {len(summary['ignored_files'])} unsupported file(s): {', '.join(summary['ignored_files'][:5])}")
    print(
        f"{summary['ingested']:,} documents in {summary['seconds']:.1f} s"
        f" ({summary['docs_per_s'] or 0:,.0f} docs/s, {summary['mb_per_s'] or 0:.1f} MB/s)"
    )


@contextlib.contextmanager
def _removed_if_failed(path: Path) -> Iterator[None]:
    """Undo the workspace this command created when its first ingest fails: a typo in the input path must not
    leave an empty workspace behind (the dashboard and ``info`` would then show it). A workspace that existed
    before is never touched; in a directory that existed without one, only the entries this command added go."""
    import shutil

    from app.workspace import DB_FILE

    if (path / DB_FILE).exists():
        yield
        return
    top = path.absolute()  # the highest directory this command will create (``data/`` of ``data/default``)
    while not top.parent.exists():
        top = top.parent
    before = set(path.iterdir()) if path.is_dir() else None
    try:
        yield
    except BaseException:
        if before is None and top.exists():
            shutil.rmtree(top, ignore_errors=True)
        elif before is not None:
            for entry in set(path.iterdir()) - before:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    from app.ingest import ingest
    from app.progress import tqdm_progress
    from app.workspace import Workspace

    if args.limit is not None and args.limit < 1:
        print("winnow: error: --limit must be a positive number", file=sys.stderr)
        return 2
    if args.sample is not None and args.sample < 1:
        print("winnow: error: --sample must be a positive number", file=sys.stderr)
        return 2
    with (
        _removed_if_failed(Path(args.workspace)),
        Workspace.open(args.workspace, create=True) as ws,
        tqdm_progress("ingest") as progress,
    ):
        summary = ingest(
            ws,
            args.srcs,
            source=args.source,
            source_field=args.source_field,
            text_field=args.text_field,
            id_field=args.id_field,
            limit=args.limit,
            strict=args.strict,
            full_schema=args.full_schema,
            sample=args.sample,
            seed=args.seed,
            invalid_utf8=args.invalid_utf8,
            progress=progress,
        )
    if args.json:
        emit(args, summary)
    else:
        _report(summary)
    return 0
