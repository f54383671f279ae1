"""How close the forecast was: ``--dry-run`` stores its forecast, the real run compares and records it.

``winnow apply --input ... --dry-run`` saves the forecast under ``$WINNOW_CACHE/forecasts/<key>.json`` (default
``~/.cache/winnow``), where the key is a digest of the recipe, every input file (path, size, modification time)
and the options that change the work (source, fields, tokens, benchmarks, models). The real run with the same
recipe, inputs and options finds it, forecasts its own worker count and document count from the measured rate,
prints ``forecast 3.1 s, took 3.4 s (+10%)`` and records both (and the peak memory) in the manifest under
``source.forecast``. A changed input file or recipe gets a new key, so a stale forecast is never compared.
The comparison is the only wall-clock figure in a headless manifest, and it is there only after a dry run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

#: options that change the work per document (not ``workers`` or ``engine``: the forecast scales those)
KEY_OPTIONS = (
    "source",
    "text_field",
    "id_field",
    "tokens",
    "benchmarks",
    "benchmark_fields",
    "models",
    "tokenizer",
    "tokenizer_name",
    "semantic_model",
    "semantic_eps",
)


def seconds_for(
    rate: float,
    fixed: float,
    documents: int,
    workers: int,
    *,
    driver_share: float = 0.0,
    cores: int | None = None,
    busy: float = 1.0,
) -> float:
    """The forecast time of ``documents`` at ``rate`` docs per CPU-second with ``fixed`` start-up seconds.

    With ``workers`` > 1 the workers share the per-document work (scoring, signatures, vectors) while the driver
    does its ``driver_share`` of the CPU (reading, the scratch database, the global steps) beside them, not
    divided: a document takes the longest of the driver's share, the workers' share over ``workers``, and all of
    it over ``cores`` (this machine's, for local workers). Dividing all of it among the workers forecast 7.3 min
    for a 10M run that took 11.2. ``busy``: how much longer than its CPU time the sample took (other work on the
    machine), carried to the run when above 1 (1M documents beside another job: 72 s on free cores, 115 s at the
    sample's 1.6x, took 142)."""
    per_doc = 1 / max(rate, 1e-9)
    if workers > 1:
        d = min(max(driver_share, 0.0), 1.0)
        per_doc = max(per_doc * d, per_doc * (1 - d) / workers, per_doc / cores if cores else 0.0)
    return round(fixed + documents * per_doc * max(busy, 1.0), 1)


def busy_note(f: dict[str, Any]) -> str:
    """``; the sample took 1.6x its CPU time (...; 3.4 min on free cores)`` when a forecast ``f`` (``apply`` or
    ``score --dry-run``) measured its sample running longer than its CPU time: other work had the cores, and the
    forecast assumes the run will share them the same way. Empty within timing noise (1.05x)."""
    ratio = f.get("sample_wall_per_cpu", 1.0)
    if ratio <= 1.05 or "free_cores_seconds" not in f:
        return ""
    return (
        f"; the sample took {ratio:.1f}x its CPU time (other work on the machine: the forecast assumes as much; "
        f"{human_seconds(f['free_cores_seconds'])} on free cores)"
    )


def human_seconds(secs: float) -> str:
    return f"{secs / 3600:.1f} h" if secs >= 5400 else f"{secs / 60:.1f} min" if secs >= 90 else f"{secs:.1f} s"


def forecast_dir() -> Path:
    """Where forecasts are stored: ``$WINNOW_CACHE/forecasts`` (default ``~/.cache/winnow/forecasts``)."""
    from app.embed.static import cache_home

    return cache_home() / "forecasts"


def forecast_key(recipe: Any, inputs: list[str], options: dict[str, Any]) -> str:
    """A digest of what the run will do: the recipe, the input files as they are now, the options."""
    from app.export.provenance import recipe_sha256
    from app.ingest.sources import resolve

    resolved, _ = resolve(list(inputs), source=options.get("source"))
    files = []
    for inp in resolved:
        try:
            st = os.stat(inp.path)
            files.append([os.path.abspath(inp.path), st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([inp.path, None, None])
    body = {
        "recipe": recipe_sha256(recipe),
        "files": files,
        "options": {k: options.get(k) for k in KEY_OPTIONS},
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]


def save(forecast: dict[str, Any], key: str) -> Path | None:
    """Store ``forecast`` for the real run; None (and nothing else) when the cache is not writable."""
    try:
        d = forecast_dir()
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(forecast, sort_keys=True))
        os.replace(tmp, d / f"{key}.json")
        return d / f"{key}.json"
    except OSError:
        return None


#: the numbers an apply forecast must hold to be compared with (:func:`load`)
APPLY_NEEDS = ("docs_per_second_per_process", "startup_seconds", "peak_rss_bytes")


def load(key: str, *, need: tuple[str, ...] = APPLY_NEEDS) -> dict[str, Any] | None:
    """The stored forecast for ``key`` holding the numbers ``need``, or None (absent or unreadable: the run simply
    has nothing to compare)."""
    try:
        f = json.loads((forecast_dir() / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return f if isinstance(f, dict) and all(isinstance(f.get(k), (int, float)) for k in need) else None


def versus(forecast: dict[str, Any], *, took: float, documents: int, workers: int, peak_rss: int) -> dict[str, Any]:
    """The forecast for this run (its documents and workers, at the measured rate) next to what it took."""
    want = seconds_for(forecast["docs_per_second_per_process"], forecast["startup_seconds"], documents, workers,
                       driver_share=float(forecast.get("driver_share", 0.0)), cores=forecast.get("cores"),
                       busy=float(forecast.get("sample_wall_per_cpu", 1.0)))  # fmt: skip
    return {
        "forecast_seconds": want,
        "took_seconds": round(took, 1),
        "error_pct": round(100 * (took - want) / want, 1) if want > 0 else None,
        "forecast_peak_rss_bytes": int(forecast["peak_rss_bytes"]),
        "peak_rss_bytes": int(peak_rss),
        "documents": int(documents),
        "workers": int(workers),
    }


def line(v: dict[str, Any]) -> str:
    """``forecast 3.1 s, took 3.4 s (+10%)``, and the memory the same way."""
    from app.progress import fmt_amount

    pct = "" if v["error_pct"] is None else f" ({v['error_pct']:+.0f}%)"
    return (
        f"forecast {human_seconds(v['forecast_seconds'])}, took {human_seconds(v['took_seconds'])}{pct};"
        f" peak memory forecast {fmt_amount(v['forecast_peak_rss_bytes'], 'B')},"
        f" measured {fmt_amount(v['peak_rss_bytes'], 'B')}"
    )
