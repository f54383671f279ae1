"""Every page opens on something worth seeing (issue 17): signals before metadata, provenance last, defaults
chosen by coverage and spread; the default view of each page draws charts that hold data points.

Two real workspaces: the demo's shipped sample (``app/sample``, as ``winnow demo --corpus sample`` builds it)
scored with every signal family, and (slow, when ../shared is present) a slice of realmix's raw files. The map
part is written in code (random coordinates, four clusters): UMAP over embeddings takes minutes, and what is
tested here is which columns the pages choose, not how the map is made.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

MAIN = str(ROOT / "app" / "ui" / "main.py")
RAW = ROOT.parent / "shared" / "corpora" / "realmix" / "raw"


def _add_map(ws_path: Path) -> None:
    from app.workspace import Workspace

    with Workspace.open(ws_path) as ws:
        ids = [r[0] for r in ws.cursor().execute("SELECT id FROM docs ORDER BY id").fetchall()]
        rng = np.random.default_rng(3)
        mp = pd.DataFrame(
            {
                "id": ids,
                "map_x": rng.normal(size=len(ids)),
                "map_y": rng.normal(size=len(ids)),
                "map_cluster": [i % 4 for i in range(len(ids))],
                "map_cluster_label": [f"topic {i % 4}" for i in range(len(ids))],
            }
        )
        with ws.transaction() as cur:
            cur.register("_map", mp)
            cur.execute("CREATE TABLE map_test AS SELECT * FROM _map")
            ws.register_part("map_test", kind="map", con=cur)


def _score_all(ws_path: Path) -> None:
    from app.signals.engine import score
    from app.workspace import Workspace

    with Workspace.open(ws_path) as ws:
        score(ws, signals=["all"])


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory) -> str:
    from app.commands.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "ws"
    build_demo(path, corpus="sample", score=False)
    _score_all(path)
    _add_map(path)
    return str(path)


def _slice_raw(dest: Path, n: int = 150) -> list[str]:
    """The first ``n`` records of each raw realmix file, in its own format."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sorted(RAW.iterdir()):
        target = dest / src.name
        if src.suffix == ".json":
            target.write_text(json.dumps(json.loads(src.read_text(encoding="utf-8"))[:n]), encoding="utf-8")
        else:  # JSONL, CSV (no multi-line fields in the first lines), text: whole lines
            with src.open(encoding="utf-8") as f:
                lines = [line for _, line in zip(range(n + 1), f)]
            target.write_text("".join(lines), encoding="utf-8")
        out.append(str(target))
    return out


@pytest.fixture(scope="module")
def realmix_raw_ws(tmp_path_factory) -> str:
    if not RAW.is_dir():
        pytest.skip("../shared/corpora/realmix/raw is absent")
    from app.ingest import ingest
    from app.workspace import Workspace

    tmp = tmp_path_factory.mktemp("realmix_raw")
    files = _slice_raw(tmp / "raw")
    path = tmp / "ws"
    with Workspace.open(path, create=True) as ws:
        ingest(ws, files)
    _score_all(path)
    _add_map(path)
    return str(path)


# ------------------------------------------------------------------------------------------ headless order
def _catalogue(ws_path: str):
    from app.explore import columns, queries
    from app.workspace import Workspace

    with Workspace.open(ws_path, read_only=True) as ws:
        cur = ws.cursor()
        return (
            columns.catalogue(cur),
            queries.numeric_columns(cur),
            queries.default_numeric(cur),
            queries.default_category(cur),
        )


def check_order(ws_path: str) -> None:
    from app.explore.columns import BALANCE, SPARSE
    from app.signals.engine import families

    cat, num, default, category = _catalogue(ws_path)
    kinds = [c.kind for c in cat]
    assert cat[0].kind == "signal" and cat[0].description and cat[0].family
    assert "provenance" in kinds and kinds.index("provenance") == len(kinds) - kinds.count("provenance")
    assert {"_row", "_file", "id"} <= {c.name for c in cat if c.kind == "provenance"}
    dense = [c.dense for c in cat if c.kind != "provenance"]
    assert dense == sorted(dense, reverse=True), "a sparse or flat column precedes a dense one"
    # dense signals grouped by family, in the registry's order
    order = list(families())
    fams = [c.family for c in cat if c.kind == "signal" and c.dense]
    assert fams == sorted(fams, key=order.index)
    first_num = next(c for c in cat if c.name == num[0])
    assert first_num.kind == "signal"
    d = next(c for c in cat if c.name == default)
    assert d.kind == "signal" and d.coverage >= SPARSE and d.distinct > 1 and d.balance >= BALANCE
    assert category is not None and next(c for c in cat if c.name == category).dense


