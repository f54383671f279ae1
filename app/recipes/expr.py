"""A restricted boolean expression language for recipe rules, compiled to SQL by a whitelist grammar.

Grammar (keywords case-insensitive)::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := sum [ op sum | "is" ["not"] "null" | ["not"] "in" "(" lit ("," lit)* ")"
                   | ["not"] "between" sum "and" sum ]          op: < <= > >= = == != <>
    sum     := prod (("+" | "-") prod)*
    prod    := unary (("*" | "/" | "%") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | STRING | true | false | null | COLUMN | "(" expr ")" | polygon
    polygon := "polygon" "(" COLUMN "," COLUMN ("," NUMBER "," NUMBER){3,} ")"

Columns become quoted identifiers (:func:`app.sql.qi`) and literals become named parameters, so no
input text ever reaches SQL. ``polygon(x, y, x1, y1, x2, y2, ...)`` is the one function: true when the point
``(x, y)`` lies inside the polygon with those vertices (even-odd rule, the ray-casting test; NULL when ``x``
or ``y`` is NULL), which is how a lasso drawn on the map becomes a rule. Other function calls, ``;``,
comments, subqueries and anything else outside the grammar are rejected with a one-line :class:`RecipeError`.

Size is bounded so that no accepted expression can exhaust the stack: at most :data:`MAX_EXPR_CHARS` characters
and :data:`MAX_DEPTH` levels of nesting (parentheses, ``not``, unary minus and operator chains all count). The
parser refuses deeper input before it recurses further, chains of ``and``/``or`` are built as balanced trees
(both are associative in SQL's three-valued logic, so ``a and b and c ...`` of any length stays shallow), and SQL
generation and Python evaluation recurse only as deep as the tree, which is checked once after parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.errors import RecipeError
from app.sql import qi

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
      | (?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op><=|>=|==|!=|<>|[<>=+\-*/%(),])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false", "between"}
#: longest expression text, in characters
MAX_EXPR_CHARS = 4000
#: deepest nesting of an expression (the parser's and the syntax tree's); real rules need a handful
MAX_DEPTH = 50
_CMP = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "==": "=", "!=": "<>", "<>": "<>"}


def tokenize(text: str) -> list[tuple[str, Any]]:
    """``[(kind, value)]`` with kinds num, str, name, kw, op; raises on any character outside the grammar."""
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].lstrip()[:1]
            raise RecipeError(f"expression: unexpected character {bad!r} at position {pos + 1}")
        pos = m.end()
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "num":
            out.append(("num", float(val) if any(c in val for c in ".eE") else int(val)))
        elif kind == "str":
            body = val[1:-1]
            body = body.replace("''", "'") if val[0] == "'" else body
            out.append(("str", re.sub(r"\\(.)", r"\1", body)))
        elif kind == "name" and val.lower() in _KEYWORDS:
            out.append(("kw", val.lower()))
        else:
            out.append((kind, val))
    return out


@dataclass
class Expr:
    """A parsed expression: the AST and the columns it reads."""

    ast: Any
    columns: list[str] = field(default_factory=list)
    text: str = ""

    def __post_init__(self) -> None:
        # to_sql and evaluate recurse once per level: no Expr, however built, is deeper than MAX_DEPTH
        if tree_depth(self.ast) > MAX_DEPTH:  # e.g. a long chain of + or -, which cannot be rebalanced
            raise RecipeError(f"expression nested deeper than {MAX_DEPTH} levels")

    def to_sql(self, params: dict[str, Any], *, prefix: str = "e") -> str:
        """SQL text using ``qi()`` identifiers and ``$name`` parameters added to ``params``."""
        return _emit(self.ast, params, prefix)

    def evaluate(self, row: dict[str, Any]) -> Any:
        """Evaluate on one row of Python values with SQL three-valued logic (None = NULL)."""
        return _eval(self.ast, row)


class _Parser:
    def __init__(self, toks: list[tuple[str, Any]]):
        self.toks = toks
        self.i = 0
        self.columns: list[str] = []
        self.depth = 0

    def enter(self) -> None:
        """One level deeper (a parenthesis, ``not`` or unary minus): refused past MAX_DEPTH, before recursing."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RecipeError(f"expression nested deeper than {MAX_DEPTH} levels")

    def peek(self, k: int = 0) -> tuple[str, Any] | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> tuple[str, Any]:
        t = self.peek()
        if t is None:
            raise RecipeError("expression ends too early")
        self.i += 1
        return t

    def accept(self, kind: str, val: Any = None) -> bool:
        t = self.peek()
        if t and t[0] == kind and (val is None or t[1] == val):
            self.i += 1
            return True
        return False

    def expect(self, kind: str, val: Any) -> None:
        if not self.accept(kind, val):
            t = self.peek()
            got = repr(t[1]) if t else "the end"
            raise RecipeError(f"expression: expected {val!r}, got {got}")

    def parse(self) -> Any:
        if not self.toks:
            raise RecipeError("expression is empty")
        node = self.p_or()
        if self.peek() is not None:
            raise RecipeError(f"expression: unexpected {self.peek()[1]!r} after a complete expression")
        return node

    def p_or(self) -> Any:
        terms = [self.p_and()]
        while self.accept("kw", "or"):
            terms.append(self.p_and())
        return _balanced("or", terms)

    def p_and(self) -> Any:
        terms = [self.p_not()]
        while self.accept("kw", "and"):
            terms.append(self.p_not())
        return _balanced("and", terms)

    def p_not(self) -> Any:
        if self.accept("kw", "not"):
            self.enter()
            node = ("not", self.p_not())
            self.depth -= 1
            return node
        return self.p_cmp()

    def p_cmp(self) -> Any:
        left = self.p_sum()
        t = self.peek()
        if t is None:
            return left
        if t[0] == "op" and t[1] in _CMP:
            self.i += 1
            return ("cmp", _CMP[t[1]], left, self.p_sum())
        if t == ("kw", "is"):
            self.i += 1
            neg = self.accept("kw", "not")
            self.expect("kw", "null")
            return ("isnull", neg, left)
        neg = False
        if t == ("kw", "not") and self.peek(1) in (("kw", "in"), ("kw", "between")):
            self.i += 1
            neg = True
        if self.accept("kw", "in"):
            self.expect("op", "(")
            vals = [self.p_literal()]
            while self.accept("op", ","):
                vals.append(self.p_literal())
            self.expect("op", ")")
            return ("in", neg, left, vals)
        if self.accept("kw", "between"):
            lo = self.p_sum()
            self.expect("kw", "and")
            hi = self.p_sum()
            return ("between", neg, left, lo, hi)
        return left

    def p_literal(self) -> Any:
        t = self.take()
        if t[0] in ("num", "str"):
            return t[1]
        if t == ("op", "-") and self.peek() and self.peek()[0] == "num":
            return -self.take()[1]
        if t[0] == "kw" and t[1] in ("true", "false"):
            return t[1] == "true"
        raise RecipeError(f"expression: 'in (...)' takes only literal values, got {t[1]!r}")

    def p_sum(self) -> Any:
        node = self.p_prod()
        while (t := self.peek()) and t[0] == "op" and t[1] in "+-":
            self.i += 1
            node = ("arith", t[1], node, self.p_prod())
        return node

    def p_prod(self) -> Any:
        node = self.p_unary()
        while (t := self.peek()) and t[0] == "op" and t[1] in "*/%":
            self.i += 1
            node = ("arith", t[1], node, self.p_unary())
        return node

    def p_unary(self) -> Any:
        if self.accept("op", "-"):
            self.enter()
            node = ("neg", self.p_unary())
            self.depth -= 1
            return node
        return self.p_atom()

    def p_atom(self) -> Any:
        t = self.take()
        kind, val = t
        if kind in ("num", "str"):
            return ("lit", val)
        if kind == "kw" and val in ("true", "false"):
            return ("lit", val == "true")
        if kind == "kw" and val == "null":
            return ("lit", None)
        if kind == "name":
            if self.peek() == ("op", "(") and val.lower() == "polygon":
                return self.p_polygon()
            if self.peek() == ("op", "("):
                raise RecipeError(f"expression: function calls are not allowed ({val}(...))")
            self.columns.append(val)
            return ("col", val)
        if t == ("op", "("):
            self.enter()
            node = self.p_or()
            self.expect("op", ")")
            self.depth -= 1
            return node
        raise RecipeError(f"expression: unexpected {val!r}")

    def p_polygon(self) -> Any:
        self.expect("op", "(")
        cols = []
        for _ in range(2):
            t = self.take()
            if t[0] != "name":
                raise RecipeError("expression: polygon(x, y, x1, y1, x2, y2, ...) starts with two columns")
            cols.append(t[1])
            self.expect("op", ",")
        nums: list[float] = []
        while True:
            neg = self.accept("op", "-")
            t = self.take()
            if t[0] != "num":
                raise RecipeError(f"expression: polygon vertices are numbers, got {t[1]!r}")
            nums.append(-float(t[1]) if neg else float(t[1]))
            if not self.accept("op", ","):
                break
        self.expect("op", ")")
        if len(nums) % 2 or len(nums) < 6:
            raise RecipeError("expression: polygon(...) needs at least 3 vertices, each an x and a y")
        if len(nums) > 2 * MAX_POLYGON_VERTICES:
            raise RecipeError(f"expression: polygon(...) takes at most {MAX_POLYGON_VERTICES} vertices")
        self.columns.extend(cols)
        return ("polygon", cols[0], cols[1], list(zip(nums[0::2], nums[1::2])))


