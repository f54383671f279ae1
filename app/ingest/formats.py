"""Streaming readers, one per format. Each yields raw ``pyarrow.Table`` batches of records (every field of
the input as a column) plus a ``_row`` column: the 1-based line of the record in its file (JSONL, CSV/TSV,
WikiText paragraphs) or its 1-based position (JSON array elements, Parquet rows, Hugging Face rows).

Records that cannot be read are not yielded: the reader calls ``skip(reason, row)`` for each, so the
caller can count them (``read = ingested + skipped``). With a ``repair`` callback (``--invalid-utf8
replace``) a record with undecodable bytes or lone surrogates is kept with U+FFFD in their place and
reported through ``repair(reason, row)`` instead. A file that cannot be read at all (missing, truncated,
corrupt, an unterminated CSV quote) raises :class:`~app.errors.IngestError` with one line naming the file.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from app.errors import IngestError
from app.ingest import streams
from app.ingest.lazy import LazyModule
from app.ingest.sources import Input
from app.ingest.streams import fix_value, has_surrogates

pa = LazyModule("pyarrow")  # imported on first use: DuckDB's own readers never need it

Skip = Callable[[str, int], None]
Repair = Callable[[str, int], None] | None
BATCH_ROWS = 8192
ROW = "_row"
#: hidden list column: the fields of a row whose value was not a string in a column that mixes types
#: (their values are kept as JSON text; a text field listed here is skipped as ``non_string_text``)
NONSTR = "_nonstring"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def open_binary(inp: Input) -> BinaryIO:
    """The decompressed byte stream of a file (.gz and .zst handled, truncation detected)."""
    return streams.open_binary(inp.path, inp.compression)


def rows_to_table(rows: list[dict[str, Any]], rownums: list[int]) -> pa.Table:
    """Columns from a list of dicts: the union of keys in order of appearance; a column whose values
    Arrow cannot type consistently (e.g. numbers and strings mixed) is kept as JSON text, never dropped."""
    keys: dict[str, None] = {}
    for r in rows:
        for k in r:
            if k not in keys:
                keys[k] = None
    cols: dict[str, pa.Array] = {}
    nonstr: list[list[str] | None] | None = None
    for k in keys:
        if k == ROW:
            continue
        vals = [r.get(k) for r in rows]
        try:
            arr = pa.array(vals)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError, ValueError):
            if any(isinstance(v, str) for v in vals):
                nonstr = nonstr or [None] * len(rows)
                for i, v in enumerate(vals):
                    if v is not None and not isinstance(v, str):
                        nonstr[i] = [*(nonstr[i] or []), k]
            arr = pa.array(
                [None if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=True) for v in vals],
                type=pa.string(),
            )
            try:
                arr.validate(full=True)
            except pa.ArrowInvalid:
                arr = pa.array([None if v is None else json.dumps(v, ensure_ascii=True) for v in vals], pa.string())
        if pa.types.is_null(arr.type):
            continue  # all null in this batch: the column is absent here (NULL), typed when it appears
        cols[f"orig{NONSTR}" if k == NONSTR else k] = arr  # an input field named like the marker is renamed
    if nonstr is not None:
        cols[NONSTR] = pa.array(nonstr, type=pa.list_(pa.string()))
    cols[ROW] = pa.array(rownums, type=pa.int64())
    return pa.table(cols)


# ------------------------------------------------------------------ JSON lines
BLOCK_BYTES = 8 << 20


def read_jsonl(inp: Input, skip: Skip, repair: Repair = None) -> Iterator[pa.Table]:
    """JSON lines, one object per line, in blocks of whole lines. A clean block (valid UTF-8, one object
    per line, no blank lines, no lone surrogate escapes) is parsed by Arrow's multi-threaded JSON reader;
    any other block is read line by line, so every bad line is skipped (or repaired) per reason with its
    line number."""
    lineno = 0
    rest = b""
    with open_binary(inp) as f:
        while True:
            try:
                chunk = f.read(BLOCK_BYTES)
            except (OSError, EOFError) as e:
                raise IngestError(f"cannot read {inp.path}: {e}") from e
            if not chunk and not rest:
                break
            buf = rest + chunk
            if chunk:
                cut = buf.rfind(b"\n") + 1
                if cut == 0:  # one line longer than a block: read on
                    rest = buf
                    continue
                block, rest = buf[:cut], buf[cut:]
            else:
                block, rest = buf, b""
            nlines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
            tbl = _arrow_block(block, nlines)
            if tbl is not None:
                keep = [c for c in tbl.column_names if not pa.types.is_null(tbl.schema.field(c).type) and c != ROW]
                tbl = tbl.select(keep).append_column(ROW, pa.array(range(lineno + 1, lineno + nlines + 1), pa.int64()))
                yield tbl
            else:
                yield from _lines_block(block, lineno, skip, repair)
            lineno += nlines


def _arrow_block(block: bytes, nlines: int) -> pa.Table | None:
    """The block parsed by Arrow, or None when it needs the line-by-line reader."""
    import pyarrow.json as pj

    if block.startswith((b"\n", b"\r\n")) or b"\n\n" in block or b"\n\r\n" in block:
        return None
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        tbl = pj.read_json(io.BytesIO(block), read_options=pj.ReadOptions(block_size=4 << 20))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return tbl if tbl.num_rows == nlines else None


def _lines_block(block: bytes, offset: int, skip: Skip, repair: Repair = None) -> Iterator[pa.Table]:
    rows: list[dict] = []
    nums: list[int] = []
    loads = json.loads
    for i, raw in enumerate(block.split(b"\n"), offset + 1):
        if not raw.strip():
            if raw or i - offset <= block.count(b"\n"):  # not the empty tail after the last newline
                skip("blank_line", i)
            continue
        fixed = False
        try:
            obj = loads(raw)
        except UnicodeDecodeError:
            if repair is None:
                skip("invalid_utf8", i)
                continue
            try:
                obj, fixed = loads(raw.decode("utf-8", "replace")), True
            except ValueError:
                skip("malformed_json", i)
                continue
        except ValueError:
            skip("malformed_json", i)
            continue
        if not isinstance(obj, dict):
            skip("not_an_object", i)
            continue
        if b"\\u" in raw and _SURROGATE_ESCAPE.search(raw) and _has_surrogates(obj):
            # a lone "\ud800" escape decodes to a str that is not valid UTF-8
            if repair is None:
                skip("invalid_utf8", i)
                continue
            obj, fixed = fix_value(obj), True
        if fixed:
            repair("invalid_utf8", i)  # type: ignore[misc]
        rows.append(obj)
        nums.append(i)
        if len(rows) >= BATCH_ROWS:
            yield rows_to_table(rows, nums)
            rows, nums = [], []
    if rows:
        yield rows_to_table(rows, nums)


def count_lines(inp: Input) -> int:
    """Number of lines in a (decompressed) file: newlines, plus one for a last line without one."""
    n = 0
    last = b"\n"
    with open_binary(inp) as f:
        while True:
            chunk = f.read(1 << 24)
            if not chunk:
                break
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (0 if last == b"\n" else 1)


def sniff_json_array(inp: Input) -> bool:
    """True when a .json file holds one JSON array (first non-space byte is ``[``)."""
    with open_binary(inp) as f:
        head = f.read(4096)
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] == b"["


# ------------------------------------------------------------------ JSON array
def read_json_array(inp: Input, skip: Skip, repair: Repair = None) -> Iterator[pa.Table]:
    """A JSON array of objects, decoded incrementally (bounded memory). Element positions are the rows.

    A syntax error inside the array cannot be resynchronised: it fails the file with its line number.
    """
    dec = json.JSONDecoder()
    stream = io.TextIOWrapper(open_binary(inp), encoding="utf-8-sig", errors="surrogateescape")
    buf = ""
    pos = 0
    line = 1
    eof = False
    rows: list[dict] = []
    nums: list[int] = []
    idx = 0
    ws = re.compile(r"\s*")

    def fill() -> bool:
        nonlocal buf, pos, line, eof
        line += buf.count("\n", 0, pos)
        buf = buf[pos:]
        pos = 0
        chunk = stream.read(1 << 20)
        if not chunk:
            eof = True
            return False
        buf += chunk
        return True

    def skip_ws() -> None:
        nonlocal pos
        while True:
            pos = ws.match(buf, pos).end()
            if pos < len(buf) or eof or not fill():
                return

    def fail(msg: str) -> IngestError:
        return IngestError(f"malformed JSON array in {inp.path} at line {line + buf.count(chr(10), 0, pos)}: {msg}")

    with stream:
        fill()
        skip_ws()
        if buf[pos : pos + 1] != "[":
            raise fail("expected '['")
        pos += 1
        skip_ws()
        if buf[pos : pos + 1] == "]":
            return
        while True:
            skip_ws()
            while True:
                try:
                    obj, end = dec.raw_decode(buf, pos)
                    if end == len(buf) and not eof and isinstance(obj, int | float):
                        raise ValueError("number may continue")
                    break
                except ValueError as e:
                    if eof or not fill():
                        raise fail(str(e).split(":")[0]) from None
            idx += 1
            bad = isinstance(obj, dict) and _has_surrogates(obj)
            if not isinstance(obj, dict):
                skip("not_an_object", idx)
            elif bad and repair is None:
                skip("invalid_utf8", idx)
            else:
                if bad:
                    obj = fix_value(obj)
                    repair("invalid_utf8", idx)  # type: ignore[misc]
                rows.append(obj)
                nums.append(idx)
                if len(rows) >= BATCH_ROWS:
                    yield rows_to_table(rows, nums)
                    rows, nums = [], []
            pos = end
            skip_ws()
            ch = buf[pos : pos + 1]
            if ch == ",":
                pos += 1
                continue
            if ch == "]":
                break
            raise fail("expected ',' or ']'")
    if rows:
        yield rows_to_table(rows, nums)


def _has_surrogates(obj: Any) -> bool:
    return has_surrogates(json.dumps(obj, ensure_ascii=False))


# ------------------------------------------------------------------ plain text
_WIKI_HEADING = re.compile(r"^ (= )+.*?( =)+\s*$")


def _wiki_heading(line: str) -> tuple[int, str, bool]:
    """``' = = Biology = = '`` -> ``(2, "Biology", True)``: level, name, and whether it is closed."""
    s = line.strip()
    level = 0
    while s.startswith("= ") or s == "=":
        s, level = s[2:], level + 1
    closing = 0
    while s.endswith(" =") or s == "=":
        s, closing = s[:-2], closing + 1
    return level, s.strip(), closing == level


def read_text(inp: Input, skip: Skip, repair: Repair = None) -> Iterator[pa.Table]:
    """Plain text: one document per file; a WikiText file (first line ``' = Title = '``) instead gives one
    document per paragraph line with its article ``title`` and ``section`` as metadata (headings and
    blank lines are structure, not records)."""
    with open_binary(inp) as f:
        try:
            data = f.read()
        except (OSError, EOFError) as e:
            raise IngestError(f"cannot read {inp.path}: {e}") from e
    first = next((ln for ln in data[:65536].split(b"\n") if ln.strip()), b"")
    if _WIKI_HEADING.match(first.decode("utf-8", "replace")):
        yield from _read_wikitext(data, skip, repair)
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if repair is None:
            skip("invalid_utf8", 1)
            return
        text = data.decode("utf-8-sig", "replace")
        repair("invalid_utf8", 1)
    yield pa.table({"text": pa.array([text], pa.string()), ROW: pa.array([1], pa.int64())})


def _read_wikitext(data: bytes, skip: Skip, repair: Repair = None) -> Iterator[pa.Table]:
    title: str | None = None
    section: str | None = None
    texts: list[str] = []
    titles: list[str | None] = []
    sections: list[str | None] = []
    nums: list[int] = []
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            if repair is None:
                skip("invalid_utf8", lineno)
                continue
            line = raw.decode("utf-8", "replace")
            repair("invalid_utf8", lineno)
        if not line.strip():
            continue
        if line.startswith(" = "):
            level, name, closed = _wiki_heading(line)
            if level == 1 and closed:
                title, section = name, None
            else:
                section = name
            continue
        texts.append(line.strip())
        titles.append(title)
        sections.append(section)
        nums.append(lineno)
        if len(nums) >= BATCH_ROWS:
            yield _wiki_table(texts, titles, sections, nums)
            texts, titles, sections, nums = [], [], [], []
    if nums:
        yield _wiki_table(texts, titles, sections, nums)


def _wiki_table(texts, titles, sections, nums) -> pa.Table:
    return pa.table(
        {
            "text": pa.array(texts, pa.string()),
            "title": pa.array(titles, pa.string()),
            "section": pa.array(sections, pa.string()),
            ROW: pa.array(nums, pa.int64()),
        }
    )


# ------------------------------------------------------------------ Parquet
def read_parquet(inp: Input, skip: Skip) -> Iterator[pa.Table]:
    """Parquet row groups streamed as record batches; rows numbered from 1."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(inp.path)
    except Exception as e:
        raise IngestError(f"cannot read Parquet file {inp.path}: {str(e).splitlines()[0]}") from e
    offset = 0
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS * 2):
            n = batch.num_rows
            tbl = pa.Table.from_batches([batch])
            if ROW in tbl.column_names:
                tbl = tbl.rename_columns([f"orig{ROW}" if c == ROW else c for c in tbl.column_names])
            tbl = tbl.append_column(ROW, pa.array(range(offset + 1, offset + n + 1), pa.int64()))
            offset += n
            yield tbl
    except IngestError:
        raise
    except Exception as e:
        raise IngestError(f"cannot read Parquet file {inp.path}: {str(e).splitlines()[0]}") from e


