"""``winnow sql``: run a read-only SQL query on a workspace and print the result, whatever else has it open.

The workspace is opened read-only (a query cannot change it), after waiting for a writer if one holds it (a
running ``winnow score``, a dashboard job; app/locks.py); a dashboard that is merely open lets go of it at once.
Rows are fetched in batches and written as they come, so ``--limit 0 --csv`` streams any result in bounded
memory. The table form is for reading: control characters shown as escapes (a document's ``\\x1b[2J`` never
clears the terminal), long cells cut with an ellipsis, wide (CJK) characters counted as two columns.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import decimal
import json
import math
import sys
import unicodedata
from collections.abc import Iterator
from typing import Any, TextIO

from app.commands import add_workspace

NAME = "sql"
HELP = "run a read-only SQL query on a workspace (tables: corpus, docs, labels, recipes...) and print the result"
BATCH = 1000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", metavar="SQL", help='the query, e.g. "SELECT lang_code, count(*) FROM corpus GROUP BY 1"')
    add_workspace(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON line: {columns, types, rows, truncated}")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    p.add_argument("--limit", type=int, default=100, metavar="N", help="at most N rows (default 100; 0: all)")
    p.add_argument("--width", type=int, default=40, metavar="W", help="cut table cells to W columns (default 40)")


# ---------------------------------------------------------------- display
def escape_cell(text: str) -> str:
    """``text`` on one line with every control or format character (newline, tab, ESC, bidi overrides, zero-width
    joiners) shown as a Python-style escape, so a cell can neither break the table nor drive the terminal."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch) or ch.encode("unicode_escape").decode())
        else:
            out.append(ch)
    return "".join(out)


def width(text: str) -> int:
    """Terminal columns ``text`` takes (East Asian wide and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def cut(text: str, w: int) -> str:
    """``text`` cut to ``w`` terminal columns, an ellipsis marking the cut."""
    if width(text) <= w:
        return text
    out, used = [], 0
    for ch in text:
        cw = width(ch)
        if used + cw > w - 1:
            break
        out.append(ch)
        used += cw
    return "".join(out) + "…"


def show(value: Any) -> str:
    """One value as a table shows it (before escaping and cutting)."""
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bytes | bytearray):
        return "\\x" + bytes(value[:64]).hex()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _plain(value: Any) -> Any:
    """A JSON-ready value (numbers stay numbers; NaN/inf become null, as JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, _dt.date | _dt.datetime | _dt.time | _dt.timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _numeric(type_name: str) -> bool:
    t = type_name.upper()
    return any(k in t for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC")) and "[]" not in t


# ---------------------------------------------------------------- running
def _rows(cur: Any, limit: int) -> Iterator[tuple]:
    """The result's rows, at most ``limit`` (0: all), fetched ``BATCH`` at a time."""
    left = limit if limit > 0 else None
    while True:
        n = BATCH if left is None else min(BATCH, left)
        if n <= 0:
            return
        batch = cur.fetchmany(n)
        if not batch:
            return
        yield from batch
        if left is not None:
            left -= len(batch)


def query_error(e: Exception) -> Exception:
    """A DuckDB error as one line: its first line (what is wrong), plus the candidates it suggests."""
    from app.errors import QueryError

    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    head = lines[0] if lines else type(e).__name__
    if "read-only mode" in head or "read-only" in head.lower():
        return QueryError(f"winnow sql only reads (the workspace is opened read-only): {head}")
    hints = [ln for ln in lines[1:] if ln.lower().startswith(("candidate", "did you mean"))]
    return QueryError(" ".join([head, *hints]))


def write_table(out: TextIO, names: list[str], types: list[str], rows: list[tuple], w: int) -> None:
    """An aligned text table (numbers right-aligned) of already-fetched ``rows``."""
    w = max(4, w)
    head = [cut(escape_cell(n), w) for n in names]
    cells = [[cut(escape_cell(show(v)), w) for v in r] for r in rows]
    widths = [max([width(h), *(width(r[i]) for r in cells)]) for i, h in enumerate(head)]
    right = [_numeric(t) for t in types]

    def line(vals: list[str]) -> str:
        parts = []
        for v, cw, r in zip(vals, widths, right, strict=True):
            pad = " " * (cw - width(v))
            parts.append(pad + v if r else v + pad)
        return "  ".join(parts).rstrip()

    out.write(line(head) + "\n")
    out.write("  ".join("-" * cw for cw in widths) + "\n")
    for r in cells:
        out.write(line(r) + "\n")


def run(args: argparse.Namespace) -> int:
    import duckdb

    from app.errors import QueryError
    from app.workspace import Workspace

    if args.limit < 0:
        raise QueryError("--limit must be 0 (all rows) or more")
    if not args.query.strip():
        raise QueryError('empty query: give a statement such as "SELECT count(*) FROM corpus"')
    out = sys.stdout
    with Workspace.open(args.workspace, read_only=True) as ws:
        cur = ws.cursor()
        try:
            cur.execute(args.query)
        except duckdb.Error as e:
            raise query_error(e) from e
        if cur.description is None:  # a statement without a result (SET, PRAGMA ...)
            if not (args.json or args.csv):
                print("ok (no result)")
            return 0
        names = [d[0] for d in cur.description]
        types = [str(d[1]) for d in cur.description]
        try:
            if args.csv:
                wr = csv.writer(out, lineterminator="\n")
                wr.writerow(names)
                for row in _rows(cur, args.limit):
                    wr.writerow(["" if v is None else v for v in row])
                return 0
            if args.json:
                return _write_json(out, cur, names, types, args.limit)
            rows = list(_rows(cur, args.limit + 1 if args.limit else 0))
        except duckdb.Error as e:  # errors raised while the rows are produced (a failed cast, ...)
            raise query_error(e) from e
    more = bool(args.limit) and len(rows) > args.limit
    rows = rows[: args.limit] if args.limit else rows
    write_table(out, names, types, rows, args.width)
    n = f"{len(rows):,} row{'s' if len(rows) != 1 else ''}"
    print(f"{n} (first {args.limit:,}: more exist; --limit 0 for all)" if more else n)
    return 0


def _write_json(out: TextIO, cur: Any, names: list[str], types: list[str], limit: int) -> int:
    """One JSON line written as the rows come: ``{"columns", "types", "rows", "truncated"}``."""
    out.write('{"columns": ' + json.dumps(names, ensure_ascii=False) + ', "types": ' + json.dumps(types))
    out.write(', "rows": [')
    n = 0
    for row in _rows(cur, limit):
        out.write((", " if n else "") + json.dumps(_plain(list(row)), ensure_ascii=False, default=str))
        n += 1
    truncated = bool(limit) and n == limit and bool(cur.fetchmany(1))
    out.write('], "truncated": ' + json.dumps(truncated) + "}\n")
    out.flush()
    return 0
