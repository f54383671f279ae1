"""DataTrove's default keep/drop decisions expressed over Winnow's signal columns.

Each filter is a list of rules ``{"column", "op", "value", "reason"}`` meaning "keep when ``column op value``";
a NULL value fails its rule (DataTrove drops empty documents), except, with ``aware=True``, a value that is
NULL because the rule does not apply to the document's script (:data:`NOT_APPLICABLE`). The recipes area can turn these into recipe
rules; :func:`keep_sql` gives one SQL boolean per filter and :func:`keep` evaluates a row in Python. The
parity test checks that these decisions reproduce DataTrove 0.10.1's filters on realmix.
"""

from __future__ import annotations

import operator
from typing import Any

from app.sql import qi

Rule = dict[str, Any]

DATATROVE_DEFAULTS: dict[str, list[Rule]] = {
    "gopher_quality": [
        {"column": "gopher_word_count", "op": ">=", "value": 50, "reason": "gopher_short_doc"},
        {"column": "gopher_word_count", "op": "<=", "value": 100_000, "reason": "gopher_long_doc"},
        {"column": "gopher_mean_word_length", "op": ">=", "value": 3, "reason": "gopher_below_avg_threshold"},
        {"column": "gopher_mean_word_length", "op": "<=", "value": 10, "reason": "gopher_above_avg_threshold"},
        {"column": "gopher_hash_ratio", "op": "<=", "value": 0.1, "reason": "gopher_too_many_hashes"},
        {"column": "gopher_ellipsis_ratio", "op": "<=", "value": 0.1, "reason": "gopher_too_many_ellipsis"},
        {"column": "gopher_bullet_lines_ratio", "op": "<=", "value": 0.9, "reason": "gopher_too_many_bullets"},
        {"column": "gopher_ellipsis_lines_ratio", "op": "<=", "value": 0.3, "reason": "gopher_too_many_end_ellipsis"},
        {"column": "gopher_alpha_words_ratio", "op": ">=", "value": 0.8, "reason": "gopher_below_alpha_threshold"},
        {"column": "gopher_stop_words", "op": ">=", "value": 2, "reason": "gopher_enough_stop_words"},
    ],
    "gopher_repetition": [
        {"column": "gopher_rep_dup_para_frac", "op": "<=", "value": 0.3, "reason": "dup_para_frac"},
        {"column": "gopher_rep_dup_para_char_frac", "op": "<=", "value": 0.2, "reason": "dup_para_char_frac"},
        {"column": "gopher_rep_dup_line_frac", "op": "<=", "value": 0.3, "reason": "dup_line_frac"},
        {"column": "gopher_rep_dup_line_char_frac", "op": "<=", "value": 0.2, "reason": "dup_line_char_frac"},
        *(
            {"column": f"gopher_rep_top_{n}gram_char_frac", "op": "<=", "value": t, "reason": f"top_{n}_gram"}
            for n, t in ((2, 0.20), (3, 0.18), (4, 0.16))
        ),
        *(
            {"column": f"gopher_rep_dup_{n}gram_char_frac", "op": "<=", "value": t, "reason": f"duplicated_{n}_n_grams"}
            for n, t in ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
        ),
    ],
    "c4": [
        {"column": "c4_lorem_ipsum", "op": "==", "value": False, "reason": "lorem_ipsum"},
        {"column": "c4_curly_bracket", "op": "==", "value": False, "reason": "curly_bracket"},
        {"column": "c4_sentences", "op": ">=", "value": 5, "reason": "too_few_sentences"},
    ],
    "fineweb": [
        {"column": "fineweb_line_punct_ratio", "op": ">=", "value": 0.12, "reason": "line_punct_ratio"},
        {"column": "fineweb_short_line_ratio", "op": "<=", "value": 0.67, "reason": "short_line_ratio"},
        {"column": "fineweb_char_dup_ratio", "op": "<=", "value": 0.01, "reason": "char_dup_ratio"},
        {"column": "fineweb_newline_ratio", "op": "<=", "value": 0.3, "reason": "list_ratio"},
    ],
}

#: DataTrove class name for each entry of :data:`DATATROVE_DEFAULTS`.
DATATROVE_FILTERS = {
    "gopher_quality": "GopherQualityFilter",
    "gopher_repetition": "GopherRepetitionFilter",
    "c4": "C4QualityFilter",
    "fineweb": "FineWebQualityFilter",
}

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq}

#: Columns that are NULL where their rule does not apply (language-aware segmentation: the mean word length
#: of text in a script without spaces), with the column that tells such a document from an empty one.
NOT_APPLICABLE = {"gopher_mean_word_length": "gopher_word_count"}


def _sql_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(float(v)) if isinstance(v, float) else str(int(v))


def keep_sql(name: str, *, aware: bool = False) -> str:
    """A SQL boolean over ``corpus`` columns: true where DataTrove's filter ``name`` keeps the document.
    ``aware``: a rule whose column is NULL because it does not apply (:data:`NOT_APPLICABLE`) passes."""
    rules = DATATROVE_DEFAULTS[name]
    op_sql = {">=": ">=", "<=": "<=", "==": "="}
    parts = []
    for r in rules:
        c = r["column"]
        na = f"{qi(NOT_APPLICABLE[c])} > 0" if aware and c in NOT_APPLICABLE else "false"
        parts.append(f"coalesce({qi(c)} {op_sql[r['op']]} {_sql_value(r['value'])}, {na}, false)")
    return " AND ".join(parts)


#: Reason given to a document without content (instead of the first rule its NULL values fail).
EMPTY = "empty"
#: Per filter: the column whose value says "no content" (NULL or 0): no tokens, no lines, no non-blank line.
EMPTY_WHEN = {
    "gopher_quality": "gopher_token_count",
    "gopher_repetition": "gopher_rep_dup_para_frac",
    "c4": "c4_lines",
    "fineweb": "fineweb_line_punct_ratio",
}


def is_empty(name: str, row: dict[str, Any]) -> bool:
    """True when filter ``name``'s columns say the document has no content (see :data:`EMPTY_WHEN`)."""
    v = row.get(EMPTY_WHEN[name])
    return v is None or (v == 0 and not isinstance(v, float))


def drop_reason(name: str, row: dict[str, Any], *, aware: bool = False) -> str | None:
    """The first rule of filter ``name`` that ``row`` fails (DataTrove's reason string), or None to keep;
    :data:`EMPTY` for a document without content. ``aware``: as :func:`keep_sql`."""
    if is_empty(name, row):
        return EMPTY
    for r in DATATROVE_DEFAULTS[name]:
        c = r["column"]
        v = row.get(c)
        if v is None and aware and c in NOT_APPLICABLE and (row.get(NOT_APPLICABLE[c]) or 0) > 0:
            continue
        if v is None or not _OPS[r["op"]](v, r["value"]):
            return r["reason"]
    return None


def keep(name: str, row: dict[str, Any], *, aware: bool = False) -> bool:
    """True where DataTrove's default filter ``name`` keeps a document with these signal values."""
    return drop_reason(name, row, aware=aware) is None
