"""Bounded loading of recipe YAML: a hostile recipe file costs at most a few MB and a fraction of a second.

A recipe is a small hand-written document, so everything beyond that is refused with a one-line
:class:`RecipeError` before it can cost memory or time:

- the text is capped at :data:`MAX_RECIPE_BYTES` before anything is parsed (a file is never read past it);
- anchors and aliases (``&a``/``*a``) are refused: a recipe never needs them, and expanding nested aliases is
  the "billion laughs" attack (a 400-byte file that grows to gigabytes);
- the document is built from the parser's event stream by a loop, not by PyYAML's recursive composer, with
  at most :data:`MAX_NODES` nodes nested at most :data:`MAX_DEPTH` deep;
- explicit tags other than the plain scalar ones (``!!binary``, ``!!set``, ``!!python/...``, merge keys) are
  refused;
- free-text fields have length limits (:func:`check_limits`): a 100 MB description would otherwise be copied
  into every export's ``manifest.json``.

The result is the plain data plus the YAML line of every path, for messages like ``recipe line 4, rules[1].min``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.errors import RecipeError

#: largest recipe text read or parsed (UTF-8 bytes); real recipes are a few KB
MAX_RECIPE_BYTES = 1_000_000
#: most YAML nodes (scalars, lists, mappings) in one recipe
MAX_NODES = 100_000
#: deepest list/mapping nesting (a recipe needs 4: top level, rules, a rule, its value list)
MAX_DEPTH = 32
#: most rules in one recipe
MAX_RULES = 1_000
#: longest value, in characters, of these fields; any other string is capped at MAX_TEXT_CHARS
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 20_000
MAX_LABEL_CHARS = 500
MAX_TEXT_CHARS = 1_000

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("null", "bool", "int", "float", "str", "timestamp")}
_COLLECTION_TAGS = {None, "!", _TAG + "map", _TAG + "seq"}


def _mb(n: int) -> str:
    return f"{n / 1e6:g} MB"


def read_recipe_text(path: Path) -> str:
    """The text of the recipe file ``path``, refusing files over :data:`MAX_RECIPE_BYTES` without reading them
    whole (a FIFO or ``/dev/zero`` too: at most one byte past the limit is ever read)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_RECIPE_BYTES + 1)
    except OSError as e:
        raise RecipeError(f"cannot read recipe {path}: {e.strerror or e}") from e
    if len(raw) > MAX_RECIPE_BYTES:
        raise RecipeError(f"recipe {path} is larger than {_mb(MAX_RECIPE_BYTES)}, the limit for a recipe")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RecipeError(f"recipe {path} is not UTF-8 text") from e


def check_text_size(text: str) -> None:
    """RecipeError when ``text`` is over :data:`MAX_RECIPE_BYTES` in UTF-8 (checked before any parsing)."""
    if len(text) > MAX_RECIPE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_RECIPE_BYTES:
        raise RecipeError(f"recipe text is larger than {_mb(MAX_RECIPE_BYTES)}, the limit for a recipe")


def _loader(text: str) -> Any:
    import yaml

    return (getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader)(text)


def parse_recipe_yaml(text: str) -> tuple[Any, dict[tuple, int]]:
    """``(data, marks)`` from recipe YAML text: plain dicts, lists and scalars, and ``marks`` mapping each path
    (``("rules", 0, "min")``) to its 1-based line. RecipeError (one line) on invalid or hostile YAML."""
    import yaml

    check_text_size(text)
    loader = _loader(text)
    try:
        return _build(loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise RecipeError(f"recipe is not valid YAML ({where}): {e.problem or e.context}") from e
    except yaml.YAMLError as e:
        first = (str(e).splitlines() or ["unknown error"])[0]
        raise RecipeError(f"recipe is not valid YAML: {first}") from e
    finally:
        loader.dispose()


class _Frame:
    """An open mapping or list while the event stream is walked."""

    __slots__ = ("key", "key_line", "path", "value")

    def __init__(self, value: dict | list, path: tuple):
        self.value = value
        self.path = path
        self.key: Any = None
        self.key_line = 0


def _shown(tag: str) -> str:
    return repr((tag.replace(_TAG, "!!", 1) if tag.startswith(_TAG) else tag)[:60])


def _scalar(loader: Any, ev: Any, line: int) -> Any:
    import yaml

    tag = ev.tag
    if tag is None or tag == "!":
        tag = loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)
    if tag not in _SCALAR_TAGS:
        what = "merge keys (<<)" if tag == _TAG + "merge" else f"the YAML tag {_shown(tag)}"
        raise RecipeError(f"recipe line {line}: {what} cannot be used in a recipe")
    if tag == _TAG + "str":
        return ev.value
    # the constructor's function, not construct_object: that one keeps every node it has seen
    node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
    return loader.yaml_constructors[tag](loader, node)


