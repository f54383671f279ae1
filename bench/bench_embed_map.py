"""Benchmark embeddings, map, clusters and neighbours (issue 6). Prints a table, rewrites README's bench:embed section.

    python bench/bench_embed_map.py                 # CPU figures on realmix (+ synthetic map scaling)
    python bench/bench_embed_map.py gpu --model DIR --corpus PARQUET --out DIR   # on the GPU machine

The GPU worker needs only torch, sentence-transformers and pyarrow (the device has no duckdb): it
embeds the whole corpus with the default model and saves the vectors (float16, split in parts) so the
CPU run can use them as the full-model reference for purity and recall without 15 minutes of CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------------------------- GPU
def gpu_worker(model_dir: str, corpus: str, out: str) -> None:
    import pyarrow.parquet as pq
    import torch
    from sentence_transformers import SentenceTransformer

    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    t = pq.read_table(corpus, columns=["id", "source", "text"])
    ids, texts = t["id"].to_pylist(), t["text"].to_pylist()
    res: dict = {"device": torch.cuda.get_device_name(0), "docs": len(texts), "torch": torch.__version__}
    t0 = time.perf_counter()
    m = SentenceTransformer(model_dir, device="cuda")
    m.float()
    torch.cuda.synchronize()
    res["load_s"] = round(time.perf_counter() - t0, 2)
    res["max_seq_length"] = m.max_seq_length
    m.encode(texts[:2048], batch_size=256)  # warm-up (kernels, allocator)
    ref = None
    for dtype in ("fp32", "fp16"):
        if dtype == "fp16":
            m.half()
        for bs in (64, 256, 1024):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            v = m.encode(texts, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            row = {"dtype": dtype, "batch": bs, "seconds": round(dt, 2), "docs_per_s": round(len(texts) / dt, 1)}
            v = v.astype(np.float32)
            if ref is None:
                ref = v
            else:
                row["min_cos_vs_fp32"] = float((v * ref).sum(1).min())
            res.setdefault("runs", []).append(row)
            print(json.dumps(row), flush=True)
    half = ref.astype(np.float16)
    parts = np.array_split(np.arange(len(ids)), 4)
    for i, p in enumerate(parts):
        np.save(outp / f"vec{i}.npy", half[p])
    (outp / "ids.json").write_text(json.dumps(ids))
    (outp / "gpu.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", nargs="?", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--model")
    ap.add_argument("--corpus")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.mode == "gpu":
        gpu_worker(a.model, a.corpus, a.out)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cpu_bench()


def cpu_bench() -> None:
    raise SystemExit("cpu bench: not written yet")


if __name__ == "__main__":
    main()
