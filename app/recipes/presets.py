"""Recipe presets: the published filtering pipelines as ordinary recipes (``winnow recipe preset NAME``).

Every preset is a plain recipe dict in today's schema (``{signal, min, max, label}`` rules and a
``dedup`` block), so it loads with :func:`app.recipes.load_recipe`, shows on the Thresholds page and can be
edited like a hand-written recipe. The thresholds are not retyped here: the Gopher, C4 and FineWeb rules
are built from :data:`app.signals.reference.DATATROVE_DEFAULTS`, the DataTrove defaults whose decisions
``tests/test_signals_parity.py`` checks against DataTrove itself, so a preset and the parity test can never
disagree about a number.

Presets:

- ``datatrove``: DataTrove's four default quality filters (Gopher quality, Gopher repetition, C4, FineWeb).
- ``fineweb``: the FineWeb pipeline (Penedo et al. 2024): the same four filters, then MinHash dedup.
- ``gopher``: the Gopher / MassiveWeb rules (Rae et al. 2021), then exact and near dedup.
- ``c4``: C4's page rules (Raffel et al. 2020).

``language``: without it a preset applies to every document, as the reference pipelines' filters do, and
their English-word rules (stop words, word counts, C4 sentences) remove nearly all non-English text, as the
reference does (which also runs an English language filter first). With a language code the preset keeps
only that language (``lang_code``), and for a non-English language drops the rules that only make sense for
English or for whitespace-separated words; the recipe's description lists what was dropped and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.errors import RecipeError
from app.signals.reference import DATATROVE_DEFAULTS

PRESETS = ("c4", "datatrove", "fineweb", "gopher")

#: Languages written without spaces between words: a "word" is a whole run of text, so word counts,
#: word lengths, per-word ratios and word n-grams measure nothing there.
NO_SPACE_LANGS = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "dz", "yue", "wuu"})
#: Languages whose sentences end with their own marks (danda, Armenian, Ethiopic, Urdu full stop), not
#: the Latin ``. ? ! " '`` C4's line rule requires.
OWN_STOP_LANGS = frozenset({"hi", "mr", "ne", "bn", "pa", "gu", "or", "as", "sa", "si", "hy", "am", "ti", "ur"})

_CITE = {
    "gopher_quality": "Rae et al. 2021 (Gopher), appendix A1 quality filters; DataTrove GopherQualityFilter default",
    "gopher_repetition": "Rae et al. 2021 (Gopher), table A1 repetition filters; DataTrove GopherRepetitionFilter default",
    "c4": "Raffel et al. 2020 (C4), section 2.2; DataTrove C4QualityFilter default",
    "fineweb": "Penedo et al. 2024 (FineWeb), custom filters; DataTrove FineWebQualityFilter default",
}
_FAMILY = {"gopher_quality": "Gopher", "gopher_repetition": "Gopher rep", "c4": "C4", "fineweb": "FineWeb"}

# column -> (what the label says, DataTrove parameter name(s), scope)
# scope: "any" = language-neutral; "words" = needs whitespace-separated words; "english" = English word
# list; "latin_stop" = needs sentences ending in Latin punctuation.
_COLUMNS: dict[str, tuple[str, str, str]] = {
    "gopher_word_count": ("words", "min_doc_words / max_doc_words", "words"),
    "gopher_mean_word_length": ("mean word length", "min_avg_word_length / max_avg_word_length", "words"),
    "gopher_hash_ratio": ("'#' per word", "max_symbol_word_ratio", "words"),
    "gopher_ellipsis_ratio": ("ellipses per word", "max_symbol_word_ratio", "words"),
    "gopher_bullet_lines_ratio": ("bullet lines", "max_bullet_lines_ratio", "any"),
    "gopher_ellipsis_lines_ratio": ("lines ending in '...'", "max_ellipsis_lines_ratio", "any"),
    "gopher_alpha_words_ratio": ("words with a letter", "max_non_alpha_words_ratio", "words"),
    "gopher_stop_words": ("English stop words", "min_stop_words", "english"),
    "gopher_rep_dup_para_frac": ("repeated paragraphs", "dup_para_frac", "any"),
    "gopher_rep_dup_para_char_frac": ("chars in repeated paragraphs", "dup_para_char_frac", "any"),
    "gopher_rep_dup_line_frac": ("repeated lines", "dup_line_frac", "any"),
    "gopher_rep_dup_line_char_frac": ("chars in repeated lines", "dup_line_char_frac", "any"),
    **{f"gopher_rep_top_{n}gram_char_frac": (f"top word {n}-gram chars", "top_n_grams", "words") for n in (2, 3, 4)},
    **{
        f"gopher_rep_dup_{n}gram_char_frac": (f"repeated word {n}-gram chars", "dup_n_grams", "words")
        for n in range(5, 11)
    },
    "c4_lorem_ipsum": ("no 'lorem ipsum'", "filter_lorem_ipsum", "any"),
    "c4_curly_bracket": ("no '{'", "filter_curly_bracket", "any"),
    "c4_sentences": ("sentences in kept lines", "min_num_sentences", "latin_stop"),
    "fineweb_line_punct_ratio": ("lines ending in punctuation", "line_punct_thr", "any"),
    "fineweb_short_line_ratio": ("short lines (<= 30 chars)", "short_line_thr", "any"),
    "fineweb_char_dup_ratio": ("chars in duplicated lines", "char_duplicates_ratio", "any"),
    "fineweb_newline_ratio": ("newlines per word", "new_line_ratio", "words"),
}

_WHY_DROPPED = {
    "english": "English stop words",
    "words": "no spaces between words, so word counts and word n-grams mean nothing",
    "latin_stop": "sentences do not end in C4's . ? ! \" '",
}

#: preset -> (filters in pipeline order, dedup, language-rule min score and its source, description)
_SPECS: dict[str, dict[str, Any]] = {
    "datatrove": {
        "filters": ("gopher_quality", "gopher_repetition", "c4", "fineweb"),
        "dedup": {},
        "lang_min": (0.65, "DataTrove LanguageFilter default language_threshold=0.65 (fastText lid.176)"),
        "about": "DataTrove's four default quality filters (GopherQualityFilter, GopherRepetitionFilter, "
        "C4QualityFilter, FineWebQualityFilter), thresholds as in app/signals/reference.py.",
    },
    "fineweb": {
        "filters": ("gopher_repetition", "gopher_quality", "c4", "fineweb"),
        "dedup": {"near": True},
        "lang_min": (0.65, "FineWeb (Penedo et al. 2024): LanguageFilter, English score >= 0.65 (fastText lid.176)"),
        "about": "FineWeb (Penedo et al. 2024; datatrove examples/fineweb.py): Gopher repetition and quality, "
        "C4 and FineWeb filters at DataTrove's defaults, then MinHash near dedup (FineWeb: per dump, word "
        "5-grams). Differences: FineWeb runs C4 with filter_no_terminal_punct=False and feeds the C4-cleaned "
        "text to the FineWeb filter; this preset's rules read the stored signals of the original text, so "
        "c4_sentences counts sentences only in lines that end in punctuation (DataTrove's default). To reproduce "
        "the chain, add transforms: {steps: [c4_lines], score: cleaned} (docs/recipes.md, Transforms).",
    },
    "gopher": {
        "filters": ("gopher_quality", "gopher_repetition"),
        "dedup": {"exact": True, "near": True},
        "lang_min": None,
        "about": "Gopher / MassiveWeb (Rae et al. 2021): quality and repetition filters with the paper's "
        "thresholds (DataTrove's defaults), then exact and near-duplicate removal as in MassiveWeb.",
    },
    "c4": {
        "filters": ("c4",),
        "dedup": {},
        "lang_min": (0.99, "C4 (Raffel et al. 2020): langdetect English probability >= 0.99"),
        "about": "C4 (Raffel et al. 2020): drop pages with 'lorem ipsum' or '{' in a kept line or fewer than 5 "
        "sentences. Not included: C4's line removal (Winnow selects documents, it never edits text), the "
        "bad-words list and three-sentence-span dedup (no Winnow signal).",
    },
}
_LANG = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class PresetRule:
    """One preset rule: the plain recipe rule and where its threshold comes from."""

    rule: dict[str, Any]
    source: str
    scope: str = "any"


def _num(v: Any) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer()):
        return f"{int(v):,}"
    return f"{v:g}"


def _filter_rules(name: str) -> list[PresetRule]:
    """The rules of DataTrove filter ``name``, a column's min and max merged into one range rule."""
    merged: dict[str, dict[str, Any]] = {}
    reasons: dict[str, list[str]] = {}
    for r in DATATROVE_DEFAULTS[name]:
        col, op, v = r["column"], r["op"], r["value"]
        d = merged.setdefault(col, {"signal": col})
        if op == ">=":
            d["min"] = v
        elif op == "<=":
            d["max"] = v
        else:  # "== False" on a boolean flag: the flag's value (0/1) at most 0
            d["max"] = 0
            d["flag"] = True
        reasons.setdefault(col, []).append(r["reason"])
    out = []
    for col, d in merged.items():
        what, param, scope = _COLUMNS[col]
        if d.pop("flag", False):
            bound = ""
        elif "min" in d and "max" in d:
            bound = f"{_num(d['min'])}..{_num(d['max'])}"
        elif "min" in d:
            bound = f">= {_num(d['min'])}"
        else:
            bound = f"<= {_num(d['max'])}"
        d["label"] = f"{_FAMILY[name]}: {what} {bound}".rstrip()
        src = f"{_CITE[name]} {param} (drop reason {'/'.join(reasons[col])})"
        out.append(PresetRule(d, src, scope))
    return out


