"""A forecast before a long headless run: ``winnow apply --input SHARDS --recipe R --dry-run [N]``.

How it works, and why:

1. **How many documents.** Parquet inputs: exact, from the files' metadata. Uncompressed JSONL/text: exact,
   by counting line ends in 8 MB blocks (about 1 GB/s, bounded memory). Compressed JSONL (``.gz``/``.zst``) and
   other formats: *estimated* from the first file: decompress up to 64 MB, count lines, scale by the compressed
   bytes read. The forecast says which it is.
2. **How fast, how much memory.** The recipe is applied for real to the first ``N/4`` and the first ``N``
   documents, each in a fresh child process (so imports and model loading are paid the way a real run pays
   them, and the child's peak RSS is its own). The *marginal* rate ``(N - N/4) / (t_N - t_N/4)`` leaves out
   the fixed start-up cost, which is added back once. Peak RSS is the child's at ``N``; headless apply keeps its
   scratch database under a fixed memory limit (``WINNOW_HEADLESS_MEMORY``, 512 MB), so the peak grows with the
   batch and the models, not with the corpus.
3. **Per worker.** The same per-core rate is divided among ``workers`` (local processes or Ray workers); the
   forecast prints the measured single-process rate and the assumption, never a scaling it did not measure.

Nothing is written to the output directory; the sample runs go to a temporary directory that is removed.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from app.errors import ExportError

BLOCK = 8 << 20
SNIFF = 64 << 20


def count_documents(inputs: list[str], *, source: str | None = None) -> tuple[int, str]:
    """``(documents, how)`` for headless inputs: ``how`` is ``exact`` or ``estimated``."""
    from app.ingest.sources import resolve

    resolved, _ = resolve(inputs, source=source)
    if not resolved:
        raise ExportError(f"no input files match {', '.join(inputs)}")
    total, how = 0, "exact"
    per_byte: float | None = None
    for inp in resolved:
        if inp.kind != "file":
            raise ExportError("--dry-run counts files only (not Hugging Face ids or saved datasets)")
        if inp.fmt == "parquet":
            import pyarrow.parquet as pq

            total += pq.ParquetFile(inp.path).metadata.num_rows
        elif inp.fmt in ("jsonl", "text") and not inp.compression:
            total += _count_lines(inp.path)
        else:
            if per_byte is None:
                per_byte = _lines_per_byte(inp.path, inp.compression)
            total += round(per_byte * inp.size)
            how = "estimated"
    return total, how


def _count_lines(path: str) -> int:
    n = last = 0
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            n += block.count(b"\n")
            last = block[-1]
    return n + (1 if last and last != 10 else 0)


def _reader(raw: Any, compression: str | None) -> Any:
    if compression == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw)
    return raw


def _lines_per_byte(path: str, compression: str | None) -> float:
    """Lines per *stored* byte: decompress up to :data:`SNIFF` bytes of ``path`` and divide the lines found by
    the stored bytes consumed to get them (exact when the whole file fits in the sniff)."""
    with open(path, "rb") as raw:
        f = _reader(raw, compression)
        got = lines = 0
        while got < SNIFF and (block := f.read(BLOCK)):
            got += len(block)
            lines += block.count(b"\n")
        whole = not f.read(1)
        consumed = Path(path).stat().st_size if whole else raw.tell()
    return lines / max(consumed, 1)


def _sample_run(conn: Any, recipe: str, inputs: list[str], limit: int, kw: dict[str, Any]) -> None:
    """Child process: apply the recipe to the first ``limit`` documents; send (seconds, peak RSS bytes, docs)."""
    import resource

    try:
        t0 = time.perf_counter()
        from app.export.headless import apply_headless

        with tempfile.TemporaryDirectory(prefix="winnow-plan-") as tmp:
            m = apply_headless(recipe, inputs, Path(tmp) / "out", limit=limit, **kw)
        secs = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        conn.send(("ok", secs, rss, int(m["counts"]["total_docs"])))
    except Exception as e:  # sent back as one line
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def _measure(recipe: str, inputs: list[str], limit: int, kw: dict[str, Any]) -> tuple[float, int, int]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_sample_run, args=(child, recipe, inputs, limit, kw))
    p.start()
    child.close()
    try:
        msg = parent.recv()
    except EOFError as e:
        raise ExportError(f"the dry-run sample of {limit:,} documents died (exit code {p.exitcode})") from e
    finally:
        p.join()
    if msg[0] != "ok":
        raise ExportError(f"the dry-run sample failed: {msg[1]}")
    return msg[1], msg[2], msg[3]


def forecast(
    recipe: str, inputs: list[str], *, sample: int = 4000, workers: int = 1, **kw: Any
) -> dict[str, Any]:
    """Measure the recipe on the first ``sample`` documents and forecast the whole run (see the module doc).

    ``recipe``: a YAML path; ``kw``: the options the real run will use (``source``, ``text_field``, ``id_field``,
    ``tokens``, ``benchmarks``, ``models``...)."""
    if sample < 100:
        raise ExportError("--dry-run needs a sample of at least 100 documents")
    total, how = count_documents(inputs, source=kw.get("source"))
    small = max(sample // 4, 50)
    t_small, _, n_small = _measure(recipe, inputs, small, kw)
    t_big, rss, n_big = _measure(recipe, inputs, sample, kw)
    if n_big <= n_small or t_big <= t_small:  # the input is smaller than the sample: the sample was the run
        rate = n_big / max(t_big, 1e-9)
        fixed = 0.0
    else:
        rate = (n_big - n_small) / (t_big - t_small)
        fixed = max(t_small - n_small / rate, 0.0)
    seconds = fixed + total / rate / max(workers, 1)
    return {
        "documents": total,
        "documents_count": how,
        "sample": n_big,
        "docs_per_second_per_process": round(rate, 1),
        "startup_seconds": round(fixed, 1),
        "workers": workers,
        "forecast_seconds": round(seconds, 1),
        "peak_rss_bytes": int(rss),
        "memory_limit": os.environ.get("WINNOW_HEADLESS_MEMORY", "512MB"),
        "assumes": "the per-process rate divides evenly among workers (measure with bench/bench_engine.py)",
    }


def describe(f: dict[str, Any]) -> str:
    """The forecast as a few lines for a person."""
    from app.progress import fmt_amount

    secs = f["forecast_seconds"]
    human = f"{secs / 3600:.1f} h" if secs >= 5400 else f"{secs / 60:.1f} min" if secs >= 90 else f"{secs:.0f} s"
    return "\n".join(
        [
            f"{f['documents']:,} documents ({f['documents_count']}); measured on the first {f['sample']:,}:",
            f"  {f['docs_per_second_per_process']:,.0f} docs/s per process, {f['startup_seconds']:.0f} s start-up",
            f"  forecast: {human} with {f['workers']} worker(s); peak memory about "
            f"{fmt_amount(f['peak_rss_bytes'], 'B')} per process (DuckDB scratch limit {f['memory_limit']})",
        ]
    )
