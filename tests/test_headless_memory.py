"""Headless apply holds nothing per document in Python: its traced peak does not grow with the input.

Two fresh processes run the same recipe (a rule, exact and near dedup: the global steps) over 20,000 and
80,000 generated documents with every batch made small (input blocks of 256 kB, clustering batches of 2,048
rows), so whatever is bounded by a batch is at its bound at both sizes. ``tracemalloc`` traces Python's
allocations and NumPy's arrays (not DuckDB's or Arrow's memory, which the scratch limit bounds): the larger
run's traced peak may exceed the smaller's by at most 40 bytes per extra document. An id list, a keep set or
a per-document array in the driver (8 to 100 bytes a document) fails it. Why not the RSS: DuckDB fills its pool
up to the limit and a batch's transients vary, so two RSS peaks differ by more than what this guards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RECIPE = """name: flat
rules:
  - {signal: gopher_word_count, min: 5}
dedup: {exact: true, near: true}
"""

#: the child: writes N documents (every 10th a copy, every 10th a near copy), applies the recipe with small
#: batches under tracemalloc, prints the traced peak
CHILD = r"""
import json, random, sys, tracemalloc
sys.path.insert(0, sys.argv[1])
n, d = int(sys.argv[2]), sys.argv[3]
rng = random.Random(7)
words = [f"w{i}" for i in range(5000)]
with open(f"{d}/docs.jsonl", "w") as f:
    prev = None
    for i in range(n):
        if prev is not None and i % 10 == 3:
            text = prev
        elif prev is not None and i % 10 == 7:
            text = prev.rsplit(" ", 3)[0] + " tail words here"
        else:
            text = " ".join(rng.choice(words) for _ in range(60))
        prev = text
        f.write(json.dumps({"id": f"doc-{i:07d}", "text": text}) + "\n")
from app.ingest import formats
from app.signals import _lsh, _lsh_groups, _lsh_resolve
from app.export.headless import apply_headless
formats.BLOCK_BYTES = 256 << 10
_lsh._BATCH = _lsh_groups.BATCH = _lsh_resolve.BATCH = 2048
tracemalloc.start()
m = apply_headless(f"{d}/r.yaml", [f"{d}/docs.jsonl"], f"{d}/out", tokens="estimate")
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"peak": peak, "kept": m["counts"]["kept_docs"], "total": m["counts"]["total_docs"]}))
"""


def _peak(n: int, d: Path) -> dict:
    d.mkdir()
    (d / "r.yaml").write_text(RECIPE)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(n), str(d)], capture_output=True, text=True,
                       env=env, timeout=900)  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_traced_peak_flat_from_20k_to_80k_documents(tmp_path: Path) -> None:
    small, big = _peak(20_000, tmp_path / "small"), _peak(80_000, tmp_path / "big")
    assert small["total"] == 20_000 and big["total"] == 80_000
    assert 0 < big["kept"] < 72_000  # the dedup removed the copies: the global step ran
    per_doc = (big["peak"] - small["peak"]) / 60_000
    assert per_doc < 40, (
        f"traced peak {small['peak'] / 2**20:.1f} -> {big['peak'] / 2**20:.1f} MiB: {per_doc:.0f} B/doc"
    )
