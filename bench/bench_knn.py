"""Neighbours of every document: exact blocked search against the inverted-file search (``knn_ivf``) that
``winnow map`` uses beyond ``EXACT_LIMIT`` points. Recall@10 against exact on a query sample, and time.

    python bench/bench_knn.py --vectors .carry/gpu_ref      # realmix vectors from bench_embed_map.py's GPU run
    python bench/bench_knn.py --scale 1000000               # time at 1M (vectors resampled from the input + noise)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.maps.knn import knn_exact, knn_ivf


def load(path: str | None, seed: int) -> np.ndarray:
    if path:
        p = Path(path)
        files = sorted(p.glob("vec*.npy")) if p.is_dir() else [p]
        v = np.concatenate([np.load(f) for f in files]).astype(np.float32)
    else:  # clustered synthetic vectors: 200 topics in 384 dims
        rng = np.random.default_rng(seed)
        centres = rng.normal(size=(200, 384)).astype(np.float32)
        v = centres[rng.integers(0, 200, 50_000)] + rng.normal(0, 0.6, (50_000, 384)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors", help="a .npy file or a folder of vec*.npy (default: synthetic clustered vectors)")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--scale", type=int, default=0, help="also time knn_ivf on this many resampled vectors")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    v = load(args.vectors, args.seed)
    rng = np.random.default_rng(args.seed)
    q = np.sort(rng.choice(len(v), min(args.queries, len(v)), replace=False))
    t = time.perf_counter()
    ex_idx, _ = knn_exact(v[q], v, 11)
    exact_s = (time.perf_counter() - t) * len(v) / len(q)
    exact = [[j for j in row if j != i][:10] for row, i in zip(ex_idx, q, strict=True)]
    print(f"| method | {len(v):,} vectors: seconds | recall@10 vs exact |\n|---|---:|---:|")
    print(f"| exact (blocked products; time extrapolated from {len(q):,} queries) | {exact_s:.1f} | 1.000 |")
    for nprobe in (4, 8, 16):
        t = time.perf_counter()
        idx, _ = knn_ivf(v, 10, nprobe=nprobe, seed=args.seed)
        secs = time.perf_counter() - t
        rec = np.mean([len(set(idx[i]) & set(e)) / 10 for i, e in zip(q, exact, strict=True)])
        print(f"| knn_ivf, nprobe {nprobe} | {secs:.1f} | {rec:.3f} |")
    if args.scale:
        x = v[rng.integers(0, len(v), args.scale)] + rng.normal(0, 0.02, (args.scale, v.shape[1])).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        t = time.perf_counter()
        knn_ivf(x, 10, seed=args.seed)
        print(f"| knn_ivf (default nprobe 8), {args.scale:,} resampled vectors | {time.perf_counter() - t:.1f} | - |")


if __name__ == "__main__":
    main()
