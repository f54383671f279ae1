"""Parity with DataTrove 0.10.1: the DataTrove-default decisions over our columns (app.signals.reference)
must agree with DataTrove's own filters on >= 99% of realmix documents, for each of the four filters.

DataTrove tokenises English with spaCy's rule-based ``spacy.blank("en")`` (no model download, no nltk
data); both are dev-only dependencies. The default run checks a 600-document sample; ``-m slow`` all of it.
"""

from __future__ import annotations

import pytest

from app.signals import reference
from app.signals.engine import score_texts

pytestmark = pytest.mark.realdata


def datatrove_decisions(texts: list[str]) -> dict[str, list[bool]]:
    pytest.importorskip("datatrove")
    pytest.importorskip("spacy")
    from datatrove.data import Document
    from datatrove.pipeline import filters

    out = {}
    for name, cls in reference.DATATROVE_FILTERS.items():
        f = getattr(filters, cls)()
        res = []
        for i, t in enumerate(texts):
            r = f.filter(Document(text=t, id=str(i)))
            res.append(r is True)
        out[name] = res
    return out


def parity(texts: list[str]) -> dict[str, float]:
    ref = datatrove_decisions(texts)
    # DataTrove's English tokenizer for every text (the default language-aware segmentation differs on
    # Chinese, Japanese, Thai... by design; tests/test_signals_v2.py checks it equals this mode elsewhere)
    faithful = {f: {"segmentation": "datatrove"} for f in reference.DATATROVE_DEFAULTS}
    cols = score_texts(texts, list(reference.DATATROVE_DEFAULTS), options=faithful)
    result = {}
    for name, decisions in ref.items():
        agree = 0
        for i, dt_keep in enumerate(decisions):
            row = {c: v[i] for c, v in cols.items()}
            agree += reference.keep(name, row) == dt_keep
        result[name] = agree / len(texts)
    return result


def realmix_texts(realmix, n: int | None) -> list[str]:
    import duckdb

    sample = f" USING SAMPLE {n} ROWS (reservoir, 42)" if n else ""
    q = f"SELECT text FROM read_parquet(?){sample}"
    return [r[0] for r in duckdb.execute(q, [str(realmix / "realmix.parquet")]).fetchall()]


def test_parity_sample(realmix):
    got = parity(realmix_texts(realmix, 600))
    assert all(v >= 0.99 for v in got.values()), got


@pytest.mark.slow
def test_parity_whole_realmix(realmix):
    got = parity(realmix_texts(realmix, None))
    assert all(v >= 0.99 for v in got.values()), got
