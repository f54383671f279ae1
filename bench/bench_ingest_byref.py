"""Parquet "by reference", measured (issue 18): what storing a Parquet file's rows without their text would
save at ingest and cost at every full read of the texts. Not a Winnow feature: a measurement behind the note
in the README's ``bench:ingest`` section.

Each variant runs in its own process (run this script once per variant, alternating): ``copy`` stores ids,
text, ``text_hash``, row numbers and metadata as ingest does; ``ref`` stores the same without the text. Then
every text is read back (``sum(length(text))``): from the table, or from the user's file joined on the row
number. Prints the CPU seconds of the store (one DuckDB thread, as Winnow's stage insert) and of the read, and
the database's size. The database is made under ``--tmp`` and deleted.

    python bench/bench_ingest_byref.py FILE.parquet copy
    python bench/bench_ingest_byref.py FILE.parquet ref
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parquet", help="a realmix-like Parquet file (id, source, text, lang, ... columns)")
    ap.add_argument("variant", choices=["copy", "ref"])
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
    args = ap.parse_args()
    import duckdb

    with tempfile.TemporaryDirectory(prefix="bench-byref-", dir=args.tmp) as tmp:
        db = os.path.join(tmp, "byref.duckdb")
        con = duckdb.connect(db)
        con.execute("SET threads = 1")
        con.execute("SET memory_limit = '1GB'")
        src = "read_parquet($path, file_row_number = true)"
        idx = "left(md5(('bench' || chr(31) || 'f.parquet' || chr(31)) || CAST(file_row_number + 1 AS VARCHAR)), 16)"
        meta = "* EXCLUDE (id, source, text, file_row_number), id AS orig_id, source AS orig_source"
        text = "text, " if args.variant == "copy" else ""
        c0 = time.process_time()
        con.execute(
            f"CREATE TABLE t AS SELECT {idx} AS id, {text}md5(text) AS text_hash, {meta}, "
            f"file_row_number + 1 AS _row FROM {src}",
            {"path": args.parquet},
        )
        con.execute("CHECKPOINT")
        store = time.process_time() - c0
        con.execute("SET threads = 2")
        c1 = time.process_time()
        if args.variant == "copy":
            n = con.execute("SELECT sum(length(text)) FROM t").fetchone()[0]
        else:  # the text comes back from the user's file, joined on the row number
            n = con.execute(
                f"SELECT sum(length(p.text)) FROM t JOIN {src} p ON p.file_row_number + 1 = t._row",
                {"path": args.parquet},
            ).fetchone()[0]
        read = time.process_time() - c1
        con.close()
        size = os.path.getsize(db)
    print(
        f"{args.variant}: store {store:.2f} CPU s, read every text {read:.2f} CPU s, {size / 1e6:.0f} MB ({n:,} chars)"
    )


if __name__ == "__main__":
    main()
