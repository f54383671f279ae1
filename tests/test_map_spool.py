"""The streamed map's vectors in id order by a bucket sort (app.maps.spool): the rows iter_vectors yields."""

from __future__ import annotations

import numpy as np
import pytest

from app.embed import embed, iter_vectors, vector_count
from app.errors import MapError
from app.maps import spool as spool_mod
from app.maps.scale import spool_vectors
from app.workspace import Workspace
from tests.test_map_scale import _docs


@pytest.mark.parametrize("bucket,batch", [(7, 5), (64, 1000), (100_000, 3)])
def test_spool_vectors_puts_every_vector_in_id_order(tmp_path, monkeypatch, bucket, batch):
    monkeypatch.setattr(spool_mod, "BUCKET", bucket)
    monkeypatch.setattr(spool_mod, "BATCH", batch)
    with Workspace.open(tmp_path / "ws", create=True) as w:
        w.write_source("web", _docs(300, 25))  # 25 documents share their text (one vector) with another
        embed(w, model="hash:64")
        n, dim, key = vector_count(w)
        ids, sp, sample = spool_vectors(w, model=key, n=n, dim=dim, scratch=tmp_path, seed=0)
        want_ids, want = [], []
        for i, v in iter_vectors(w, model=key, rows=50):
            want_ids += i.to_pylist()
            want.append(v)
    assert ids.to_pylist() == want_ids and sp.rows == n == 325
    want_x = np.concatenate(want)
    np.testing.assert_array_equal(sp.read(), want_x)
    assert sample is not None and sample.shape == (n, dim)  # n <= 100,000: the PCA is fitted on every row
    np.testing.assert_array_equal(sample, want_x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.f32", "ws"]  # the buckets are gone


def test_spool_bucket_with_a_missing_or_repeated_position_is_one_error():
    spool_mod._check_bucket(np.array([2, 0, 1]), 0, 3)
    for bad in ([0, 2], [0, 1, 1]):  # position 1 never arrives / arrives twice
        with pytest.raises(MapError, match="the vectors changed while the map read them"):
            spool_mod._check_bucket(np.array(bad), 0, 3)