# ------------------------------------------------------------------ Hugging Face
def read_hf(inp: Input, skip: Skip, *, limit: int | None = None) -> Iterator[pa.Table]:
    """A Hugging Face dataset through ``datasets`` streaming (hub id or local path/loading script)."""
    try:
        import datasets
    except ImportError as e:
        from app.errors import MissingDependency

        raise MissingDependency("datasets", "hf: inputs") from e
    info = inp.hf
    try:
        ds = datasets.load_dataset(info["name"], info["config"], split=info["split"] or "train", streaming=True)
        rows: list[dict] = []
        nums: list[int] = []
        for i, ex in enumerate(ds, 1):
            rows.append(ex)
            nums.append(i)
            if len(rows) >= BATCH_ROWS or (limit is not None and len(rows) >= limit):
                yield rows_to_table(rows, nums)
                rows, nums = [], []
        if rows:
            yield rows_to_table(rows, nums)
    except IngestError:
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise IngestError(f"cannot load Hugging Face dataset {info['name']!r}: {msg}") from e


def read_saved(inp: Input, skip: Skip) -> Iterator[pa.Table]:
    """A ``datasets`` ``save_to_disk`` directory: a Dataset, or every split of a DatasetDict (with a
    ``split`` column). Memory-mapped Arrow, streamed in batches."""
    try:
        import datasets
    except ImportError as e:
        from app.errors import MissingDependency

        raise MissingDependency("datasets", "save_to_disk inputs") from e
    try:
        obj = datasets.load_from_disk(inp.path)
    except Exception as e:
        raise IngestError(f"cannot load saved dataset {inp.path}: {str(e).splitlines()[0]}") from e
    split_name = (inp.hf or {}).get("split")
    if isinstance(obj, datasets.DatasetDict):
        items = [(k, v) for k, v in obj.items() if split_name in (None, k)]
        if not items:
            raise IngestError(f"saved dataset {inp.path} has no split {split_name!r} (has: {', '.join(obj)})")
    else:
        items = [(None, obj)]
    offset = 0
    for name, ds in items:
        for tbl in ds.with_format("arrow").iter(batch_size=BATCH_ROWS * 2):
            n = tbl.num_rows
            if name is not None:
                tbl = tbl.append_column("split", pa.array([name] * n, pa.string()))
            tbl = tbl.append_column(ROW, pa.array(range(offset + 1, offset + n + 1), pa.int64()))
            offset += n
            yield tbl


def raw_batches(inp: Input, skip: Skip, *, limit: int | None = None, repair: Repair = None) -> Iterator[pa.Table]:
    """Dispatch on the input's format. ``repair`` given: keep records with invalid UTF-8, repaired."""
    if inp.fmt == "jsonl":
        return read_jsonl(inp, skip, repair)
    if inp.fmt == "json":
        return read_json_array(inp, skip, repair) if sniff_json_array(inp) else read_jsonl(inp, skip, repair)
    if inp.fmt in ("csv", "tsv"):
        from app.ingest.csvfmt import read_csv

        return read_csv(inp, skip, repair)
    if inp.fmt == "text":
        return read_text(inp, skip, repair)
    if inp.fmt == "parquet":
        return read_parquet(inp, skip)
    if inp.fmt == "hf":
        return read_hf(inp, skip, limit=limit)
    if inp.fmt == "disk":
        return read_saved(inp, skip)
    raise IngestError(f"unsupported input {inp.path}")
