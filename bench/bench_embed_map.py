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


# ------------------------------------------------------------------------------------------- helpers
REALMIX = Path(os.environ.get("WINNOW_SHARED", ROOT.parent / "shared")) / "corpora" / "realmix" / "realmix.parquet"
GPU_REF = ROOT / ".carry" / "gpu_ref"
OUT_DIR = ROOT / "bench" / "out"


def purity(vectors_or_coords: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Mean share of each point's k nearest neighbours (cosine for vectors, euclidean for 2-D) with its label."""
    from app.maps.knn import knn_exact

    x = vectors_or_coords
    if x.shape[1] == 2:
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=k + 1).fit(x)
        idx = nn.kneighbors(x, return_distance=False)
        idx = np.array([[j for j in row if j != i][:k] for i, row in enumerate(idx)])
    else:
        idx, _ = knn_exact(x, x, k, exclude_self=True)
    return float((labels[idx] == labels[:, None]).mean())


def recall_at_k(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    """Share of the exact k-NN under vectors ``a`` found among the k-NN under vectors ``b`` (same rows)."""
    from app.maps.knn import knn_exact

    ia, _ = knn_exact(a, a, k, exclude_self=True)
    ib, _ = knn_exact(b, b, k, exclude_self=True)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(ia, ib)]))


def timed(fn, *a, **kw):
    t = time.perf_counter()
    r = fn(*a, **kw)
    return r, time.perf_counter() - t


def realmix_workspace(path: Path):
    """A workspace holding realmix with its own sources (ids kept), built with write_source."""
    import pyarrow.parquet as pq

    from app.workspace import Workspace

    if (path / "winnow.duckdb").exists():
        return Workspace.open(path)
    ws = Workspace.open(path, create=True)
    t = pq.read_table(REALMIX, columns=["id", "source", "text"])
    for src in sorted(set(t["source"].to_pylist())):
        part = t.filter(__import__("pyarrow.compute", fromlist=["equal"]).equal(t["source"], src))
        ws.write_source(src, part.drop_columns(["source"]))
    return ws


