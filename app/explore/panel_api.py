"""The Thresholds panel's own HTTP routes: a threshold change is one ``fetch`` to the dashboard server and one
redraw in the browser, not a Streamlit rerun.

A Streamlit rerun re-sends and re-renders every element of the fragment it reruns; on a small machine that alone
costs more than the 300 ms a threshold change may take. The panel (``app/ui/live/thresholds.js``) therefore posts
its rules here and draws the answer itself. The routes are Starlette's, not Streamlit's; they are mounted on the dashboard's ``st.App`` (``app/ui/server.py``)
and answer only for sessions that registered a token (:func:`register`): a request names a token, never a
workspace path. Rules arrive as plain JSON, are validated by :func:`rules_from_json` and are counted by the same
``app.recipes.summarize`` the CLI and the report use. The ``compare`` and ``plan`` routes (recipe B's comparison
and the mixture plan, :mod:`app.explore.panel_compare`) answer from what the page registered for the token.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from app.errors import RecipeError, WinnowError
from app.explore import recipe_bridge
from app.explore.panel_errors import ApiError
from app.recipes import rules as rules_model
from app.recipes.rules import RuleKind

log = logging.getLogger(__name__)

#: URL prefix of the routes (kept apart from Streamlit's own ``/_stcore``)
PREFIX = "/winnow/api"
_MAX_TOKENS = 512
_MAX_RULES = 64
_MAX_BODY = 256_000

_lock = threading.Lock()
_tokens: OrderedDict[str, Any] = OrderedDict()
#: per token: the page's recipe ``annotate:`` section and the uids of the rules it names (:func:`set_annotate`)
_annotate: dict[str, tuple[dict[str, Any], list[str | None]]] = {}


def register(ws: Any, token: str | None = None) -> str:
    """A token under which the panel may count on ``ws`` (reuse ``token`` when it is still registered)."""
    with _lock:
        if token and token in _tokens and _tokens[token] is ws:
            _tokens.move_to_end(token)
            return token
        token = secrets.token_urlsafe(18)
        _tokens[token] = ws
        while len(_tokens) > _MAX_TOKENS:  # oldest sessions first; their panels re-register on the next rerun
            _tokens.popitem(last=False)
        return token


def set_annotate(token: str, section: dict[str, Any] | None, uids: list[str | None] | None) -> tuple | None:
    """Remember the page's ``annotate:`` section (and the uids of the rules it names) for ``token``'s requests, so
    the panel counts annotated rules as the export applies them: kept and tagged, not removed. Returns what
    :func:`summary_payload`'s ``annotate`` takes (None: nothing annotated)."""
    with _lock:
        for t in [t for t in _annotate if t not in _tokens]:  # sessions whose tokens were dropped
            del _annotate[t]
        if not section or not uids:
            _annotate.pop(token, None)
            return None
        _annotate[token] = (dict(section), list(uids))
        return _annotate[token]


def alive() -> set[str]:
    """The tokens still registered."""
    with _lock:
        return set(_tokens)


def workspace_for(token: Any) -> Any:
    with _lock:
        ws = _tokens.get(token) if isinstance(token, str) else None
    if ws is None:
        raise ApiError("this view has expired: reload the page")
    return ws


def rule_from_json(d: Any) -> RuleKind:
    """One rule from the panel's JSON (:meth:`app.recipes.rules.RuleKind.to_json`'s form)."""
    try:
        return rules_model.from_json(d)
    except RecipeError as e:
        raise ApiError(str(e)) from e


def rules_from_json(items: Any) -> list[RuleKind]:
    if not isinstance(items, list) or len(items) > _MAX_RULES:
        raise ApiError("malformed rule list")
    return [rule_from_json(d) for d in items]


def from_panel(raw: Any) -> tuple[list[RuleKind], str | None] | None:
    """The rules (and the rule whose edge documents are shown) the panel handed back to Streamlit as a
    trigger value (JSON ``{"rules": [...], "edge_uid": ...}``); None when ``raw`` is not that."""
    import json

    try:
        d = json.loads(raw)
        rules = rules_from_json(d["rules"])
    except (TypeError, ValueError, KeyError, RecursionError, WinnowError):
        return None
    edge = d.get("edge_uid")
    return rules, edge if isinstance(edge, str) else None


def rule_to_json(r: RuleKind) -> dict[str, Any]:
    return r.to_json()


def usable(rules: list[RuleKind]) -> list[RuleKind]:
    """The rules that count (a categorical rule still without a column is being built)."""
    return [r for r in rules if not (r.kind in ("in", "not_in") and not r.col)]