def _dropped(scope: str, lang: str | None) -> bool:
    if lang is None or lang == "en" or scope == "any":
        return False
    if scope == "english":
        return True
    if scope == "words":
        return lang in NO_SPACE_LANGS
    return lang in NO_SPACE_LANGS or lang in OWN_STOP_LANGS  # latin_stop


def preset_rules(name: str, *, language: str | None = None) -> tuple[list[PresetRule], list[str], str]:
    """(kept rules with sources, labels of the rules dropped for ``language``, description) of preset ``name``."""
    if name not in _SPECS:
        raise RecipeError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    if language is not None:
        code = language.strip().lower()
        if not _LANG.match(code):
            raise RecipeError(f"--language expects an ISO 639 code such as en or zh, got {language!r}")
        language = code
    spec = _SPECS[name]
    rules: list[PresetRule] = []
    if language is not None:
        rules.append(
            PresetRule(
                {"signal": "lang_code", "in": [language], "label": f"language: {language}"},
                "the preset's language (Winnow's lang scorer, py3langid)",
            )
        )
        if spec["lang_min"] is not None:
            v, src = spec["lang_min"]
            rules.append(
                PresetRule(
                    {"signal": "lang_score", "min": v, "label": f"language confidence >= {v:g}"},
                    f"{src}; Winnow scores with py3langid, whose probabilities are calibrated differently",
                )
            )
    dropped: list[str] = []
    by_why: dict[str, list[str]] = {}
    for f in spec["filters"]:
        for pr in _filter_rules(f):
            if _dropped(pr.scope, language):
                dropped.append(pr.rule["label"])
                by_why.setdefault(_WHY_DROPPED[pr.scope], []).append(pr.rule["signal"])
            else:
                rules.append(pr)
    if language is None:
        scope = (
            "Applies to every document, as the reference filters do: its English-word rules remove nearly "
            "all non-English text (the reference pipelines also filter to English first); use --language "
            "for another language."
        )
    elif language == "en":
        scope = "English documents only (lang_code); every rule of the reference kept."
    elif dropped:
        scope = (
            f"{language} documents only (lang_code). Dropped for {language}: "
            + "; ".join(f"{', '.join(cols)} ({why})" for why, cols in by_why.items())
            + "."
        )
    else:
        scope = f"{language} documents only (lang_code); every rule is language-neutral here, none dropped."
    return rules, dropped, f"{spec['about']} {scope}"


