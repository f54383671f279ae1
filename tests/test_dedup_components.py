"""The clustering's connected components (numpy union-find in app.signals._lsh): each node's smallest
component member, checked against a plain breadth-first search on random graphs."""

from __future__ import annotations

from collections import deque

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals._lsh import smallest_in_component


def _bfs_smallest(edges: list[tuple[int, int]], n: int) -> list[int]:
    adj: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    out = [-1] * n
    for start in range(n):  # in increasing order: the first node reached of a component is its smallest
        if out[start] >= 0:
            continue
        out[start] = start
        todo = deque([start])
        while todo:
            x = todo.popleft()
            for y in adj[x]:
                if out[y] < 0:
                    out[y] = start
                    todo.append(y)
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 60).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120))
    )
)
def test_components_match_a_search(case):
    n, edges = case
    s = np.array([a for a, _ in edges], dtype=np.int64)
    d = np.array([b for _, b in edges], dtype=np.int64)
    assert smallest_in_component(s, d, n).tolist() == _bfs_smallest(edges, n)


def test_long_chains_and_stars():
    n = 100_000
    rng = np.random.default_rng(1)
    order = rng.permutation(n)  # one chain through every node in random order
    got = smallest_in_component(order[:-1], order[1:], n)
    assert (got == 0).all()
    star = smallest_in_component(np.full(n - 1, n - 1), np.arange(n - 1), n)
    assert (star == 0).all()
    assert smallest_in_component(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 3).tolist() == [0, 1, 2]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 40).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=80))
    )
)
def test_sql_components_match_a_search(case):
    """The global step's DuckDB label propagation (app.signals._lsh_resolve) labels every linked row with its
    component's smallest row, as the search does."""
    import duckdb
    import pyarrow as pa

    from app.signals._lsh_resolve import components

    n, edges = case
    links = sorted({(min(a, b), max(a, b)) for a, b in edges if a != b})  # the clustering's links: a < b
    con = duckdb.connect()
    con.register(
        "_l",
        pa.table(
            {"a": [a for a, _ in links], "b": [b for _, b in links]},
            schema=pa.schema([("a", pa.int64()), ("b", pa.int64())]),
        ),
    )
    con.execute("CREATE TABLE links AS SELECT * FROM _l")
    components(con, "links", "lab")
    got = dict(con.execute("SELECT node, lab FROM lab").fetchall())
    want = _bfs_smallest(edges, n)
    assert got == {x: want[x] for ab in links for x in ab}
