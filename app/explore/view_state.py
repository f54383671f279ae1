"""View state <-> URL query parameters, so that copying the URL restores the view.

Keys: ``ws`` workspace path, ``sig`` selected signal, ``by`` facet, ``r`` threshold rules, ``c`` map colour,
``doc`` open document, ``q`` search text, ``recipe`` recipe name. The page itself is the URL path
(``/thresholds``). Rules use a compact, readable encoding: ``kind:column:argument`` joined by ``;``, e.g.
``range:size_words:50.0,;in:lang_code:en|de;dedup:exact:`` (components percent-encoded). An ``expr`` rule's
argument is its expression with only ``%``, ``:``, ``;``, ``|`` and characters outside printable ASCII
percent-encoded (``expr:map_x:not (map_x between 1.5 and 3.2)``); its column is the first one it reads.

``rb`` carries the recipe's other stages (balance, sample, mixture, annotations, output columns, dedup's ``over``:
what :func:`app.explore.recipe_bridge.stage_base` keeps), so a link shows the recipe being edited even when it
was never saved: compact JSON, zlib-compressed, URL-safe base64 (:func:`encode_stages`), at most
:data:`MAX_STAGES_CHARS` characters (a larger one stays out of the URL and the page says so). A bad ``rb`` (cut
short, edited, too large once decompressed, not a recipe) is one clear message, never a traceback.
"""

from __future__ import annotations

from typing import Any

from app.recipes.rules import DEDUP_STEPS, KINDS, ExprRule, RuleKind, decode_url, encode_url, make

#: rule kinds the panel and the URL know (every kind in :mod:`app.recipes.rules`)
RULE_KINDS = tuple(KINDS)
#: what a ``dedup`` rule can name: the recipe's dedup steps
DEDUP_KINDS = DEDUP_STEPS
#: the "Add a rule on" choice that adds an ``expr`` rule (Thresholds page)
EXPR_ADD = "expression (any boolean SQL-like condition)"
STATE_KEYS = ("ws", "sig", "sig2", "by", "r", "c", "doc", "q", "recipe", "rb")
#: the longest ``rb`` a URL carries (browsers and proxies take ~8k-character URLs; rules and the rest need room)
MAX_STAGES_CHARS = 4000
#: the most bytes an ``rb`` may decompress to (a recipe's stages are a few hundred bytes)
MAX_STAGES_BYTES = 64 * 1024
#: session key holding a message about the URL's ``rb`` (cannot be read, or too large to carry)
STAGES_NOTE = "_url_stages_note"


def encode_stages(base: dict[str, Any] | None) -> str | None:
    """The ``rb`` parameter for a recipe's non-rule stages (None when there are none, or when the encoding would
    exceed :data:`MAX_STAGES_CHARS`)."""
    import base64
    import json
    import zlib

    if not base:
        return None
    raw = json.dumps(base, sort_keys=True, separators=(",", ":"), default=str).encode()
    text = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")
    return text if len(text) <= MAX_STAGES_CHARS else None


def decode_stages(text: str) -> dict[str, Any]:
    """The stages an ``rb`` parameter carries; RecipeError (one line) for anything that is not one."""
    import base64
    import binascii
    import json
    import zlib

    from app.errors import RecipeError
    from app.recipes import Recipe

    what = "the link's recipe stages (rb=) cannot be read"
    if len(text) > MAX_STAGES_CHARS:
        raise RecipeError(f"{what}: longer than {MAX_STAGES_CHARS:,} characters")
    short = "cut short or edited (copy the whole link)"
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        dec = zlib.decompressobj()
        raw = dec.decompress(packed, MAX_STAGES_BYTES)
    except (binascii.Error, ValueError, zlib.error) as e:
        raise RecipeError(f"{what}: {short}") from e
    if dec.unconsumed_tail:
        raise RecipeError(f"{what}: more than {MAX_STAGES_BYTES // 1024} KiB once unpacked")
    if not dec.eof:
        raise RecipeError(f"{what}: {short}")
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise RecipeError(f"{what}: not JSON") from e
    if not isinstance(data, dict) or "rules" in data:
        raise RecipeError(f"{what}: not a recipe's stages")
    try:
        Recipe.from_dict({**data, "version": 1})  # the same checks as a recipe file
    except RecipeError as e:
        raise RecipeError(f"{what}: {e}") from e
    return data


def Rule(kind: str, col: str = "", lo: Any = None, hi: Any = None, values: Any = None, expr: str = "") -> RuleKind:
    """A rule in the panel's vocabulary (``Rule("quantile", "quality_score", 0.05)``; older kind names such as
    ``qrange``/``notin`` are read too): a shorthand for :func:`app.recipes.rules.make`."""
    if kind == "expr":
        return expr_rule(expr, col=col)
    return make(kind, col, lo=lo, hi=hi, values=list(values or []), expr=expr)


def expr_columns(text: str) -> list[str]:
    """The columns an expression reads, in order; [] when it does not parse."""
    return ExprRule(expr=text).columns()


def expr_rule(text: str, *, col: str = "") -> ExprRule:
    """An ``expr`` rule; its ``col`` is the first column ``text`` reads (``col`` when it reads none or does
    not parse, so a rule being edited keeps the column it had)."""
    return ExprRule(expr=text, hint=col)


def encode_rules(rules: list[RuleKind]) -> str:
    """Rules -> the ``r`` query parameter (:func:`app.recipes.rules.encode_url`)."""
    return encode_url(rules)


def decode_rules(text: str | None) -> list[RuleKind]:
    """The ``r`` query parameter -> rules; malformed pieces are dropped (a URL is user input)."""
    return decode_url(text)


def to_recipe_dict(rules: list[RuleKind], *, name: str | None = None) -> dict[str, Any]:
    """The recipe (``app.recipes`` schema, version 1) these rules mean, as plain data."""
    from app.recipes import Recipe

    return Recipe.from_panel(rules, name=name).to_dict()


def from_recipe_dict(data: dict[str, Any]) -> list[RuleKind]:
    """Rules from a recipe's plain data (the parts the Thresholds page can edit; others are ignored)."""
    from app.recipes import Recipe

    return Recipe.from_dict(data).panel_rules()


def load_from_url(query_params: Any, session: Any) -> None:
    """On a session's first run, copy the URL's state into ``session`` (the URL wins over defaults)."""
    if session.get("_url_loaded"):
        return
    for k in STATE_KEYS:
        if k in query_params:
            session[k] = query_params[k]
    session["rules"] = decode_rules(session.get("r"))
    if session.get("rb"):  # the recipe's other stages: they win over a saved recipe the link also names
        from app.errors import WinnowError

        try:
            session["recipe_base"] = decode_stages(session["rb"])
        except WinnowError as e:
            session[STAGES_NOTE] = str(e)
            session["rb"] = None
    session["_url_loaded"] = True


def sync_to_url(query_params: Any, session: Any) -> None:
    """Write the session's view state into the URL (only keys that changed, to avoid needless reruns)."""
    session["r"] = encode_rules(session.get("rules") or [])
    base = session.get("recipe_base")
    session["rb"] = encode_stages(base)
    if base and session["rb"] is None:
        session[STAGES_NOTE] = (
            f"the recipe's balance/sample/mixture stages are too large for the link ({MAX_STAGES_CHARS:,} characters):"
            " save the recipe and share ?recipe=NAME"
        )
    for k in STATE_KEYS:
        v = session.get(k)
        if v in (None, ""):
            if k in query_params:
                del query_params[k]
        elif query_params.get(k) != str(v):
            query_params[k] = str(v)
