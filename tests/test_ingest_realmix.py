"""Every raw realmix file ingests with the document counts of the sources it came from (see
../shared/corpora/README.md), and the texts are those of realmix.parquet."""

from __future__ import annotations

import pytest

from app.ingest import ingest, read_documents
from app.workspace import Workspace

pytestmark = pytest.mark.realdata

#: realmix source -> raw files that hold it
SOURCES = {
    "web": ["cc_en_head-0091.jsonl", "cc_en_head-0174.jsonl"],
    "instruct": ["alpaca_5000.json"],
    "social": ["davidson_labeled_data.csv"],
    "zh_reviews": ["ChnSentiCorp_htl_all.csv", "waimai_10k.csv"],
    "wiki": ["wikitext2-valid.txt", "wikitext2-test.txt"],
}


@pytest.fixture(scope="module")
def realmix_ws(tmp_path_factory):
    from tests.conftest import REALMIX

    if not (REALMIX / "realmix.parquet").exists():
        pytest.skip("../shared/corpora/realmix is absent")
    ws = Workspace.open(tmp_path_factory.mktemp("realmix") / "ws", create=True)
    summaries = {
        name: ingest(ws, [str(REALMIX / "raw" / f) for f in files], source=name) for name, files in SOURCES.items()
    }
    yield ws, summaries
    ws.close()


def test_counts_match_the_sources(realmix, realmix_ws):
    ws, summaries = realmix_ws
    expected = dict(
        ws.cursor().execute(f"SELECT source, count(*) FROM '{realmix / 'realmix.parquet'}' GROUP BY 1").fetchall()
    )
    got = dict(ws.cursor().execute("SELECT source, count(*) FROM corpus GROUP BY 1").fetchall())
    assert got == {k: expected[k] for k in SOURCES}
    assert got == {"web": 20, "instruct": 5000, "social": 24783, "zh_reviews": 19752, "wiki": 4024}
    for s in summaries.values():
        assert s["read"] == s["ingested"] + sum(s["skipped"].values())
    # the one review with an empty text is accounted for, with its line
    assert summaries["zh_reviews"]["skipped"] == {"empty_text": 1}
    assert summaries["zh_reviews"]["skipped_first"]["empty_text"] == ["ChnSentiCorp_htl_all.csv:6376"]


def test_texts_are_those_of_realmix(realmix, realmix_ws):
    ws, _ = realmix_ws
    missing = (
        ws.cursor()
        .execute(
            f"SELECT r.source, count(*) FROM '{realmix / 'realmix.parquet'}' r "
            "WHERE r.source IN ('web', 'social', 'zh_reviews', 'wiki', 'instruct') "
            "AND rtrim(r.text, chr(10)) NOT IN (SELECT rtrim(text, chr(10)) FROM docs) GROUP BY 1"
        )
        .fetchall()
    )
    assert missing == []


def test_metadata_is_typed_and_queryable(realmix_ws):
    ws, _ = realmix_ws
    cur = ws.cursor()
    cols = ws.columns("corpus")
    assert cols["class"] == "BIGINT" and cols["label"] == "BIGINT"
    assert cur.execute("SELECT count(*) FROM corpus WHERE metadata.language = 'en'").fetchone()[0] == 20
    assert cur.execute("SELECT count(DISTINCT title) FROM corpus WHERE source = 'wiki'").fetchone()[0] > 50
    # tweets with embedded newlines survive as one document each
    assert (
        cur.execute(
            "SELECT count(*) FROM corpus WHERE source = 'social' AND text LIKE '%' || chr(10) || '%'"
        ).fetchone()[0]
        > 0
    )


def test_read_documents_agrees_with_ingest(realmix, realmix_ws):
    ws, _ = realmix_ws
    files = [str(realmix / "raw" / f) for f in SOURCES["zh_reviews"]]
    reader = read_documents(files, source="zh_reviews")
    ids = sorted(i for b in reader for i in b.column("id").to_pylist())
    assert ids == [
        r[0] for r in ws.cursor().execute("SELECT id FROM corpus WHERE source = 'zh_reviews' ORDER BY id").fetchall()
    ]
    assert reader.stats["skipped"] == {"empty_text": 1}