def import_gpu_reference(ws, key: str) -> int:
    """Store the GPU-computed full-model vectors of realmix as the cache of ``key`` (saves 15 CPU minutes)."""
    import pyarrow as pa

    from app.embed import MODELS_DDL, vectors_table

    ids = json.loads((GPU_REF / "ids.json").read_text())
    vec = np.vstack([np.load(GPU_REF / f"vec{i}.npy") for i in range(4)]).astype(np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    table = vectors_table(key)
    cur = ws.cursor()
    cur.execute(MODELS_DDL)
    cur.execute(f'CREATE OR REPLACE TABLE "{table}" (text_hash VARCHAR NOT NULL, vec FLOAT[{vec.shape[1]}])')
    ref = pa.table({"id": ids, "vec": pa.FixedSizeListArray.from_arrays(pa.array(vec.reshape(-1)), vec.shape[1])})
    cur.register("_ref", ref)
    cur.execute(
        f'INSERT INTO "{table}" SELECT d.text_hash, any_value(r.vec) FROM _ref r JOIN docs d ON d.id = r.id'
        " GROUP BY d.text_hash"
    )
    from app.embed.models import default_model_path

    spec = {
        "kind": "sentence-transformers",
        "key": key,
        "dim": vec.shape[1],
        "path": str(default_model_path()),
        "max_length": 256,
        "device": "cuda (bench import)",
    }
    cur.execute(
        "INSERT OR REPLACE INTO embed_models VALUES (?, ?, ?, ?, now()::TIMESTAMP)",
        [key, table, vec.shape[1], json.dumps(spec)],
    )
    return len(ids)


def sources_of(ws, ids: np.ndarray) -> np.ndarray:
    rows = dict(ws.cursor().execute("SELECT id, source FROM docs").fetchall())
    return np.array([rows[i] for i in ids])


# --------------------------------------------------------------------------------------------- ONNX
def onnx_int8(model_path: str, workdir: Path) -> Path:
    """Export the transformer to ONNX (torch.onnx) and quantise weights to int8 (onnxruntime dynamic)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    workdir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = workdir / "model.onnx", workdir / "model.int8.onnx"
    if int8.exists():
        return int8
    m = AutoModel.from_pretrained(model_path).eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    torch.onnx.export(
        m,
        (ids, torch.ones_like(ids)),
        str(fp32),
        input_names=["input_ids", "attention_mask"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            "input_ids": {0: "b", 1: "s"},
            "attention_mask": {0: "b", 1: "s"},
            "last_hidden_state": {0: "b", 1: "s"},
        },
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return int8


def onnx_encode(
    onnx_path: Path, tok_path: Path, texts: list[str], *, batch: int = 64, max_len: int = 256
) -> np.ndarray:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_path))
    tok.enable_truncation(max_len)
    tok.enable_padding()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = np.zeros((len(texts), 384), dtype=np.float32)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    for s in range(0, len(texts), batch):
        idx = order[s : s + batch]
        enc = tok.encode_batch([texts[i] for i in idx])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in [i.name for i in sess.get_inputs()]:
            feeds["token_type_ids"] = np.zeros_like(ids)
        h = sess.run(None, feeds)[0]
        v = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


# ------------------------------------------------------------------------------------------ scaling
def synthetic(n: int, d: int = 384, centres: int = 50, seed: int = 0) -> np.ndarray:
    """A normalised Gaussian mixture (synthetic stand-in for embeddings at 100k/1M)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d)).astype(np.float32)
    x = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        x[s:e] = c[rng.integers(0, centres, e - s)] + 0.6 * rng.standard_normal((e - s, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def transform_vs_placement(n: int = 40_000, fit: int = 20_000) -> dict:
    """UMAP.transform against our nearest-sample placement for the points outside the fitted sample."""
    import umap

    from app.maps import project

    red = project.pca_reduce(synthetic(n, seed=3), seed=0)
    reducer = umap.UMAP(n_components=2, metric="cosine", random_state=0, low_memory=True)
    fitted = reducer.fit_transform(red[:fit])
    reducer.transform(red[fit : fit + 500])  # compile transform's numba code outside the timing
    _, t_transform = timed(reducer.transform, red[fit:])
    from app.maps.knn import knn_exact

    def place():
        nb, sim = knn_exact(red[fit:], red[:fit], 10)
        w = np.clip(sim, 1e-3, None) ** 4
        return (fitted[nb] * w[..., None]).sum(1) / w.sum(1, keepdims=True)

    _, t_place = timed(place)
    return {
        "points": n - fit,
        "fitted": fit,
        "umap_transform_s": round(t_transform, 2),
        "placement_s": round(t_place, 2),
    }


def scale_bench(sizes: list[int], out: Path | None = None) -> list[dict]:
    """Map (PCA + UMAP on a 50k sample + placement + k-means) and neighbour (exact/HNSW) time per size."""
    from app.maps import project
    from app.maps.knn import EXACT_LIMIT, knn_all

    rows = []
    project.umap_2d(project.pca_reduce(synthetic(6000, seed=9)), seed=0)  # compile numba once, outside the timings
    for n in sizes:
        x = synthetic(n)
        r = {"n": n}
        red, r["pca_s"] = timed(project.pca_reduce, x, seed=0)
        (coords, fitted), r["umap_s"] = timed(project.umap_2d, red, seed=0)
        r["fitted"] = fitted
        _, r["kmeans_s"] = timed(project.kmeans, red, seed=0)
        r["map_total_s"] = r["pca_s"] + r["umap_s"] + r["kmeans_s"]
        print(json.dumps(r), flush=True)
        if out:
            (out / f"map_{n}.json").write_text(json.dumps(r))
        (idx, sim, method), r["knn_s"] = timed(knn_all, x, 10)
        r["knn_method"] = method
        if method != "exact":  # ANN recall on 1,000 queries against exact
            from app.maps.knn import knn_exact

            q = np.random.default_rng(1).choice(n, 1000, replace=False)
            ex, _ = knn_exact(x[q], x, 11)
            r["knn_recall"] = float(
                np.mean([len(set(e[e != qi][:10]) & set(a)) / 10 for e, a, qi in zip(ex, idx[q], q)])
            )
        rows.append(r)
        print(json.dumps(r), flush=True)
        if out:
            (out / "scale.json").write_text(json.dumps(rows, indent=1))
        del x, red, coords, idx, sim
    _ = EXACT_LIMIT
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", nargs="?", default="cpu", choices=["cpu", "gpu", "scale"])
    ap.add_argument("--model")
    ap.add_argument("--corpus")
    ap.add_argument("--out")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--no-transform", action="store_true")
    a = ap.parse_args()
    if a.mode == "gpu":
        gpu_worker(a.model, a.corpus, a.out)
        return
    if a.mode == "scale":
        out = Path(a.out) if a.out else None
        if out:
            out.mkdir(parents=True, exist_ok=True)
        if not a.no_transform:
            tv = transform_vs_placement()
            print(json.dumps(tv), flush=True)
            if out:
                (out / "transform.json").write_text(json.dumps(tv))
        scale_bench([int(v) for v in a.sizes.split(",")], out)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cpu_bench()


def cpu_bench() -> None:
    raise SystemExit("cpu bench: not written yet")


if __name__ == "__main__":
    main()
