"""A small dashboard workspace built in code: two sources, synthetic signal and map parts, one hostile doc."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

HOSTILE = "<script>window.__xss=1;alert('x')</script><img src=x onerror=\"window.__xss=2;alert(1)\"> hostile"


def build_ui_workspace(path, *, n: int = 240, seed: int = 0) -> str:
    """Create a workspace with ``n`` documents and parts ``sig_ui`` (signals) and ``map_ui`` (map)."""
    from app.workspace import Workspace

    rng = np.random.default_rng(seed)
    words = ["data", "model", "cat", "river", "policy", "cookie", "market", "song", "theorem", "city"]
    texts = []
    for i in range(n):
        k = int(rng.integers(3, 60))
        body = " ".join(rng.choice(words, k))
        texts.append(f"Document {i}. {body}.\nHome\nHome\nPrivacy policy")
    texts[7] = HOSTILE
    ids = [f"d{i:04d}" for i in range(n)]
    langs = rng.choice(["en", "de", "fr"], n, p=[0.6, 0.3, 0.1])
    ws = Workspace.open(path, create=True)
    try:
        half = n // 2
        ws.write_source("web", pd.DataFrame({"id": ids[:half], "text": texts[:half]}))
        ws.write_source("forum", pd.DataFrame({"id": ids[half:], "text": texts[half:]}))
        sig = pd.DataFrame(
            {
                "id": ids,
                "size_words": [len(t.split()) for t in texts],
                "size_tokens": [int(len(t.split()) * 1.3) for t in texts],
                "quality_score": rng.random(n).round(4),
                "lang_code": langs,
                "dup_exact_cluster": [i // 2 if i < 20 else i for i in range(n)],
                "dup_exact_size": [2 if i < 20 else 1 for i in range(n)],
            }
        )
        mp = pd.DataFrame(
            {
                "id": ids,
                "map_x": rng.normal(size=n),
                "map_y": rng.normal(size=n),
                "map_cluster": [i % 4 for i in range(n)],
                "map_cluster_label": [f"topic {i % 4}" for i in range(n)],
            }
        )
        with ws.transaction() as cur:
            cur.register("_sig", sig)
            cur.execute("CREATE TABLE sig_ui AS SELECT * FROM _sig")
            cur.register("_map", mp)
            cur.execute("CREATE TABLE map_ui AS SELECT * FROM _map")
            ws.register_part("sig_ui", kind="signal", con=cur)
            ws.register_part("map_ui", kind="map", con=cur)
    finally:
        ws.close()
    return str(path)


@pytest.fixture
def ui_ws(tmp_path):
    return build_ui_workspace(tmp_path / "ws")