#: vertices a ``polygon(...)`` may have (a lasso is simplified to far fewer)
MAX_POLYGON_VERTICES = 256


def polygon_edges(vertices: list[tuple[float, float]]) -> list[tuple[float, float, float, float]]:
    """``(xi, yi, yj, k)`` per polygon edge that is not horizontal: the edge from ``(xi, yi)`` to the previous
    vertex ``(xj, yj)``, with ``k = (xj - xi) / (yj - yi)``. A point ``(x, y)`` crosses it when
    ``(y > yi) != (y > yj)`` and ``x < xi + (y - yi) * k``; it is inside when it crosses an odd number of
    edges. SQL and Python evaluate exactly this, so both agree on every point."""
    out = []
    n = len(vertices)
    for i in range(n):
        (xi, yi), (xj, yj) = vertices[i], vertices[i - 1]
        if yi != yj:
            out.append((xi, yi, yj, (xj - xi) / (yj - yi)))
    return out


def _xor_tree(terms: list[str]) -> str:
    """Balanced ``a <> b`` over boolean terms (shallow nesting however many edges)."""
    if not terms:
        return "false"
    while len(terms) > 1:
        terms = [f"({terms[i]} <> {terms[i + 1]})" if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


def _balanced(op: str, terms: list[Any]) -> Any:
    """``terms`` joined by ``op`` (and/or) as a balanced binary tree: depth log2(n), not n."""
    while len(terms) > 1:
        terms = [(op, terms[i], terms[i + 1]) if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


#: positions of the child nodes in each kind of syntax-tree node
_CHILDREN = {
    "and": (1, 2),
    "or": (1, 2),
    "not": (1,),
    "neg": (1,),
    "cmp": (2, 3),
    "arith": (2, 3),
    "isnull": (2,),
    "in": (2,),
    "between": (2, 3, 4),
}


def tree_depth(ast: Any) -> int:
    """Nesting depth of a syntax tree (a leaf is 1), computed without recursion."""
    deepest = 0
    todo = [(ast, 1)]
    while todo:
        n, d = todo.pop()
        deepest = max(deepest, d)
        todo.extend((n[i], d + 1) for i in _CHILDREN.get(n[0], ()))
    return deepest


def parse_expr(text: str) -> Expr:
    """Parse ``text`` with the whitelist grammar; RecipeError on anything else, including text over
    :data:`MAX_EXPR_CHARS` characters or nested over :data:`MAX_DEPTH` levels."""
    if not isinstance(text, str):
        raise RecipeError("expression must be a string")
    if len(text) > MAX_EXPR_CHARS:
        raise RecipeError(f"expression is longer than {MAX_EXPR_CHARS} characters")
    p = _Parser(tokenize(text))
    ast = p.parse()
    return Expr(ast, list(dict.fromkeys(p.columns)), text)


def _emit(n: Any, params: dict[str, Any], prefix: str) -> str:
    op = n[0]
    if op == "lit":
        if n[1] is None:
            return "NULL"
        key = f"{prefix}{len(params)}"
        while key in params:
            key += "_"
        params[key] = n[1]
        return f"${key}"
    if op == "col":
        return qi(n[1])
    if op in ("and", "or"):
        return f"({_emit(n[1], params, prefix)} {op.upper()} {_emit(n[2], params, prefix)})"
    if op == "not":
        return f"(NOT {_emit(n[1], params, prefix)})"
    if op == "neg":
        return f"(- {_emit(n[1], params, prefix)})"
    if op in ("cmp", "arith"):
        return f"({_emit(n[2], params, prefix)} {n[1]} {_emit(n[3], params, prefix)})"
    if op == "isnull":
        return f"({_emit(n[2], params, prefix)} IS {'NOT ' if n[1] else ''}NULL)"
    if op == "in":
        vals = ", ".join(_emit(("lit", v), params, prefix) for v in n[3])
        return f"({_emit(n[2], params, prefix)} {'NOT ' if n[1] else ''}IN ({vals}))"
    if op == "between":
        a, lo, hi = (_emit(x, params, prefix) for x in n[2:5])
        return f"({a} {'NOT ' if n[1] else ''}BETWEEN {lo} AND {hi})"
    if op == "polygon":
        x, y = qi(n[1]), qi(n[2])
        terms = []
        for xi, yi, yj, k in polygon_edges(n[3]):
            a, b, c, d = (_emit(("lit", v), params, prefix) for v in (xi, yi, yj, k))
            terms.append(f"(({y} > {b}) <> ({y} > {c}) AND {x} < {a} + ({y} - {b}) * {d})")
        # NULL coordinates: NULL (not false), as every other comparison on them
        return f"(CASE WHEN {x} IS NULL OR {y} IS NULL THEN NULL ELSE {_xor_tree(terms)} END)"
    raise RecipeError(f"expression: cannot compile node {op!r}")  # pragma: no cover


def _eval(n: Any, row: dict[str, Any]) -> Any:
    op = n[0]
    if op == "lit":
        return n[1]
    if op == "col":
        return row.get(n[1])
    if op == "and":
        a, b = _eval(n[1], row), _eval(n[2], row)
        if a is False or b is False:
            return False
        return None if a is None or b is None else True
    if op == "or":
        a, b = _eval(n[1], row), _eval(n[2], row)
        if a is True or b is True:
            return True
        return None if a is None or b is None else False
    if op == "not":
        a = _eval(n[1], row)
        return None if a is None else not a
    if op == "neg":
        a = _eval(n[1], row)
        return None if a is None else -a
    if op == "isnull":
        a = _eval(n[2], row)
        return (a is not None) if n[1] else (a is None)
    if op == "cmp":
        a, b = _eval(n[2], row), _eval(n[3], row)
        if a is None or b is None:
            return None
        return {
            "<": a < b,
            "<=": a <= b,
            ">": a > b,
            ">=": a >= b,
            "=": a == b,
            "<>": a != b,
        }[n[1]]
    if op == "arith":
        a, b = _eval(n[2], row), _eval(n[3], row)
        if a is None or b is None:
            return None
        if n[1] in "/%" and b == 0:
            return None
        return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b, "%": lambda: a % b}[
            n[1]
        ]()
    if op == "in":
        a = _eval(n[2], row)
        if a is None:
            return None
        r = a in n[3]
        return (not r) if n[1] else r
    if op == "between":
        a, lo, hi = (_eval(x, row) for x in n[2:5])
        if a is None or lo is None or hi is None:
            return None
        r = lo <= a <= hi
        return (not r) if n[1] else r
    if op == "polygon":
        x, y = row.get(n[1]), row.get(n[2])
        if x is None or y is None:
            return None
        inside = False
        for xi, yi, yj, k in polygon_edges(n[3]):
            if (y > yi) != (y > yj) and x < xi + (y - yi) * k:
                inside = not inside
        return inside
    raise RecipeError(f"expression: cannot evaluate node {op!r}")  # pragma: no cover
