"""Signals on the real corpus: the near-duplicate clusters find realmix's repeated tweets, and scoring a
realmix slice end to end fills every family."""

from __future__ import annotations

import pytest

from app.signals import engine

pytestmark = pytest.mark.realdata


@pytest.fixture
def social_ws(realmix, tmp_path):
    import duckdb

    from app.workspace import Workspace

    tbl = duckdb.sql(
        "SELECT id, text FROM read_parquet($p) WHERE source = 'social'", params={"p": str(realmix / "realmix.parquet")}
    ).to_arrow_table()
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.write_source("social", tbl)
    yield ws
    ws.close()


def test_near_duplicates_find_repeated_tweets(social_ws):
    engine.score(social_ws, signals="dedup_exact,dedup_near")
    n_near, n_near_only, clusters, biggest = social_ws.con.execute(
        """SELECT count(*) FILTER (WHERE dup_near_size > 1),
                  count(*) FILTER (WHERE dup_near_size > 1 AND dup_exact_size = 1),
                  count(DISTINCT dup_near_cluster) FILTER (WHERE dup_near_size > 1), max(dup_near_size)
           FROM corpus"""
    ).fetchone()
    assert n_near >= 100 and n_near_only >= 50 and clusters >= 30 and biggest >= 5
    # exactly one kept document per cluster, and it is the representative
    bad = social_ws.con.execute(
        """SELECT count(*) FROM (SELECT dup_near_cluster, sum(dup_near_keep::INT) k FROM corpus
           GROUP BY 1 HAVING k <> 1)"""
    ).fetchone()[0]
    assert bad == 0
    assert social_ws.con.execute("SELECT bool_and(dup_near_keep = (id = dup_near_cluster)) FROM corpus").fetchone()[0]
