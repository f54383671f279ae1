"""The streamed map in worker processes (app.maps.pool): the same map, row for row, for 1 and 2 workers."""

from __future__ import annotations

import os

import numpy as np
import pytest

from app.embed import embed
from app.errors import MapError
from app.maps import build_map
from app.maps.pool import ordered
from app.workspace import Workspace
from tests.test_map_scale import _docs


def _square(state: int, item: int) -> int:
    if item == -9:
        os._exit(9)  # a worker killed mid-task (as by the OOM killer)
    if item < 0:
        raise ValueError(f"negative item {item}")
    return state + item * item


def test_ordered_yields_in_item_order_and_raises_worker_errors():
    items = list(range(23))
    want = [5 + i * i for i in items]
    assert list(ordered(_square, iter(items), state=5, workers=1)) == want
    assert list(ordered(_square, iter(items), state=5, workers=2, window=3)) == want
    with pytest.raises(ValueError, match="negative item -1"):
        list(ordered(_square, [1, -1, 2], state=0, workers=2))
    with pytest.raises(MapError, match="a map worker process stopped"):
        list(ordered(_square, [1, -9, 2], state=0, workers=2))


def _all(ws) -> tuple:
    c = ws.cursor()
    return tuple(
        c.execute(q).fetchall()
        for q in (
            "SELECT * FROM map_points ORDER BY id",
            "SELECT * FROM emb_signals ORDER BY id",
            "SELECT * FROM neighbours",  # insertion order too: clusters are emitted in order
            "SELECT * FROM map_clusters ORDER BY cluster",
        )
    )


@pytest.mark.parametrize("semdup_exact", [pytest.param(20_000, marks=pytest.mark.slow), 50])
def test_streamed_map_is_identical_for_one_and_two_workers(tmp_path, monkeypatch, semdup_exact):
    from app.maps import place, scale

    monkeypatch.setattr(scale, "SEMDUP_EXACT", semdup_exact)  # 50: the neighbour-list SemDeDup in the workers too
    monkeypatch.setattr(place, "BLOCK", 128)  # several placement blocks
    with Workspace.open(tmp_path / "ws", create=True) as w:
        w.write_source("web", _docs(700, 30))
        embed(w, model="hash:64")
        one = build_map(w, sample=200, stream_above=0, workers=1)
        a = _all(w)
        two = build_map(w, sample=200, stream_above=0, workers=2)
        b = _all(w)
    assert (one["workers"], two["workers"]) == (1, 2) and one["semantic_duplicates"] >= 30
    assert one["semantic_duplicates"] == two["semantic_duplicates"] and one["neighbours"] == two["neighbours"]
    for x, y in zip(a, b):
        assert len(x) == len(y) == len(a[0]) or x is a[3]
        assert x == y
    coords = np.array([(r[1], r[2]) for r in a[0]])
    assert len(np.unique(coords, axis=0)) > 500  # placed points are spread, not collapsed


def test_cli_map_rejects_zero_workers_in_one_line(tmp_path, capsys):
    from app.cli import main

    with Workspace.open(tmp_path / "ws", create=True) as w:
        w.write_source("web", _docs(40, 0))
    assert main(["map", "-w", str(tmp_path / "ws"), "--workers", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert "--workers must be >= 1" in err and len(err.splitlines()) == 1


def test_place_rest_reads_a_spool_as_it_reads_an_array(tmp_path):
    from app.maps.place import place_rest
    from app.maps.scale import Spool

    rng = np.random.default_rng(4)
    x = rng.standard_normal((3_000, 12)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    fit = np.sort(rng.choice(len(x), 400, replace=False))
    fitted = rng.standard_normal((400, 2)).astype(np.float32)
    sp = Spool(tmp_path / "r.f32", 12)
    sp.add(x)
    sp.done()
    want = place_rest(x, fit, fitted, seed=0)
    assert np.array_equal(place_rest(sp, fit, fitted, base=x[fit], seed=0), want)


@pytest.mark.slow
def test_background_fit_gives_the_coordinates_of_a_fit_here_and_fails_in_one_line():
    from app.errors import MapError
    from app.maps import project
    from app.maps.pool import BackgroundFit

    x = np.random.default_rng(5).standard_normal((300, 10)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    with BackgroundFit(x, seed=2) as fit:
        got = fit.result()
    assert np.array_equal(got, project.umap_fit(x, seed=2))
    with pytest.raises(MapError, match="UMAP fit failed"), BackgroundFit(x[0], seed=2) as fit:
        fit.result()
