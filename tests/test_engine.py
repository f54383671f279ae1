"""Engines: the same rows whatever runs the per-document work (this process, a local pool, a Ray cluster).

The Ray tests start a real local Ray cluster with 2 CPUs (about 7 s) once for the module."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from app.engine import make_engine
from app.errors import EngineError

WORDS = ["the", "cat", "sat", "on", "a", "mat", "while", "rain", "fell", "over", "hills", "and", "rivers", "quiet", "towns", "slept", "under", "a", "pale", "moon", "buy", "now", "click", "here", "best", "deals", "free", "offer"]  # fmt: skip


def _docs(n: int, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        k = rnd.randint(3, 120)
        text = " ".join(rnd.choice(WORDS) for _ in range(k)) + rnd.choice([".", "!", "", "\n\nHome\nAbout"])
        out.append({"id": f"d{i:04d}", "text": text, "src": rnd.choice(["web", "books"])})
    return out


def _square(x: int) -> int:
    return x * x


def _boom(x: int) -> int:
    from app.errors import SignalError

    raise SignalError(f"bad batch {x}")


def test_make_engine_errors():
    with pytest.raises(EngineError, match="unknown engine"):
        make_engine("spark")
    with pytest.raises(EngineError, match="at least 1"):
        make_engine("local", workers=0)
    with pytest.raises(EngineError, match="needs --engine ray"):
        make_engine("local", address="ray://x:1")


def test_local_pool_keeps_order():
    with make_engine("local", workers=2) as eng:
        got = [r for _, r in eng.map_batches(_square, ((i,) for i in range(20)))]
    assert got == [i * i for i in range(20)]


@pytest.fixture(scope="module")
def ray_engine():
    pytest.importorskip("ray")
    eng = make_engine("ray", workers=2)
    yield eng
    eng.close()


def _burn(n: int) -> int:
    """CPU-bound: about ``n`` million additions."""
    total = 0
    for i in range(n * 1_000_000):
        total += i & 7
    return total


def _work_cpu(eng) -> list[tuple[int, float]]:
    from app.engine.timing import timed

    jobs = [(_burn, 1), (_burn, 0), (_burn, 2)]
    if eng is None:
        return [timed(*j) for j in jobs]
    return [r for _, r in eng.map_batches(timed, jobs, arg_index=(0, 1))]


@pytest.mark.parametrize("kind", ["here", "pool", "ray"])
def test_timed_measures_the_work_where_it_runs(kind, request):
    """The work's CPU comes back with the unchanged result from whichever process ran it, and grows with it."""
    if kind == "ray":
        eng = request.getfixturevalue("ray_engine")
    else:
        eng = make_engine("local", workers=2) if kind == "pool" else None
    try:
        got = _work_cpu(eng)
    finally:
        if kind == "pool":
            eng.close()
    assert [r for r, _ in got] == [_burn(1), 0, _burn(2)]
    (_, one), (_, none), (_, two) = got
    assert none < 0.02 and one > 0.02 and two > 0.04
    assert one < two * 1.5  # twice the work: more CPU (generous: a shared machine)


def test_ray_order_and_errors(ray_engine):
    assert [r for _, r in ray_engine.map_batches(_square, ((i,) for i in range(12)))] == [i * i for i in range(12)]
    from app.errors import SignalError

    with pytest.raises(SignalError, match="bad batch 0"):  # the worker's Winnow error, one line, same class
        list(ray_engine.map_batches(_boom, ((i,) for i in range(3))))


def _score_table(path: Path, eng) -> list[tuple]:
    import pandas as pd

    from app.signals import engine as sig
    from app.workspace import Workspace

    with Workspace.open(path, create=True) as ws:
        ws.write_source("web", pd.DataFrame(_docs(600)))
        sig.score(ws, signals="gopher_quality,c4,size", batch_size=97, engine=eng)
        cols = [c for c in ws.columns("corpus") if c != "text"]
        return ws.cursor().execute(f"SELECT {', '.join(cols)} FROM corpus ORDER BY id").fetchall()


def test_score_ray_equals_local(tmp_path, ray_engine):
    local = _score_table(tmp_path / "a", None)
    ray = _score_table(tmp_path / "b", ray_engine)
    assert len(local) == 600 and local == ray


def _sha(d: Path) -> dict[str, str]:
    """Every file of an export (data shards and manifest) by name -> sha256."""
    return {
        p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def test_headless_apply_identical_across_engines(tmp_path, ray_engine):
    from app.export.headless import apply_headless

    shards = []
    docs = _docs(900, seed=1)
    for i in range(0, 900, 30):  # near copies (one word changed) across shards, for the near-dedup global step
        w = docs[i]["text"].split(" ")
        docs[(i + 301) % 900]["text"] = " ".join([*w[:-2], "changed", *w[-1:]]) if len(w) > 25 else docs[i]["text"]
    for k in range(3):
        p = tmp_path / f"in{k}.jsonl"
        p.write_text("".join(json.dumps(d) + "\n" for d in docs[k * 300 : (k + 1) * 300]))
        shards.append(str(p))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: r\nrules:\n  - {signal: gopher_word_count, min: 20}\n  - {signal: c4_kept_lines_ratio, min: 0.5}\n"
        "dedup: {exact: true, near: true}\n"
    )
    outs = {}
    for name, eng in [("plain", None), ("pool", make_engine("local", workers=2)), ("ray", ray_engine)]:
        outs[name] = tmp_path / f"out_{name}"
        man = apply_headless(str(recipe), shards, outs[name], id_field="id", shard_size=200, engine=eng)
        outs[name + "_counts"] = man["counts"]
        outs[name + "_stages"] = man.get("stages") or man.get("summary", {}).get("stages")
    assert _sha(outs["plain"]) == _sha(outs["pool"]) == _sha(outs["ray"])
    assert len(_sha(outs["plain"])) >= 2
    assert outs["plain_counts"] == outs["pool_counts"] == outs["ray_counts"]
    near = [st for st in outs["plain_stages"] if "near" in str(st.get("stage", "")) + str(st.get("label", ""))]
    assert near and near[0]["removed"] > 0  # the global near-dedup step really removed documents


def test_headless_semantic_dedup_identical_on_ray(tmp_path, ray_engine):
    """Semantic dedup's vectors are embedded on the Ray workers; files and manifest equal the local run's."""
    from app.export.headless import apply_headless
    from tests.test_headless_semantic import RECIPE, _crawl

    rows = _crawl(60, seed=9)
    shards = []
    for k in range(2):
        p = tmp_path / f"in{k}.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in rows[k::2]))
        shards.append(str(p))
    kw = {"fmt": "jsonl", "id_field": "id", "tokens": "estimate", "semantic_model": "hash:64", "shard_size": 40}
    a = apply_headless(RECIPE, shards, tmp_path / "local", **kw)
    b = apply_headless(RECIPE, shards, tmp_path / "ray", engine=ray_engine, **kw)
    assert _sha(tmp_path / "local") == _sha(tmp_path / "ray") and a["counts"] == b["counts"]
    assert a["source"]["semantic"]["duplicates"] >= 5
