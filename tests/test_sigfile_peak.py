"""Gathering scattered rows of the near-dedup signature file keeps the process's peak RSS near one window.

Why: a read fault on a file mapping maps more than its own page (the page cache's pages around it, whole
large folios), so gathering a few thousand rows scattered over the file mapped all of it at once: headless
apply's driver peaked at N x 512 bytes over its base (1,266 MiB at 1M documents, the largest stage).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from app.signals._sigfile import SigFile


def _hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _reset_hwm() -> None:
    """Set the peak RSS back to the current RSS (Linux ``clear_refs``), or skip where that is refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("cannot reset the peak RSS here (/proc/self/clear_refs)")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS from /proc")
def test_scattered_rows_do_not_map_the_whole_file(tmp_path: Path) -> None:
    n, perm = 262_144, 128  # a 128 MiB file, written as headless apply writes it (positioned writes)
    rng = np.random.default_rng(5)
    with SigFile(tmp_path, n=n, num_perm=perm) as sf:
        for lo in range(0, n, 16_384):
            sf.write_block(lo, np.full((16_384, perm), lo // 16_384 + 1, dtype=np.uint32))
        ask = rng.permutation(n)[:3_000]  # scattered over the whole file, in no order
        _reset_hwm()
        base = _hwm_kb()
        got = sf.rows(ask)
        rise_mb = (_hwm_kb() - base) / 1024
    assert np.array_equal(got[:, 0], ask // 16_384 + 1)  # every row is its own, in the order asked
    # one window (_sigfile.SPAN, 16 MiB) and the folios at its ends, plus the 1.5 MB result; 128 if all mapped
    assert rise_mb < 40, f"peak rose {rise_mb:.0f} MiB gathering 3,000 rows"


def test_rows_in_any_order_with_repeats(tmp_path: Path) -> None:
    """The windowed gather returns exactly what a direct index would, duplicates and order included."""
    n, perm = 70_000, 8
    rng = np.random.default_rng(9)
    sig = rng.integers(0, 2**32 - 1, size=(n, perm), dtype=np.uint32)
    with SigFile(tmp_path, n=n, num_perm=perm) as sf:
        sf.write_block(0, sig)
        ask = rng.integers(0, n, size=50_000)
        assert np.array_equal(sf.rows(ask), sig[ask])
        assert np.array_equal(sf.rows(ask[::-1]), sig[ask[::-1]])
