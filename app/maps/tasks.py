"""Task-like names for clusters of instruction data: "rewrite sentence · classify sentiment" instead of the word
lists c-TF-IDF gives ("sentence · following · rewrite").

An instruction is mostly an imperative: its task is its verb and the thing it acts on. Without a tagger (Winnow
stays offline and light), :func:`task_of` reads the instruction's first clause: lead-ins are dropped ("please",
"can you", a "Given a list of numbers," clause), the first word is the verb, and its object is the next word
that is not a determiner, number or vague adjective ("Write a short story about..." -> "write story",
"Generate a list of..." -> "generate list"). A question is named by its question word ("what is the capital
of..." -> "question: what"). Each cluster is then named by its commonest tasks, weighted like c-TF-IDF terms
(frequent in the cluster, rare elsewhere), so a task every cluster has ("generate list") names only the
clusters where it stands out. :func:`task_labels` falls back to None for a cluster that is mostly not
instruction data, so web clusters keep their word labels.
"""

from __future__ import annotations

import math
import re
from collections import Counter


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TOKEN = re.compile(r"[^\W\d_][\w'-]*|\d[\d.,]*|[,;:!?()\"]", re.UNICODE)
_LEAD = _words("please kindly now then so and also ok okay hey hi just quickly briefly")
_ASK = (("can", "you"), ("could", "you"), ("would", "you"), ("will", "you"), ("i", "want", "you", "to"))
_CONTEXT = _words("given for in using based with from according after if as assuming consider considering")
_QUESTION = _words(
    "what how why who whom whose when where which is are was were do does did can could should would will has have"
)
_WH = _words("what how why who whom whose when where which whether if")
_ROLE = (("you", "are"), ("you're",), ("imagine", "you"), ("pretend", "you"), ("act", "as"), ("suppose", "you"))
_PHRASAL = {
    ("come", "up", "with"): "come up with",
    ("compare", "and", "contrast"): "compare and contrast",
    ("fill", "in"): "fill in",
    ("point", "out"): "point out",
    ("break", "down"): "break down",
    ("sum", "up"): "sum up",
    ("find", "out"): "find out",
    ("figure", "out"): "figure out",
    ("make", "up"): "make up",
    ("think", "of"): "think of",
}
#: words that end the object's noun phrase (its head is the word before)
_END = _words("""of for to in on about with from into that which who whom as by using based and or but than where when so if
    at between without while because into onto over under via per like such including below above according
    whose related associated""")
_DET = _words(
    "a an the this that these those following given some any each every my your their our its it them me us him one ones"
)
#: a cluster is named by its tasks when at least this share of its read documents has an instruction
MIN_SHARE = 0.5
MAX_TOKENS = 32
MAX_PHRASE = 6


def _tokens(text: str) -> list[str]:
    return [t.lower().strip("'-") for t in _TOKEN.findall(text)[:MAX_TOKENS] if t.strip("'-")]


def _object(rest: list[str]) -> str | None:
    """The head of the noun phrase that opens ``rest`` (its last word before a preposition, conjunction or
    punctuation), or a question word ("explain why"); None when there is none."""
    if rest and rest[0] in _WH:
        return rest[0]
    phrase: list[str] = []
    for i, t in enumerate(rest):
        if not t[0].isalpha():  # a number is part of the phrase ("5 key characteristics"), punctuation ends it
            if t[0].isdigit():
                continue
            break
        if t in _END or (phrase and _participle(t, rest[i + 1 : i + 2])):
            break
        if t not in _DET:
            phrase.append(t)
        if len(phrase) == MAX_PHRASE:
            break
    return phrase[-1] if phrase else None


def _participle(word: str, after: list[str]) -> bool:
    """``word`` opens a participle clause ("a report summarizing the study"), not a noun phrase ("a machine
    learning model"): an -ing word followed by a determiner, a phrase end or nothing."""
    return len(word) > 5 and word.endswith("ing") and (not after or after[0] in _DET or after[0] in _END)