def _build(loader: Any) -> tuple[Any, dict[tuple, int]]:
    """Walk the event stream once (no recursion), refusing aliases, anchors, odd tags, depth and node counts
    over the limits, keys that are not plain scalars and duplicate keys."""
    import yaml

    marks: dict[tuple, int] = {}
    stack: list[_Frame] = []
    root: Any = None
    nodes = 0
    loader.get_event()  # StreamStart
    if loader.check_event(yaml.StreamEndEvent):
        return None, marks
    loader.get_event()  # DocumentStart
    while True:
        ev = loader.get_event()
        line = ev.start_mark.line + 1
        if isinstance(ev, yaml.DocumentEndEvent):
            break
        if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None) is not None:
            raise RecipeError(f"recipe line {line}: YAML anchors and aliases (& and *) cannot be used in a recipe")
        if isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            value = stack.pop().value
        else:
            nodes += 1
            if nodes > MAX_NODES:
                raise RecipeError(f"recipe line {line}: more than {MAX_NODES:,} YAML values; a recipe is far smaller")
            top = stack[-1] if stack else None
            if top is not None and isinstance(top.value, dict) and top.key_line == 0:  # a mapping key
                if not isinstance(ev, yaml.ScalarEvent):
                    raise RecipeError(f"recipe line {line}: a key must be a plain name")
                k = _scalar(loader, ev, line)
                if k in top.value:
                    raise RecipeError(f"recipe line {line}: duplicate key {str(k)[:80]!r}")
                top.key, top.key_line = k, line
                continue
            path = () if top is None else (*top.path, top.key if isinstance(top.value, dict) else len(top.value))
            marks[path] = line
            if not isinstance(ev, yaml.ScalarEvent):
                if ev.tag not in _COLLECTION_TAGS:
                    raise RecipeError(f"recipe line {line}: the YAML tag {_shown(ev.tag)} cannot be used in a recipe")
                if len(stack) >= MAX_DEPTH:
                    raise RecipeError(f"recipe line {line}: nested deeper than {MAX_DEPTH} levels")
                stack.append(_Frame({} if isinstance(ev, yaml.MappingStartEvent) else [], path))
                continue
            value = _scalar(loader, ev, line)
        if not stack:
            root = value
        elif isinstance(stack[-1].value, dict):
            top = stack[-1]
            top.value[top.key] = value
            marks[(*top.path, top.key)] = top.key_line
            top.key, top.key_line = None, 0
        else:
            stack[-1].value.append(value)
    if not loader.check_event(yaml.StreamEndEvent):
        ev = loader.peek_event()
        raise RecipeError(f"recipe line {ev.start_mark.line + 1}: a recipe is a single YAML document")
    return root, marks


def _where(path: tuple, marks: dict[tuple, int]) -> str:
    name = "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else str(k)) for i, k in enumerate(path))
    p = path
    while p and p not in marks:
        p = p[:-1]
    return f"recipe line {marks[p]}, {name}" if p in marks else f"recipe, {name}"


def _text_limit(path: tuple) -> int:
    if path == ("name",):
        return MAX_NAME_CHARS
    if path == ("description",):
        return MAX_DESCRIPTION_CHARS
    if len(path) == 3 and path[0] == "rules" and path[2] == "label":
        return MAX_LABEL_CHARS
    if len(path) == 3 and path[0] == "rules" and path[2] == "expr":
        from app.recipes.expr import MAX_EXPR_CHARS

        return MAX_EXPR_CHARS
    return MAX_TEXT_CHARS


def check_limits(data: Any, marks: dict[tuple, int] | None = None) -> None:
    """RecipeError naming the line and field when loaded recipe data is over a size limit: a string longer than
    its field allows (name, description, label, expr, anything else), more than :data:`MAX_RULES` rules, or (for
    data handed in as a dict) nesting deeper than :data:`MAX_DEPTH` or more than :data:`MAX_NODES` values."""
    marks = marks or {}
    if isinstance(data, dict) and isinstance(data.get("rules"), list) and len(data["rules"]) > MAX_RULES:
        raise RecipeError(f"{_where(('rules',), marks)}: {len(data['rules']):,} rules; the limit is {MAX_RULES:,}")
    todo: list[tuple[tuple, Any]] = [((), data)]
    seen = 0
    while todo:
        path, v = todo.pop()
        seen += 1
        if seen > MAX_NODES:
            raise RecipeError(f"recipe has more than {MAX_NODES:,} values; a recipe is far smaller")
        if len(path) > MAX_DEPTH:
            raise RecipeError(f"{_where(path, marks)}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(v, str):
            limit = _text_limit(path)
            if len(v) > limit:
                raise RecipeError(f"{_where(path, marks)}: {len(v):,} characters, over the limit of {limit:,}")
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, str) and len(k) > MAX_TEXT_CHARS:
                    raise RecipeError(f"{_where(path, marks) if path else 'recipe'}: a key of {len(k):,} characters")
                todo.append(((*path, k), x))
        elif isinstance(v, list | tuple):
            todo.extend(((*path, i), x) for i, x in enumerate(v))
