"""Real data: on realmix, a classifier of Wikipedia paragraphs against a random sample ranks held-out wiki
paragraphs above tweets (issue 13's acceptance check), and the tweets' own labels train a toxicity classifier."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli import main
from app.learn import metrics

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def realmix_ws(tmp_path_factory):
    import duckdb

    from app.workspace import Workspace
    from tests.conftest import REALMIX as realmix

    if not (realmix / "realmix.parquet").exists():
        pytest.skip("../shared/corpora/realmix is absent")

    path = tmp_path_factory.mktemp("rm") / "ws"
    df = (
        duckdb.connect()
        .execute("SELECT id, source, text, toxicity FROM read_parquet(?)", [str(realmix / "realmix.parquet")])
        .df()
    )
    with Workspace.open(path, create=True) as ws:
        for source, part in df.groupby("source"):
            ws.write_source(source, part.drop(columns="source").reset_index(drop=True))
    return path


def test_wiki_against_random_ranks_held_out_wiki_above_tweets(realmix_ws, capsys):
    argv = ["classify", "train", "wiki", "--positive", "source:wiki", "--negative", "random:2000",
            "--features", "ngrams", "-w", str(realmix_ws), "--json"]  # fmt: skip
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["metrics"]["auc"] >= 0.95 and res["metrics"]["auc_ci95"][0] >= 0.95
    # half of the wiki paragraphs as positives: the other half was never seen, nor were most tweets
    from app.explore.labels import add_labels
    from app.workspace import Workspace

    with Workspace.open(realmix_ws) as ws:
        con = ws.cursor()
        wiki = [r[0] for r in con.execute("SELECT id FROM docs WHERE source = 'wiki' ORDER BY md5(id)").fetchall()]
        add_labels(con, wiki[: len(wiki) // 2], "wiki_half")
    assert main(["classify", "train", "half", "--positive", "label:wiki_half", "--negative", "random:2000",
                 "--features", "ngrams", "-w", str(realmix_ws)]) == 0  # fmt: skip
    with Workspace.open(realmix_ws, read_only=True) as ws:
        con = ws.cursor()
        seen = set(wiki[: len(wiki) // 2])
        rows = con.execute("SELECT id, source, clf_half FROM corpus WHERE source IN ('wiki', 'social')").fetchall()
    held = [(s == "wiki", p) for i, s, p in rows if i not in seen]
    y = np.array([h[0] for h in held], dtype=int)
    auc = metrics.auc_ap(y, np.array([h[1] for h in held]))[0]
    assert y.sum() == len(wiki) - len(seen) and auc >= 0.95


def test_toxicity_from_the_tweets_labels(realmix_ws, capsys):
    argv = ["classify", "train", "toxicity", "--positive", "expr:toxicity IN ('hate', 'offensive')",
            "--negative", "expr:toxicity = 'neither'", "--features", "ngrams", "-w", str(realmix_ws), "--json"]  # fmt: skip
    assert main(argv) == 0
    m = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["metrics"]
    assert m["n_positive"] + m["n_negative"] == 24_783 and m["auc"] >= 0.9
