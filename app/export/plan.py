"""A forecast before a long headless run: ``winnow apply --input SHARDS --recipe R --dry-run [N]``.

How it works, and why:

1. **How many documents.** Parquet inputs: exact, from the files' metadata. Uncompressed JSONL/text: exact,
   by counting line ends in 1 MB blocks (:class:`~app.export.plan_sample.LineIndex`, bounded memory), noting
   the count before each block, so that the samples below are placed without reading the file again.
   Compressed JSONL (``.gz``/``.zst``) and other formats: *estimated* from the first file: decompress up to
   64 MB, count lines, scale by the compressed bytes read. The forecast says which it is.
2. **How fast, how much memory.** The recipe is applied for real to ``N/4`` and ``N`` documents drawn across
   every input file (:mod:`app.export.plan_sample`), each in a fresh child process (so imports and model loading
   are paid the way a real run pays them, and the child's peak RSS is its own). The *marginal* rate
   ``(N - N/4) / (c_N - c_N/4)``, in the children's CPU seconds (a second or two between the two runs, which
   other work on a shared machine stretches in wall time), leaves out the fixed start-up cost, which is added
   back once. A sample whose wall time ran past its CPU time shared the machine with other work: the forecast
   carries that ratio to the run, and says what free cores would take. When
   the larger sample's extra documents take under ``MIN_MARGIN_CPU`` seconds (a cheap recipe), it grows 4x (up
   to ``MAX_SAMPLE``), the last one becoming the smaller. Peak RSS is the child's at ``N``; headless apply keeps its
   scratch database under a fixed memory limit (``WINNOW_HEADLESS_MEMORY``, 128 MB), so the peak grows with the
   batch and the models, not with the corpus.
3. **Per worker.** The sample measures which share of its CPU went to the work engine workers do (signals,
   signatures, vectors: ``apply_headless(timings=...)``); with ``workers`` > 1 that share is divided among them
   while the driver does the rest beside them, and the machine's cores bound both (a Ray cluster's are not
   known: only the first two bounds). The forecast prints the measured rate and the driver's share, never a
   scaling it did not measure (the engines' own overhead: ``bench/bench_engine.py``).

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
#: CPU seconds the larger sample must take beyond the smaller one for its rate to be trusted (else it grows 4x)
MIN_MARGIN_CPU = 2.0
#: the sample grows no further than this
MAX_SAMPLE = 256_000
#: how far past the sample's peak the driver of a long run went, as the runs printed it (README, "Scale"): the
#: bench recipe on cycled realmix, sample against run: local `-j 2` at 1M 380 -> 572 MB (JSONL shards) and
#: 425 -> 598 MB (gzip shards); Ray at 1M 380 -> 776 MB, at 10M 372 -> 904 MB. Printed so that a user reads the
#: sample's figure as the floor it is; never computed with
LONG_RUN_GROWTH = "1.4-2.4x"


def count_documents(inputs: list[str], *, source: str | None = None) -> tuple[int, str]:
    """``(documents, how)`` for headless inputs: ``how`` is ``exact`` or ``estimated``."""
    each, how = count_each(inputs, source=source)
    return sum(c for _, c in each), how


def count_each(
    inputs: list[str], *, source: str | None = None, index: dict[str, Any] | None = None
) -> tuple[list[tuple[Any, int]], str]:
    """``([(Input, documents)], how)``: every input file with its (exact or estimated) document count.
    ``index``, when given, receives the :class:`~app.export.plan_sample.LineIndex` of every plain file, built
    by the pass that counts its lines (the sample then places its runs without reading the file again)."""
    from app.export.plan_sample import LineIndex
    from app.ingest.sources import resolve

    resolved, _ = resolve(inputs, source=source)
    if not resolved:
        raise ExportError(f"no input files match {', '.join(inputs)}")
    out: list[tuple[Any, int]] = []
    how = "exact"
    per_byte: float | None = None
    for inp in resolved:
        if inp.kind != "file":
            raise ExportError("--dry-run counts files only (not Hugging Face ids or saved datasets)")
        if inp.fmt == "parquet":
            import pyarrow.parquet as pq

            out.append((inp, pq.ParquetFile(inp.path).metadata.num_rows))
        elif inp.fmt in ("jsonl", "text") and not inp.compression:
            idx = LineIndex(inp.path)
            if index is not None:
                index[inp.path] = idx
            out.append((inp, idx.lines))
        else:
            if per_byte is None:
                per_byte = _lines_per_byte(inp.path, inp.compression)
            out.append((inp, round(per_byte * inp.size)))
            how = "estimated"
    return out, how


def _lines_per_byte(path: str, compression: str | None) -> float:
    """Lines per *stored* byte: decompress up to :data:`SNIFF` bytes of ``path`` and divide the lines found by
    the stored bytes consumed to get them (exact when the whole file fits in the sniff). gzip is fed to a
    decompressor object :data:`BLOCK` bytes at a time, so the bytes it consumed are known exactly (a reader's
    read-ahead would count bytes it has not decompressed yet). A truncated or corrupt file is one line."""
    if compression == "gzip":
        return _gzip_lines_per_byte(path)
    import zstandard

    from app.ingest.streams import check_zstd_frames

    if compression == "zstd":
        check_zstd_frames(path)  # a truncated zstd file: one IngestError naming it
    try:
        with open(path, "rb") as raw:
            f = zstandard.ZstdDecompressor().stream_reader(raw) if compression == "zstd" else raw
            got = lines = 0
            while got < SNIFF and (block := f.read(BLOCK)):
                got += len(block)
                lines += block.count(b"\n")
            whole = not f.read(1)
            consumed = Path(path).stat().st_size if whole else raw.tell()
    except (OSError, zstandard.ZstdError) as e:
        raise ExportError(f"cannot read {compression or 'the'} file {path}: {e}") from e
    return lines / max(consumed, 1)


def _gzip_lines_per_byte(path: str) -> float:
    from app.ingest.streams import zlib_module

    zlib = zlib_module()
    size = Path(path).stat().st_size
    d = zlib.decompressobj(31)
    got = lines = fed = 0
    member = False  # the current gzip member has been fed bytes and not ended
    with open(path, "rb") as raw:
        while got < SNIFF:
            chunk = raw.read(BLOCK)
            if not chunk:
                if member:
                    raise ExportError(f"truncated gzip file {path}: it ends inside a compressed member")
                break
            fed += len(chunk)
            while chunk and got < SNIFF:
                member = True
                try:
                    out = d.decompress(chunk, BLOCK)
                except Exception as e:  # zlib.error / isal's IsalError: corrupt data
                    raise ExportError(f"cannot read gzip file {path}: {e}") from e
                got += len(out)
                lines += out.count(b"\n")
                chunk = d.unconsumed_tail
                if d.eof:  # the next gzip member (or padding) follows
                    chunk = d.unused_data.lstrip(b"\0")
                    d = zlib.decompressobj(31)
                    member = False
            fed -= len(chunk)  # not decompressed: not consumed
            if chunk:
                break
    return lines / max(size if fed >= size else fed, 1)


def _sample_run(conn: Any, recipe: Any, inputs: list[str], limit: int, kw: dict[str, Any]) -> None:
    """Child process: apply the recipe to the sample; send (seconds, CPU seconds of all its threads, CPU seconds of
    the work engine workers would do, peak RSS bytes, docs, signal families)."""
    import resource

    try:
        t0, c0 = time.perf_counter(), time.process_time()
        from app.export.headless import apply_headless

        timings: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix="winnow-plan-") as tmp:
            m = apply_headless(recipe, inputs, Path(tmp) / "out", limit=limit, timings=timings, **kw)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        fams = m["source"].get("signal_families", [])
        conn.send(("ok", secs, cpu, timings.get("worker_cpu", 0.0), rss, int(m["counts"]["total_docs"]), fams))
    except Exception as e:  # sent back as one line
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def _worker_probe(
    conn: Any, texts: list[str], families: list[str], tokens_ok: bool, near: bool, semantic: str | None, ray: bool
) -> None:
    """Child process: what one engine worker holds: Winnow's imports (and Ray's, for a Ray worker), the
    scorers of the recipe's signal families, one input batch and its scores (:func:`score_batch`)."""
    import resource

    try:
        if ray:
            import contextlib

            with contextlib.suppress(ImportError):
                import ray as _ray  # noqa: F401  (a Ray worker process has Ray imported)
        from app.export.headless_pass import score_batch

        score_batch(texts, families, tokens_ok, near, semantic)
        conn.send(("ok", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
    except Exception as e:
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def _child(target: Any, args: tuple, what: str) -> tuple:
    from app.child import run_child

    return run_child(target, args, f"dry-run {what}", error=ExportError)


def _measure(
    recipe: Any, inputs: list[str], limit: int, kw: dict[str, Any]
) -> tuple[float, float, float, int, int, list[str]]:
    return _child(_sample_run, (recipe, inputs, limit, kw), f"sample of {limit:,} documents")  # type: ignore[return-value]


def _first_batch(inputs: list[str], kw: dict[str, Any]) -> list[str]:
    """The texts of the first input batch of the sample (what an engine sends a worker at a time)."""
    from app.ingest.reader import DocumentReader

    opts = {k: kw.get(k) for k in ("source", "text_field", "id_field")}
    for batch in DocumentReader(inputs, **opts):
        return [t for t in batch.column("text").to_pylist()]
    return []


def forecast(
    recipe: Any, inputs: list[str], *, sample: int = 4000, workers: int = 1, engine: str = "local", **kw: Any
) -> dict[str, Any]:
    """Measure the recipe on a sample drawn across every input file and forecast the whole run (see the
    module doc): time on this machine with ``workers``, peak memory of the run and of one engine worker.

    ``recipe``: a recipe or YAML path; ``kw``: the options the real run will use (``source``, ``text_field``,
    ``id_field``, ``tokens``, ``benchmarks``, ``models``...)."""
    from app.export.headless_pass import memory_limit
    from app.export.plan_check import seconds_for
    from app.export.plan_sample import sample_inputs
    from app.recipes import load_recipe

    if sample < 100:
        raise ExportError("--dry-run needs a sample of at least 100 documents")
    recipe = load_recipe(recipe)
    index: dict[str, Any] = {}  # the plain files' line indexes: one pass counts them and places every sample
    each, how = count_each(inputs, source=kw.get("source"), index=index)
    total = sum(c for _, c in each)
    small = max(sample // 4, 50)
    asked = sample
    with tempfile.TemporaryDirectory(prefix="winnow-sample-") as tmp:

        def run(n: int) -> tuple[list[str], str, tuple[float, float, float, int, int, list[str]]]:
            spec, how_drawn = sample_inputs(inputs, each, n, Path(tmp) / str(n), source=kw.get("source"), index=index)
            return spec, how_drawn, _measure(recipe, spec, n, kw)

        _, _, (t_small, c_small, w_small, _, n_small, _) = run(small)
        spec_big, drawn, (t_big, c_big, w_big, rss, n_big, fams) = run(sample)
        # a cheap recipe's extra documents take too little CPU to time (4,000 cycled realmix documents against
        # 1,000: 0.2 CPU-s, a forecast 2x off either way): the sample grows until they take MIN_MARGIN_CPU
        while c_big - c_small < MIN_MARGIN_CPU and n_big > n_small and n_big < total and sample * 4 <= MAX_SAMPLE:
            sample *= 4
            t_small, c_small, w_small, n_small = t_big, c_big, w_big, n_big
            spec_big, drawn, (t_big, c_big, w_big, rss, n_big, fams) = run(sample)
        texts = _first_batch(spec_big, kw)
    near = bool(recipe.dedup.near)
    semantic = (kw.get("semantic_model") or "") if recipe.dedup.semantic else None
    tokens_ok = kw.get("tokens", "size_tokens") == "size_tokens"
    (worker_rss,) = _child(_worker_probe, (texts, fams, tokens_ok, near, semantic, engine == "ray"), "worker probe")
    # the rate from the CPU seconds the sample's extra documents took, not its wall seconds: a second or two of
    # difference between the two runs, which other work on the machine stretched by 30-70% (10M cycled realmix
    # documents, the bench recipe, `-j 2`: forecast 21-77 min from wall, took 11.2)
    busy = (t_big - t_small) / (c_big - c_small) if c_big > c_small and t_big > t_small else 1.0
    if n_big <= n_small or c_big <= c_small:  # the input is smaller than the sample: the sample was the run
        rate = n_big / max(c_big, 1e-9)
        fixed = 0.0
        driver = 1 - w_big / max(c_big, 1e-9)
    else:
        rate = (n_big - n_small) / (c_big - c_small)
        fixed = max(t_small - n_small / rate, 0.0)
        driver = 1 - (w_big - w_small) / (c_big - c_small)
    driver = min(max(driver, 0.0), 1.0)
    cores = None if engine == "ray" and kw.get("ray_address") else os.cpu_count()
    return {
        "documents": total,
        "documents_count": how,
        "sample": n_big,
        "sample_asked": asked,
        "sampled": drawn,
        "docs_per_second_per_process": round(rate, 1),
        "sample_wall_per_cpu": round(busy, 2),
        "startup_seconds": round(fixed, 1),
        "workers": workers,
        "engine": engine,
        "driver_share": round(driver, 3),
        "cores": cores,
        "free_cores_seconds": seconds_for(rate, fixed, total, workers, driver_share=driver, cores=cores),
        "forecast_seconds": seconds_for(rate, fixed, total, workers, driver_share=driver, cores=cores, busy=busy),
        "peak_rss_bytes": int(rss),
        "worker_peak_rss_bytes": int(worker_rss),
        "worker_batch": len(texts),
        "memory_limit": memory_limit(),
        "assumes": "the workers share the per-document work, the driver does its share beside them (measured on the "
        "sample), the cores bound both",
    }


def describe(f: dict[str, Any]) -> str:
    """The forecast as a few lines for a person."""
    from app.export.plan_check import busy_note, human_seconds
    from app.progress import fmt_amount

    secs = f["forecast_seconds"]
    worker = "Ray worker" if f.get("engine") == "ray" else "worker process"
    return "\n".join(
        [
            f"{f['documents']:,} documents ({f['documents_count']}); measured on {f['sample']:,} "
            f"({f.get('sampled', 'the first documents')}"
            + (
                f"; grown from {f['sample_asked']:,}: too quick to time"
                if f.get("sample_asked", f["sample"]) < f["sample"]
                else ""
            )
            + "):",
            f"  {f['docs_per_second_per_process']:,.0f} docs/s per process (its CPU time; "
            f"{f.get('driver_share', 0.0):.0%} of it the driver's, not divided among workers), "
            f"{f['startup_seconds']:.0f} s start-up",
            f"  forecast: {human_seconds(secs)} with {f['workers']} worker(s){busy_note(f)}",
            f"  peak memory: {fmt_amount(f['peak_rss_bytes'], 'B')} in the sample run"
            + (
                " (the whole input)"
                if f["sample"] >= f["documents"]
                else f"; a long run's driver grows past it (DuckDB's scratch pool fills to its limit, "
                f"{f['memory_limit']}; batches in flight): {LONG_RUN_GROWTH} the sample's in runs of 1M-10M "
                "realmix documents"
            ),
            f"  per {worker}: about {fmt_amount(f['worker_peak_rss_bytes'], 'B')} "
            f"(scorers loaded, one batch of {f['worker_batch']:,} documents)",
        ]
    )