def summary_payload(con: Any, rules: list[RuleKind], *, annotate: tuple | None = None) -> dict[str, Any]:
    """What the panel draws after a change: ``app.recipes.summarize`` plus each rule's resolved cut.

    ``annotate`` (:func:`set_annotate`'s): the rules an ``annotate:`` section names tag their documents instead of
    removing them, so the kept counts are the export's; their labels say how many kept documents they tag.

    ``cuts[i]`` belongs to ``rules[i]`` (dashboard order): ``{"min", "max"}`` in the column's units (a quantile
    rule's bounds resolved to values), so the browser can colour the histogram bins on either side."""
    t0 = time.perf_counter()
    from app.explore.annotate_refs import for_rules
    from app.recipes.live_drag import background

    rules = usable(rules)
    # the page's own first counts too: from 1M documents they start building the drag indexes of the single-bound
    # cuts beside the page (app.recipes.live_drag.PREBUILD_MIN), so that a first move finds one ready
    with background():
        s = recipe_bridge.summarize(con, rules, annotate=for_rules(rules, *annotate) if annotate else None)
    resolved = s["resolved"]["rules"]
    idx = recipe_bridge.check_index(rules)
    cuts, texts = [], []
    for i, r in enumerate(rules):
        j = idx.get(i)
        res = resolved[j] if j is not None and j < len(resolved) else {}
        cuts.append({"min": res.get("min"), "max": res.get("max")})
        got = s["rules"][j] if j is not None and j < len(s["rules"]) else None
        text = got["label"] if got else r.describe()
        if got and got.get("annotate"):
            text += f" (tags {got['tagged']:,} kept documents, removes none)"
        texts.append(text)
    keep = [
        "total_docs",
        "kept_docs",
        "removed_docs",
        "kept_frac",
        "total_tokens",
        "kept_tokens",
        "kept_tokens_frac",
        "tokens_estimated",
        "by_source",
        "by_lang",
        "rules",
        "overlap",
        "elapsed_ms",
    ]
    out = {k: s[k] for k in keep}
    out["cuts"] = cuts
    out["texts"] = texts  # each rule's label as the recipe words it (the panel shows these, never its own)
    out["rule_uids"] = [r.uid for r in rules]
    out["server_ms"] = round(1000 * (time.perf_counter() - t0), 1)
    return out


def edge_payload(con: Any, rules: list[RuleKind], uid: str, *, n: int = 3) -> dict[str, Any]:
    """Documents just kept / just removed at the cut of the rule ``uid`` (texts are escaped by the browser)."""
    rules = usable(rules)
    uids = [r.uid for r in rules]
    if uid not in uids:
        raise ApiError("no such rule")
    b = recipe_bridge.edge_docs(con, rules, uids.index(uid), n=n)
    return {
        "uid": uid,
        "rule": b["rule"],
        "bound": b["bound"],
        "above": [{**d, "value": _plain(d["value"])} for d in b["above"]],
        "below": [{**d, "value": _plain(d["value"])} for d in b["below"]],
    }


def _clean(v: Any) -> Any:
    """JSON-safe: non-finite floats become None (JSON has no NaN), containers recursively."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    return str(v)


def handle(kind: str, body: Any) -> dict[str, Any]:
    """Answer one panel request (``kind`` ``summary``, ``edge``, ``compare`` or ``plan``); raises :class:`WinnowError` with a message
    for the panel to show."""
    if not isinstance(body, dict):
        raise ApiError("malformed request")
    from app.recipes.live_drag import background

    with background():  # a first move's drag index is built beside the requests, not in one of them
        return _handle(kind, body)


def _handle(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    ws = workspace_for(body.get("token"))
    rules = rules_from_json(body.get("rules"))
    cur = ws.cursor()
    try:
        if kind == "summary":
            with _lock:
                ann = _annotate.get(body.get("token"))
            return summary_payload(cur, rules, annotate=ann)
        if kind == "edge":
            return edge_payload(cur, rules, str(body.get("uid") or ""))
        if kind in ("compare", "plan"):  # recipe B and the mixture plan (app.explore.panel_compare)
            from app.explore import panel_compare

            ctx = panel_compare.context(body.get("token"))
            if ctx is None:
                return {"compare": None, "mix": None}
            fn = panel_compare.compare_payload if kind == "compare" else panel_compare.plan_payload
            return fn(cur, usable(rules), ctx, shares=body.get("shares"), shares_by=body.get("shares_by"))
        raise ApiError(f"unknown request {kind!r}")
    finally:
        cur.close()


def routes() -> list[Any]:
    """Starlette routes for ``st.App(..., routes=routes())``.

    A body is read as a stream and dropped as soon as it passes ``_MAX_BODY`` (a declared Content-Length over it
    is refused before anything is read); malformed or deeply nested JSON is a 400 with a one-line message."""
    import json

    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    too_large = f"request too large (the limit is {_MAX_BODY:,} bytes)"

    async def read_body(request) -> bytes | JSONResponse:  # type: ignore[no-untyped-def]
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return JSONResponse({"error": "malformed Content-Length"}, status_code=400)
            if int(declared) > _MAX_BODY:
                return JSONResponse({"error": too_large}, status_code=413)
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > _MAX_BODY:  # stop reading here: the rest never reaches memory
                return JSONResponse({"error": too_large}, status_code=413)
        return bytes(raw)

    def endpoint(kind: str):
        async def ep(request):  # type: ignore[no-untyped-def]
            raw = await read_body(request)
            if isinstance(raw, JSONResponse):
                return raw
            try:
                body = json.loads(raw or b"null")
            except RecursionError:  # e.g. 100,000 "[": the C parser gives up at the recursion limit
                return JSONResponse({"error": "malformed JSON: nested too deeply"}, status_code=400)
            except ValueError:
                return JSONResponse({"error": "malformed JSON"}, status_code=400)
            try:
                # DuckDB work off the event loop: the websocket of every session shares it
                return JSONResponse(_clean(await run_in_threadpool(handle, kind, body)))
            except WinnowError as e:
                return JSONResponse({"error": str(e)}, status_code=400)
            except Exception as e:  # one line for the panel; the server log has the rest
                log.exception("thresholds panel request failed")
                return JSONResponse({"error": f"{type(e).__name__}: {e}"[:300]}, status_code=500)

        return ep

    return [Route(f"{PREFIX}/{k}", endpoint(k), methods=["POST"]) for k in ("summary", "edge", "compare", "plan")]