def test_order_and_defaults_on_the_demo(demo_ws):
    check_order(demo_ws)
    cat = _catalogue(demo_ws)[0]
    names = [c.name for c in cat]
    # the sample's metadata (kind, lang_hint, url) exists for the web half only: after every dense signal
    assert names.index("kind") > max(names.index(c.name) for c in cat if c.kind == "signal" and c.dense)


@pytest.mark.slow
def test_order_and_defaults_on_realmix_raw(realmix_raw_ws):
    check_order(realmix_raw_ws)


def test_sparse_numeric_metadata_never_leads(tmp_path):
    """The issue's case in miniature: a numeric label for a fifth of the documents and the line number."""
    from app.explore import queries
    from app.workspace import Workspace
    from tests.app.conftest import build_ui_workspace

    path = build_ui_workspace(tmp_path / "ws", n=200)
    with Workspace.open(path) as ws:
        cur = ws.cursor()
        cur.execute(
            "CREATE TABLE meta_t AS SELECT id, CASE WHEN id < 'd0040' THEN 1.0 END AS sentiment, "
            "row_number() OVER (ORDER BY id) AS _row, 5 AS flat FROM docs"
        )
        ws.register_part("meta_t", kind="metadata", con=cur)
        num = queries.numeric_columns(cur)
        assert num.index("sentiment") > num.index("size_words") and num[-1] == "_row"
        assert num.index("flat") > num.index("quality_score")
        assert queries.default_numeric(cur) not in {"sentiment", "_row", "flat"}


# ------------------------------------------------------------------------------------------ pages
def _app(ws: str, page: str | None) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params["ws"] = ws
    at.run()
    if page:
        at.switch_page(f"../../pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _arrow_rows(el) -> pd.DataFrame:
    """The data a Vega-Lite chart element carries (Arrow IPC)."""
    return pa.ipc.open_stream(el.proto.data.data).read_all().to_pandas()


def _points(xs) -> int:
    """Points in a plotly trace's ``x``: a list, or a typed array (``{dtype, bdata}``, base64)."""
    import base64

    if isinstance(xs, dict) and "bdata" in xs:
        return len(np.frombuffer(base64.b64decode(xs["bdata"]), dtype=np.dtype(xs["dtype"])))
    return len(xs or [])


def check_pages(ws: str) -> None:
    # read before the app opens the workspace (it holds it open read-write in this process)
    signals = {c.name for c in _catalogue(ws)[0] if c.kind == "signal"}

    def _first_is_signal(_ws: str, name: str) -> None:
        assert name in signals, name

    n_docs = int(_app(ws, None).metric[0].value.replace(",", ""))
    assert n_docs > 0

    at = _app(ws, "distributions")
    sig = at.selectbox(key="w_dist_sig")
    _first_is_signal(ws, sig.options[0])
    _first_is_signal(ws, sig.value)
    hist = _arrow_rows(at.get("vega_lite_chart")[0])
    assert len(hist) >= 5 and hist["count"].sum() > 0.5 * n_docs, "the default histogram is (nearly) empty"
    ecdf = _arrow_rows(at.get("vega_lite_chart")[1])
    assert ecdf["x"].nunique() >= 5
    dens = _arrow_rows(at.get("vega_lite_chart")[2])
    assert len(dens) >= 5 and dens["count"].sum() > 0.5 * n_docs

    at = _app(ws, "thresholds")
    add = at.selectbox(key="w_add_col")
    _first_is_signal(ws, add.options[0])
    offered = [o for o in add.options if o in signals]
    if "_row" in add.options:
        assert add.options.index("_row") > max(add.options.index(s) for s in offered)
    (el,) = at.get("bidi_component")
    panel = json.loads(el.proto.json)
    assert panel["summary"]["kept_docs"] == n_docs

    at = _app(ws, "map")
    assert at.selectbox(key="w_map_color").value == "map_cluster_label"
    (fig,) = at.get("plotly_chart")
    traces = json.loads(fig.proto.spec)["data"]
    assert sum(_points(t.get("x")) for t in traces) > 0.5 * n_docs

    at = _app(ws, "documents")
    sort = at.selectbox(key="w_sort")
    _first_is_signal(ws, sort.options[1])
    listing = at.dataframe(key="doc_table").value
    shown = [c for c in listing.columns if c in signals]
    assert len(listing) > 0 and shown and listing[shown].notna().any().any()


def test_default_views_on_the_demo(demo_ws):
    check_pages(demo_ws)


@pytest.mark.slow
def test_default_views_on_realmix_raw(realmix_raw_ws):
    check_pages(realmix_raw_ws)
