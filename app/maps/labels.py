"""Short human-readable cluster labels from class-based TF-IDF (c-TF-IDF, as in BERTopic).

Each cluster's documents are one "class"; a term's weight is its frequency in the class times
``log(1 + A / f)`` (``A`` average class size in tokens, ``f`` the term's frequency over all classes),
so terms common everywhere score low and terms distinctive of one cluster score high. Words of an
alphabetic script (3+ letters, minus a stop list) and CJK character bigrams (no segmenter needed) are terms.

Labels are read by people, so tokenizer artefacts never name a cluster (WikiText's ``<unk>`` and ``@-@``
joiners, lone punctuation, numbers) and a label keeps to one script: the cluster's dominant one (the script
most of its documents are written in), so a mostly-Russian cluster is not named "диета · что · 지만" by a few Korean documents.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

_LATIN = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)
# kana (minus the "・" middle dot, U+30FB, which is punctuation), CJK ideographs and Hangul syllables
_CJK = re.compile(r"[\u3040-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
# tokenizer artefacts removed before tokenizing: WikiText's <unk> and its @-@ / @,@ / @.@ joiners, other
# <...>-style special tokens (<s>, </s>, <pad>, <|endoftext|>)
_ARTEFACT = re.compile(r"<\|?/?[a-z_]{1,16}\|?>|@[-,.]@", re.IGNORECASE)
# words that are artefacts even without their brackets
_ARTEFACT_WORDS = frozenset({"unk", "endoftext"})

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
    una como más что это как для его она они был была было все или уже только если когда который которые
    при также чтобы быть тот так где еще ещё"""
STOP = frozenset(_STOP_WORDS.split())


@functools.lru_cache(maxsize=65536)
def script(term: str) -> str:
    """The writing system of ``term``: the Unicode script name of most of its letters ("LATIN", "CYRILLIC",
    "HANGUL", ...); Chinese and Japanese characters (ideographs and kana) are one script, "CJK", since
    Japanese text mixes them; "" when the term has no letter."""
    seen: Counter = Counter()
    for ch in term:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        first = name.split(" ", 1)[0] if name else ""
        seen["CJK" if first in ("CJK", "HIRAGANA", "KATAKANA") else first] += 1
    return seen.most_common(1)[0][0] if seen else ""


def doc_script(doc_terms: Iterable[str]) -> str:
    """The script most of a document's letters are in, from its terms: a word weighs its length, a CJK
    bigram one (consecutive bigrams share a character), so a Korean run does not outvote a Russian text."""
    weight: Counter = Counter()
    for t in doc_terms:
        sc = script(t)
        if sc:
            weight[sc] += 1 if _CJK.fullmatch(t) else len(t)
    return min(weight.items(), key=lambda kv: (-kv[1], kv[0]))[0] if weight else ""


def terms(text: str) -> list[str]:
    """Terms of one document for labelling: lower-cased words and CJK bigrams, without tokenizer artefacts."""
    text = _ARTEFACT.sub(" ", text)
    latin = _LATIN.findall(_CJK.sub(" ", text))
    out = [
        w
        for w in (m.lower().strip("'-") for m in latin)
        if len(w) >= 3 and w not in STOP and w not in _ARTEFACT_WORDS and sum(ch.isalpha() for ch in w) >= 2
    ]
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
    (when the cluster has that many) so one repetitive document cannot name a cluster; the terms of one
    label are all in the cluster's dominant script (the script most of its documents are written in)."""
    tf: dict[int, Counter] = {}
    df: dict[int, Counter] = {}
    main_script: dict[int, str] = {}
    for c, texts in docs_by_cluster.items():
        cnt: Counter = Counter()
        dcount: Counter = Counter()
        scripts: Counter = Counter()
        n = 0
        for t in texts:
            ts = terms(t)
            cnt.update(ts)
            dcount.update(set(ts))
            scripts[doc_script(ts)] += 1
            n += 1
        scripts.pop("", None)
        tf[c], df[c] = cnt, dcount
        # ties go to the alphabetically first script name, so the choice is deterministic
        main_script[c] = min(scripts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if scripts else ""
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
        main = main_script[c]
        scored = [
            (cnt[t] / size * math.log(1.0 + avg / total[t]), t)
            for t in cnt
            if df[c][t] >= need and t != "__n__" and script(t) == main
        ]
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
