"""The near-dedup signature file: rows by number, pages handed back after each access (flat RSS)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from app.signals._sigfile import SigFile


def _mapped_rss_kb(path: Path) -> int:
    """Resident kB of this process's mappings of ``path`` (from /proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:  # a mapping's header line
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def test_rows_round_trip_and_unwritten_rows_are_zero(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n, perm = 1_000, 16
    sig = rng.integers(0, 2**32 - 1, size=(n, perm), dtype=np.uint32)
    written = rng.permutation(n)[:700]
    with SigFile(tmp_path, n=n, num_perm=perm) as sf:
        for part in np.array_split(written, 7):  # in any order, in batches
            sf.write(part, sig[part])
        ask = rng.integers(0, n, size=2_000)
        got = sf.rows(ask)
        want = np.where(np.isin(ask, written)[:, None], sig[ask], 0)
        assert np.array_equal(got, want)
        path = sf.path
        assert path.exists()
    assert not path.exists()


def test_empty_file(tmp_path: Path) -> None:
    with SigFile(tmp_path, n=0, num_perm=8) as sf:
        assert sf.rows(np.zeros(0, dtype=np.int64)).shape == (0, 8)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_pages_are_handed_back_after_each_access(tmp_path: Path) -> None:
    """Reading every row touches the whole 32 MB file; the process keeps none of it resident afterwards."""
    n, perm = 65_536, 128
    with SigFile(tmp_path, n=n, num_perm=perm) as sf:
        sf.write(np.arange(n), np.ones((n, perm), dtype=np.uint32))
        assert _mapped_rss_kb(sf.path) < 1_024
        got = sf.rows(np.arange(n))
        assert got.sum() == n * perm
        assert _mapped_rss_kb(sf.path) < 1_024  # 32,768 kB if the pages stayed mapped