def preset(name: str, *, language: str | None = None) -> dict[str, Any]:
    """Preset ``name`` (one of :data:`PRESETS`) as a plain recipe dict, every rule labelled.

    ``language``: an ISO 639 code; keeps only that language and, for non-English codes, drops the
    English-only rules (see the module docstring). Raises :class:`RecipeError` for an unknown name."""
    rules, _, desc = preset_rules(name, language=language)
    out: dict[str, Any] = {
        "version": 1,
        "name": f"{name}-preset" + (f"-{language.strip().lower()}" if language else ""),
        "description": desc,
        "rules": [dict(pr.rule) for pr in rules],
    }
    dedup = _SPECS[name]["dedup"]
    if dedup:
        out["dedup"] = dict(dedup)
    return out


def preset_yaml(name: str, *, language: str | None = None) -> str:
    """Preset ``name`` as recipe YAML, each rule line followed by a comment citing its threshold."""
    from app.recipes.schema import Recipe

    rules, _, _ = preset_rules(name, language=language)
    recipe = Recipe.from_dict(preset(name, language=language))
    lines = recipe.to_yaml().splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("  - {")]
    if len(starts) == len(rules):  # one rule per line (to_yaml's usual form): annotate each
        for i, pr in zip(starts, rules, strict=True):
            lines[i] += f"  # {pr.source}"
    head = (
        f"# winnow recipe preset {name}" + (f" --language {language}" if language else "") + "\n"
        "# Thresholds: Gopher = Rae et al. 2021; C4 = Raffel et al. 2020; FineWeb = Penedo et al. 2024;\n"
        "# values as DataTrove 0.10.1's filter defaults (app/signals/reference.py).\n"
    )
    return head + "\n".join(lines) + "\n"
