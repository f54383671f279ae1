"""View state <-> URL query parameters, so that copying the URL restores the view.

Keys: ``ws`` workspace path, ``sig`` selected signal, ``by`` facet, ``r`` threshold rules, ``c`` map colour,
``doc`` open document, ``q`` search text, ``recipe`` recipe name. The page itself is the URL path
(``/thresholds``). Rules use a compact, readable encoding: ``kind:column:argument`` joined by ``;``, e.g.
``range:size_words:50.0,;in:lang_code:en|de;dedup:exact:`` (components percent-encoded). An ``expr`` rule's
argument is its expression with only ``%``, ``:``, ``;``, ``|`` and characters outside printable ASCII
percent-encoded (``expr:map_x:not (map_x between 1.5 and 3.2)``); its column is the first one it reads.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

#: rule kinds: numeric range by value or by quantile (0..1), categorical in / not in, one per duplicate cluster,
#: a boolean expression in the recipes' whitelist grammar (:mod:`app.recipes.expr`)
RULE_KINDS = ("range", "qrange", "in", "notin", "dedup", "expr")
#: what "dedup" can name: the recipe's dedup flags
DEDUP_KINDS = ("exact", "near", "semantic")
#: the "Add a rule on" choice that adds an ``expr`` rule (Thresholds page)
EXPR_ADD = "expression (any boolean SQL-like condition)"
STATE_KEYS = ("ws", "sig", "sig2", "by", "r", "c", "doc", "q", "recipe")


@dataclass
class Rule:
    """One threshold rule as the dashboard holds it; maps 1:1 to a recipe rule (see :func:`to_recipe_dict`)."""

    kind: str
    col: str
    lo: float | None = None
    hi: float | None = None
    values: list[str] = field(default_factory=list)
    #: the expression of an ``expr`` rule (``col`` is then the first column it reads, "" when none or unparsable)
    expr: str = ""
    #: widget-key stem, stable while the rule lives (not part of the rule's meaning)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:8], compare=False, repr=False)

    def label(self) -> str:
        """A short human description: ``gopher_word_count ≥ 50``."""
        q = "q" if self.kind == "qrange" else ""
        if self.kind in ("range", "qrange"):
            parts = []
            if self.lo is not None:
                parts.append(f"≥ {q}{_num(self.lo)}")
            if self.hi is not None:
                parts.append(f"≤ {q}{_num(self.hi)}")
            return f"{self.col} " + (" and ".join(parts) or "(no bound)")
        if self.kind in ("in", "notin"):
            op = "in" if self.kind == "in" else "not in"
            return f"{self.col} {op} {{{', '.join(self.values)}}}"
        if self.kind == "expr":
            return self.expr.strip() or "(empty expression)"
        return f"one per {self.col} duplicate cluster"

    def columns(self) -> list[str]:
        """Every corpus column the rule reads (an expression's columns; [] for dedup or a bad expression)."""
        if self.kind == "dedup":
            return []
        if self.kind == "expr":
            return expr_columns(self.expr)
        return [self.col]


def expr_columns(text: str) -> list[str]:
    """The columns an expression reads, in order; [] when it does not parse."""
    from app.errors import WinnowError
    from app.recipes.expr import parse_expr

    try:
        return parse_expr(text).columns
    except WinnowError:
        return []


def expr_rule(text: str, *, col: str = "") -> Rule:
    """An ``expr`` rule; its ``col`` is the first column ``text`` reads (``col`` when it reads none or does
    not parse, so a rule being edited keeps the column it had)."""
    cols = expr_columns(text)
    return Rule("expr", cols[0] if cols else col, expr=text)


#: characters an expression keeps as is in the URL (the rest of printable ASCII but ``%`` ``:`` ``;`` ``|``)
_EXPR_SAFE = " !\"#$&'()*+,-./<=>?@[]^_`{}~"


def _num(v: float | None) -> str:
    return "?" if v is None else f"{v:g}"


def _f(v: float | None) -> str:
    return "" if v is None else repr(float(v))


def encode_rules(rules: list[Rule]) -> str:
    """Rules -> the ``r`` query parameter."""
    out = []
    for r in rules:
        if r.kind in ("in", "notin"):
            arg = "|".join(quote(v, safe="") for v in r.values)
        elif r.kind == "dedup":
            arg = ""
        elif r.kind == "expr":
            arg = quote(r.expr, safe=_EXPR_SAFE)
        else:
            arg = f"{_f(r.lo)},{_f(r.hi)}"
        out.append(f"{r.kind}:{quote(r.col, safe='')}:{arg}")
    return ";".join(out)


def _parse_bound(text: str, *, quantile: bool) -> float | None:
    if text.strip() == "":
        return None
    v = float(text)
    if math.isnan(v) or math.isinf(v) or (quantile and not 0 <= v <= 1):
        raise ValueError(text)
    return v


def decode_rules(text: str | None) -> list[Rule]:
    """The ``r`` query parameter -> rules; malformed pieces are dropped (a URL is user input)."""
    rules: list[Rule] = []
    for tok in (text or "").split(";"):
        parts = tok.split(":", 2)
        if len(parts) != 3 or parts[0] not in RULE_KINDS or not (parts[1] or parts[0] == "expr"):
            continue
        kind, col, arg = parts[0], unquote(parts[1]), parts[2]
        if kind == "expr":
            text = unquote(arg)
            if text.strip():
                rules.append(expr_rule(text, col=col))
        elif kind in ("in", "notin"):
            rules.append(Rule(kind, col, values=[unquote(v) for v in arg.split("|") if v != ""]))
        elif kind == "dedup":
            if col in DEDUP_KINDS:
                rules.append(Rule(kind, col))
        else:
            lo, _, hi = arg.partition(",")
            try:
                rules.append(
                    Rule(
                        kind,
                        col,
                        lo=_parse_bound(lo, quantile=kind == "qrange"),
                        hi=_parse_bound(hi, quantile=kind == "qrange"),
                    )
                )
            except ValueError:
                continue
    return rules


def to_recipe_dict(rules: list[Rule], *, name: str | None = None) -> dict[str, Any]:
    """The recipe (``app.recipes`` schema, version 1) these rules mean, as plain data."""
    out: list[dict[str, Any]] = []
    dedup: dict[str, bool] = {}
    for r in rules:
        if r.kind == "range":
            d: dict[str, Any] = {"signal": r.col}
            if r.lo is not None:
                d["min"] = r.lo
            if r.hi is not None:
                d["max"] = r.hi
            out.append(d)
        elif r.kind == "qrange":
            d = {"signal": r.col}
            if r.lo is not None:
                d["min_quantile"] = r.lo
            if r.hi is not None:
                d["max_quantile"] = r.hi
            if r.lo is None and r.hi is None:
                d["min_quantile"] = 0.0  # no bound yet: same as "not null", and it stays a quantile rule
            out.append(d)
        elif r.kind == "in":
            out.append({"signal": r.col, "in": list(r.values)})
        elif r.kind == "notin":
            out.append({"signal": r.col, "not_in": list(r.values)})
        elif r.kind == "expr":
            out.append({"expr": r.expr})
        elif r.kind == "dedup":
            dedup[r.col] = True
    rec: dict[str, Any] = {"version": 1, "rules": out}
    if name:
        rec["name"] = name
    if dedup:
        rec["dedup"] = dedup
    return rec


def from_recipe_dict(data: dict[str, Any]) -> list[Rule]:
    """Rules from a recipe's plain data (the parts the Thresholds page can edit; others are ignored)."""
    rules: list[Rule] = []
    for d in data.get("rules") or []:
        if d.get("expr") is not None:
            rules.append(expr_rule(str(d["expr"])))
            continue
        col = d.get("signal")
        if not col:
            continue
        if "in" in d:
            rules.append(Rule("in", col, values=[str(v) for v in d["in"]]))
        elif "not_in" in d:
            rules.append(Rule("notin", col, values=[str(v) for v in d["not_in"]]))
        elif "min_quantile" in d or "max_quantile" in d:
            lo = d.get("min_quantile")
            rules.append(Rule("qrange", col, lo=None if lo == 0 else lo, hi=d.get("max_quantile")))
        else:
            rules.append(Rule("range", col, lo=d.get("min"), hi=d.get("max")))
    for k, on in (data.get("dedup") or {}).items():
        if on and k in DEDUP_KINDS:
            rules.append(Rule("dedup", k))
    return rules


def load_from_url(query_params: Any, session: Any) -> None:
    """On a session's first run, copy the URL's state into ``session`` (the URL wins over defaults)."""
    if session.get("_url_loaded"):
        return
    for k in STATE_KEYS:
        if k in query_params:
            session[k] = query_params[k]
    session["rules"] = decode_rules(session.get("r"))
    session["_url_loaded"] = True


def sync_to_url(query_params: Any, session: Any) -> None:
    """Write the session's view state into the URL (only keys that changed, to avoid needless reruns)."""
    session["r"] = encode_rules(session.get("rules") or [])
    for k in STATE_KEYS:
        v = session.get(k)
        if v in (None, ""):
            if k in query_params:
                del query_params[k]
        elif query_params.get(k) != str(v):
            query_params[k] = str(v)
