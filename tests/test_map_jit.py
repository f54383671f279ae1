"""UMAP's numba functions cached on disk (app/maps/jit.py): where the cache goes, that it is switched on, and that a
cold and a warm cache give the same coordinates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.maps import jit

ROOT = Path(__file__).resolve().parents[1]


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "n"))
    assert jit.cache_dir() == tmp_path / "n"
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert jit.cache_dir() == tmp_path / "x" / "winnow" / "numba"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert jit.cache_dir() == tmp_path / "h" / ".cache" / "winnow" / "numba"


_FIT = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from numba.core.registry import CPUDispatcher
from app.maps import project
x = np.random.default_rng(0).standard_normal((300, 20)).astype(np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
np.save({out!r}, project.umap_fit(x, seed=3))
import umap.layouts as lay
assert type(lay._nb_optimize_layout_euclidean_single_epoch._cache).__name__ != "NullCache", "layout not cached"
"""


@pytest.mark.slow
def test_cold_and_warm_cache_give_the_same_map(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    outs = []
    for i in range(2):  # first run compiles and writes the cache, the second loads it
        out = tmp_path / f"xy{i}.npy"
        subprocess.run([sys.executable, "-c", _FIT.format(root=str(ROOT), out=str(out))], env=env, check=True)
        outs.append(np.load(out))
    assert any((tmp_path / "cache").rglob("*.nbi")), "nothing was cached"
    assert np.array_equal(outs[0], outs[1])
