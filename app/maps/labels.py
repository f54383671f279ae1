"""Short human-readable cluster labels from class-based TF-IDF (c-TF-IDF, as in BERTopic).

Each cluster's documents are one "class"; a term's weight is its frequency in the class times
``log(1 + A / f)`` (``A`` average class size in tokens, ``f`` the term's frequency over all classes),
so terms common everywhere score low and terms distinctive of one cluster score high. Latin-script
words (3+ letters, minus a stop list) and CJK character bigrams (no segmenter needed) are terms.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

_LATIN = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")

_STOP_WORDS = """a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during
    each few for from further get got had hadn't has hasn't have haven't having he her here hers herself him
    himself his how i if in into is isn't it it's its itself just let's like me more most much must my myself
    no nor not now of off on once one only or other ought our ours ourselves out over own same she should
    shouldn't so some such than that that's the their theirs them themselves then there there's these they
    this those through to too under until up upon us very was wasn't we were weren't what when where which while
    who whom why will with won't would wouldn't you your yours yourself yourselves http https www com html
    amp nbsp quot also may might many new two three first use used using make made get gets one said says
    der die das und ist nicht ein eine les des est une pour que qui dans sur par pas los las del por con para
    una como más"""
STOP = frozenset(_STOP_WORDS.split())


def terms(text: str) -> list[str]:
    """Terms of one document for labelling: lower-cased words and CJK bigrams."""
    latin = _LATIN.findall(_CJK.sub(" ", text))
    out = [w for w in (m.lower().strip("'-") for m in latin) if len(w) >= 3 and w not in STOP]
    for run in _CJK.findall(text):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def ctfidf_labels(
    docs_by_cluster: dict[int, Iterable[str]], *, top: int = 3, min_docs: int = 2
) -> dict[int, tuple[str, list[str]]]:
    """``{cluster: (label, top terms)}``. A term must occur in ``min_docs`` documents of the cluster
    (when the cluster has that many) so one repetitive document cannot name a cluster."""
    tf: dict[int, Counter] = {}
    df: dict[int, Counter] = {}
    for c, texts in docs_by_cluster.items():
        cnt: Counter = Counter()
        dcount: Counter = Counter()
        n = 0
        for t in texts:
            ts = terms(t)
            cnt.update(ts)
            dcount.update(set(ts))
            n += 1
        tf[c], df[c] = cnt, dcount
        df[c]["__n__"] = n
    total: Counter = Counter()
    for cnt in tf.values():
        total.update(cnt)
    sizes = [sum(c.values()) for c in tf.values()]
    avg = (sum(sizes) / len(sizes)) if sizes else 1.0
    out: dict[int, tuple[str, list[str]]] = {}
    for c, cnt in tf.items():
        size = sum(cnt.values()) or 1
        need = min(min_docs, df[c]["__n__"])
        scored = [(cnt[t] / size * math.log(1.0 + avg / total[t]), t) for t in cnt if df[c][t] >= need and t != "__n__"]
        scored.sort(key=lambda x: (-x[0], x[1]))
        best: list[str] = []
        for _, t in scored:
            # skip a term that is part of one already chosen (CJK bigram overlaps, plural forms)
            if any(t in b or b in t for b in best):
                continue
            best.append(t)
            if len(best) == top:
                break
        out[c] = (" · ".join(best) if best else f"cluster {c}", best)
    return out
