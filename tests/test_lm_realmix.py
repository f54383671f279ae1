"""Reference LM on the real corpus: a model fitted on realmix's wiki paragraphs ranks held-out wiki paragraphs
as likelier (lower perplexity) than tweets and Chinese hotel/food reviews."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from app.learn import ngram_lm


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a random positive > a random negative), ties counting half (ROC AUC)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


@pytest.mark.slow
def test_wiki_model_prefers_held_out_wiki(realmix):
    q = "SELECT source, text, hash(id) % 2 = 0 AS train FROM read_parquet($p) ORDER BY id"
    rows = duckdb.execute(q, {"p": str(realmix / "realmix.parquet")}).fetchall()
    train = [t for s, t, tr in rows if s == "wiki" and tr]
    tables, m = ngram_lm.fit_tables(ngram_lm.batches_of(train), order=3)
    held = [t for s, t, tr in rows if s == "wiki" and not tr]
    assert len(train) > 1500 and len(held) > 1500 and m["docs"] == len(train)
    lp_wiki = ngram_lm.mean_logprob(tables, held)
    lp_wiki = lp_wiki[~np.isnan(lp_wiki)]
    for src in ("social", "zh_reviews"):
        other = ngram_lm.mean_logprob(tables, [t for s, t, _ in rows if s == src][:6000])
        a = auc(lp_wiki, other[~np.isnan(other)])  # higher log-probability = lower perplexity
        assert a >= 0.95, (src, a)
