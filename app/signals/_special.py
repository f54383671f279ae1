"""The whole-chunk exceptions of the English word tokenizer (:func:`app.signals._text.words`).

Abbreviations that keep their period, contractions split as spaCy's ``spacy.blank("en")`` splits them
(``don't`` -> ``do`` ``n't``), clitics, emoticons. A table of data kept apart from the tokenizer's
algorithm so each reads on its own; :data:`app.signals._text.SPECIAL` is built from it once at import.
"""

from __future__ import annotations


def special_cases() -> dict[str, tuple[str, ...]]:
    """Whole-chunk exceptions of the English tokenizer: abbreviations, contractions, emoticons."""
    sc: dict[str, tuple[str, ...]] = {}
    abbrev = [
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "St",
        "Jr",
        "Sr",
        "Inc",
        "Ltd",
        "Co",
        "Corp",
        "vs",
        "Mt",
        "Gen",
        "Gov",
        "Rep",
        "Sen",
        "Rev",
        "Prof",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Sept",
        "Oct",
        "Nov",
        "Dec",
        "Ala",
        "Ariz",
        "Ark",
        "Calif",
        "Colo",
        "Conn",
        "Del",
        "Fla",
        "Ga",
        "Ill",
        "Ind",
        "Kan",
        "Ky",
        "La",
        "Md",
        "Mass",
        "Mich",
        "Minn",
        "Miss",
        "Mo",
        "Mont",
        "Neb",
        "Nev",
        "Okla",
        "Ore",
        "Pa",
        "Tenn",
        "Va",
        "Wash",
        "Wis",
        "Wyo",
    ]
    for a in abbrev:
        sc[a + "."] = (a + ".",)
    for a in ("e.g.", "i.e.", "a.m.", "p.m.", "U.S.", "U.K.", "Ph.D.", "vs.", "etc.", "Jan.", "co."):
        sc[a] = (a,)
    sc["etc."] = ("etc", ".")
    for c in "abcdefghijklmnopqrstuvwxyz":
        sc[c + "."] = (c + ".",)
    for e in (":)", ":-)", ":(", ":-(", ";)", ";-)", ":D", ":P", ":p", ":/", "<3", ":'(", "=)", "(:", "):", "xD", "XD"):
        sc[e] = (e,)
    neg = [
        "do",
        "does",
        "did",
        "is",
        "are",
        "was",
        "were",
        "have",
        "has",
        "had",
        "could",
        "would",
        "should",
        "must",
        "might",
        "need",
        "ai",
        "ca",
        "wo",
        "sha",
        "dare",
    ]
    for v in neg:
        for vv in (v, v.capitalize(), v.upper()):
            for ap in ("'", "’"):
                sc[f"{vv}n{ap}t"] = (vv, f"n{ap}t")
                sc[f"{vv}N{ap}T"] = (vv, f"N{ap}T")
            sc[f"{vv}nt"] = (vv, "nt")
    for k in ("wont", "Wont", "dare", "need", "wasnt"):
        sc.pop(k + "nt", None)
    for w, parts in {
        "gonna": ("gon", "na"),
        "gotta": ("got", "ta"),
        "cannot": ("can", "not"),
        "y'all": ("y'", "all"),
        "Y'all": ("Y'", "all"),
        "aint": ("ai", "nt"),
        "Aint": ("Ai", "nt"),
        "yall": ("y", "all"),
        "and/or": ("and/or",),
        "lets": ("let", "s"),
        "Let's": ("Let", "'s"),
        "let's": ("let", "'s"),
    }.items():
        sc[w] = parts
    pron = [
        "i",
        "you",
        "he",
        "she",
        "it",
        "we",
        "they",
        "that",
        "there",
        "who",
        "what",
        "where",
        "how",
        "when",
        "why",
        "here",
        "this",
    ]
    for p in pron:
        for pp in (p, p.capitalize(), p.upper()):
            for cl in ("'m", "'re", "'s", "'ve", "'d", "'ll", "’m", "’re", "’s", "’ve", "’d", "’ll"):
                sc[pp + cl] = (pp, cl)
    for m in ["could", "would", "should", "must", "might"]:
        for mm in (m, m.capitalize()):
            sc[mm + "'ve"] = (mm, "'ve")
            sc[mm + "’ve"] = (mm, "’ve")
    bare = "im ive id youre youve youll youd theyre theyve theyd weve thats whats theres wheres hows whos ima"
    for w in bare.split():
        head = next(p for p in sorted(pron, key=len, reverse=True) if w.startswith(p))
        parts = (head, w[len(head) :]) if w != "ima" else ("i", "m", "a")
        sc[w] = parts
        sc[w.capitalize()] = (parts[0].capitalize(), *parts[1:])
    for cl in ("'s", "'S", "’s", "’S", "'m", "'re", "'ve", "'d", "'ll", "n't", "’m", "’re", "’ve", "’d", "’ll", "n’t"):
        sc[cl] = (cl,)
    return sc