def task_of(instruction: str | None) -> str | None:
    """The task of one instruction, ``"verb object"`` / ``"verb"`` / ``"question: what"`` / ``"role-play"``, or
    None when it has no words. Only the first sentence (or line) is read."""
    if not instruction:
        return None
    parts = re.split(r"(?<=[.?!])\s|\n", instruction.strip(), maxsplit=1)
    toks = _tokens(parts[0])
    if toks[:3] == ["you", "are", "given"] and len(parts) > 1:  # "You are given X. Sort them ...": the task follows
        return task_of(parts[1])
    if toks and toks[0] in _CONTEXT and "," in toks:  # "Given a sentence, classify it": the clause after
        toks = toks[toks.index(",") + 1 :]
    toks = [t for t in toks if t not in ('"', "(", ")")]
    while toks and (toks[0] in _LEAD or toks[0] == ","):
        toks = toks[1:]
    for ask in _ASK:
        if tuple(toks[: len(ask)]) == ask:
            toks = toks[len(ask) :]
            while toks and (toks[0] in _LEAD or toks[0] == ","):
                toks = toks[1:]
            break
    if not toks or not toks[0][0].isalpha():
        return None
    if any(tuple(toks[: len(r)]) == r for r in _ROLE):
        return "role-play"
    verb, rest = toks[0], toks[1:]
    if verb in _QUESTION:
        return f"question: {verb}"
    for words, name in _PHRASAL.items():
        if tuple(toks[: len(words)]) == words:
            verb, rest = name, toks[len(words) :]
            break
    if len(rest) > 1 and rest[0] == "and" and rest[1][0].isalpha():  # "identify and explain the ..."
        verb, rest = f"{verb} and {rest[1]}", rest[2:]
    rest = _skip_manner(rest)
    obj = _object(rest)
    return f"{verb} {obj}" if obj else verb


_MANNER_END = _words("detail words word sentences sentence paragraph paragraphs points steps lines brief")


def _skip_manner(rest: list[str]) -> list[str]:
    """Drop "at least 3" / "in detail" / "in two sentences" before the object."""
    if rest[:2] in (["at", "least"], ["at", "most"]):
        return rest[2:]
    if rest[:1] == ["in"]:
        for i, t in enumerate(rest[1:6], 1):
            if t in _MANNER_END:
                return rest[i + 1 :]
    return rest


def task_labels(
    instructions_by_cluster: dict[int, list[str | None]], *, top: int = 3, min_share: float = MIN_SHARE
) -> dict[int, tuple[str, list[str]] | None]:
    """``{cluster: (label, tasks)}`` from each cluster's instructions (None for a document without one); None
    for a cluster where fewer than ``min_share`` of the documents have an instruction. Tasks are ranked by
    ``count / cluster tasks * log(1 + average cluster tasks / count over all clusters)``; a task must occur
    twice in a cluster of two or more instructions, so one odd record does not name a cluster."""
    tasks: dict[int, Counter] = {}
    share: dict[int, float] = {}
    for c, items in instructions_by_cluster.items():
        items = list(items)
        found = [t for t in (task_of(i) for i in items) if t]
        share[c] = len(found) / len(items) if items else 0.0
        tasks[c] = Counter(found)
    total: Counter = Counter()
    for cnt in tasks.values():
        total.update(cnt)
    sizes = [sum(cnt.values()) for cnt in tasks.values() if cnt]
    avg = sum(sizes) / len(sizes) if sizes else 1.0
    out: dict[int, tuple[str, list[str]] | None] = {}
    for c, cnt in tasks.items():
        n = sum(cnt.values())
        if not n or share[c] < min_share:
            out[c] = None
            continue
        need = 2 if n >= 2 else 1
        scored = sorted(
            ((k / n * math.log(1.0 + avg / total[t]), t) for t, k in cnt.items() if k >= need),
            key=lambda x: (-x[0], x[1]),
        )
        best = [t for _, t in scored[:top]]
        if not best:  # every task once: the commonest verbs say what the cluster asks for
            verbs = Counter(t if t.startswith("question:") else t.split(" ", 1)[0] for t in cnt.elements())
            best = [v for v, _ in sorted(verbs.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
        out[c] = (" · ".join(best), best)
    return out
