"""Property tests of recipes: monotone rules, YAML round trips, balancing caps, the expression grammar."""

from __future__ import annotations

import math

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.errors import RecipeError
from app.recipes import Balance, Dedup, Recipe, Rule, Sample, compile_recipe, load_recipe, parse_expr, select_ids_sql
from tests.test_recipe_core import make_ws

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_ws(tmp_path_factory.mktemp("props") / "ws", n=600)
    yield w
    w.close()


def kept(ws, recipe) -> set[str]:
    sql, p = select_ids_sql(compile_recipe(ws.con, recipe))
    return {r[0] for r in ws.con.execute(sql, p).fetchall()}


# ---------------------------------------------------------------------- tightening never adds
rule_strategy = st.one_of(
    st.builds(
        lambda a, b: {"signal": "size_words", "min": min(a, b), "max": max(a, b)},
        st.integers(0, 40),
        st.integers(0, 40),
    ),
    st.builds(lambda q: {"signal": "quality_score", "min_quantile": q}, st.floats(0, 1)),
    st.builds(lambda q: {"signal": "quality_score", "max_quantile": q}, st.floats(0, 1)),
    st.builds(lambda v: {"signal": "lang_code", "in": v}, st.lists(st.sampled_from(["en", "de", "fr"]), unique=True)),
)


def tighten(rule: dict, amount: float) -> dict:
    r = dict(rule)
    if "min" in r:
        r["min"] = min(r["min"] + int(amount * 10), r["max"])
    elif "min_quantile" in r:
        r["min_quantile"] = min(1.0, r["min_quantile"] + amount)
    elif "max_quantile" in r:
        r["max_quantile"] = max(0.0, r["max_quantile"] - amount)
    elif "in" in r:
        r["in"] = r["in"][: max(0, len(r["in"]) - 1)]
    return r


@SETTINGS
@given(
    rules=st.lists(rule_strategy, min_size=1, max_size=4),
    which=st.integers(0, 3),
    amount=st.floats(0, 1),
    dedup=st.booleans(),
)
def test_tightening_a_rule_never_adds_a_document(ws, rules, which, amount, dedup):
    which %= len(rules)
    base = {"version": 1, "rules": rules, **({"dedup": {"exact": True}} if dedup else {})}
    tight = {**base, "rules": [tighten(r, amount) if i == which else r for i, r in enumerate(rules)]}
    assert kept(ws, tight) <= kept(ws, base)


# ---------------------------------------------------------------------- YAML round trip
names = st.sampled_from(["size_words", "quality_score", "lang_code", "source", "gopher_word_count"])
num = st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
values = st.lists(st.one_of(st.text(min_size=1, max_size=8), st.integers(-100, 100)), min_size=1, max_size=4)


@st.composite
def rules(draw):
    kind = draw(st.sampled_from(["range", "quantile", "in", "not_in", "expr"]))
    label = draw(st.none() | st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and s))
    if kind == "range":
        a, b = sorted([draw(num), draw(num)])
        lo, hi = draw(st.sampled_from([(a, None), (None, b), (a, b)]))
        return Rule(signal=draw(names), min=lo, max=hi, label=label)
    if kind == "quantile":
        a, b = sorted([draw(st.floats(0, 1)), draw(st.floats(0, 1))])
        return Rule(signal=draw(names), min_quantile=a, max_quantile=draw(st.sampled_from([None, b])), label=label)
    if kind in ("in", "not_in"):
        vals = draw(values)
        return Rule(
            signal=draw(names),
            in_=vals if kind == "in" else None,
            not_in=vals if kind == "not_in" else None,
            keep_null=draw(st.booleans()),
            label=label,
        )
    return Rule(
        expr=draw(st.sampled_from(["a > 1 and b < 2", "not (x in ('a', 'b'))", "y between 1 and 2"])), label=label
    )


recipes = st.builds(
    Recipe,
    rules=st.lists(rules(), max_size=5),
    dedup=st.builds(Dedup, st.booleans(), st.booleans(), st.booleans()),
    balance=st.lists(st.builds(Balance, names, st.integers(1, 10**6), st.integers(0, 99)), max_size=2),
    sample=st.none()
    | st.builds(Sample, n=st.integers(0, 10**6), seed=st.integers(0, 99))
    | st.builds(Sample, fraction=st.floats(0, 1), weight=st.none() | names, seed=st.integers(0, 99)),
    output_columns=st.none() | st.lists(names, min_size=1, max_size=3, unique=True).map(lambda c: ["id", *c]),
    name=st.none() | st.text(alphabet="abcdef-_ ", min_size=1, max_size=10).filter(lambda s: s.strip() == s),
)


@settings(max_examples=100, deadline=None)
@given(recipes)
def test_yaml_round_trip(r):
    again = load_recipe(r.to_yaml())
    assert again == r
    assert load_recipe(again.to_dict()) == r


# ---------------------------------------------------------------------- balancing
@settings(max_examples=25, deadline=None)
@given(counts=st.lists(st.integers(1, 3000), min_size=1, max_size=5), cap=st.integers(1, 400), seed=st.integers(0, 50))
def test_balancing_keeps_at_most_cap_in_expectation(counts, cap, seed):
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE corpus AS SELECT 'v' || g AS cat, 'id-' || g || '-' || i AS id, 's' AS source, 'x' AS text "
        "FROM (SELECT unnest(range($k)) AS g, unnest($counts) AS c), range(c) t(i)",
        {"k": len(counts), "counts": counts},
    )
    r = Recipe(balance=[Balance("cat", cap, seed)])
    sql, p = select_ids_sql(compile_recipe(con, r), columns=["id"])
    got = dict(con.execute(f"SELECT split_part(id, '-', 2), count(*) FROM ({sql}) GROUP BY ALL", p).fetchall())
    for g, c in enumerate(counts):
        k = got.get(str(g), 0)
        expect = min(c, cap)
        sd = math.sqrt(cap * max(0.0, 1 - cap / c)) if c > cap else 0.0
        assert k <= expect + 5 * sd + 1  # never more than the cap beyond binomial noise
        if c <= cap:
            assert k == c  # values under the cap are kept whole


# ---------------------------------------------------------------------- expression grammar
atoms = st.sampled_from(["a", "b", "c", "1", "2.5", "-3", "null", "'x'"])


@st.composite
def exprs(draw, depth=0):
    if depth > 2 or draw(st.booleans()):
        col = draw(st.sampled_from(["a", "b", "c"]))
        form = draw(st.integers(0, 4))
        if form == 0:
            return f"{col} {draw(st.sampled_from(['<', '<=', '>', '>=', '=', '!=']))} {draw(st.integers(-3, 3))}"
        if form == 1:
            return f"{col} is {draw(st.sampled_from(['', 'not ']))}null"
        if form == 2:
            return f"{col} {draw(st.sampled_from(['', 'not ']))}in ({', '.join(map(str, draw(st.lists(st.integers(-3, 3), min_size=1, max_size=3))))})"
        if form == 3:
            return f"{col} between {draw(st.integers(-3, 0))} and {draw(st.integers(0, 3))}"
        return f"{col} * 2 - 1 > {draw(st.integers(-5, 5))}"
    op = draw(st.sampled_from(["and", "or"]))
    left, right = draw(exprs(depth + 1)), draw(exprs(depth + 1))
    neg = draw(st.sampled_from(["", "not "]))
    return f"{neg}({left} {op} {right})"


@settings(max_examples=80, deadline=None)
@given(e=exprs(), rows=st.lists(st.tuples(*[st.none() | st.integers(-3, 3)] * 3), min_size=1, max_size=6))
def test_expression_sql_matches_python_semantics(e, rows):
    ex = parse_expr(e)
    params: dict = {}
    sql = ex.to_sql(params)
    cols = {k: [r[i] for r in rows] for i, k in enumerate("abc")}
    got = _CON.execute(
        f"SELECT {sql} FROM (SELECT unnest($a::INTEGER[]) AS a, unnest($b::INTEGER[]) AS b,"
        " unnest($c::INTEGER[]) AS c, unnest(range(len($a))) AS i) ORDER BY i",
        {**params, **cols},
    ).fetchall()
    want = [ex.evaluate({"a": a, "b": b, "c": c}) for a, b, c in rows]
    assert [g[0] for g in got] == want, e


_CON = duckdb.connect()


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_expression_parser_never_leaks_text(text):
    """Any input either fails with RecipeError or compiles to SQL made of quoted columns and parameters."""
    try:
        ex = parse_expr(text)
    except RecipeError:
        return
    params: dict = {}
    sql = ex.to_sql(params)
    assume(ex.columns)
    for c in ex.columns:
        assert f'"{c}"' in sql
    for v in params.values():
        if isinstance(v, str) and len(v) > 1:
            assert f"'{v}'" not in sql
    assert ";" not in sql and "--" not in sql


@st.composite
def polygons(draw):
    """A random polygon (self-intersecting ones included: the even-odd rule covers them) on a small grid, so
    that points fall on vertices and edges too."""
    n = draw(st.integers(3, 12))
    coord = st.integers(-4, 4).map(lambda v: v / 2)
    return [(draw(coord), draw(coord)) for _ in range(n)]


@settings(max_examples=120, deadline=None)
@given(
    poly=polygons(),
    pts=st.lists(
        st.tuples(st.none() | st.integers(-5, 5).map(lambda v: v / 2), st.integers(-5, 5).map(lambda v: v / 2)),
        min_size=1,
        max_size=12,
    ),
)
def test_polygon_sql_matches_python_and_geometry(poly, pts):
    """``polygon(...)`` compiled to SQL answers exactly as the Python evaluator on every point (vertices, edges,
    NULLs), and off the boundary both agree with an exact rational even-odd test."""
    text = "polygon(a, b, " + ", ".join(f"{x}, {y}" for x, y in poly) + ")"
    ex = parse_expr(text)
    params: dict = {}
    sql = ex.to_sql(params)
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    got = _CON.execute(
        f"SELECT {sql} FROM (SELECT unnest($a::DOUBLE[]) AS a, unnest($b::DOUBLE[]) AS b,"
        " unnest(range(len($a))) AS i) ORDER BY i",
        {**params, "a": xs, "b": ys},
    ).fetchall()
    want = [ex.evaluate({"a": x, "b": y}) for x, y in pts]
    assert [g[0] for g in got] == want
    for (x, y), w in zip(pts, want):
        if x is None:
            assert w is None
            continue
        inside = _inside_exact(poly, x, y)
        if inside is not None:  # off the boundary every even-odd convention agrees
            assert w == inside


def _inside_exact(poly, x, y):
    """Even-odd test in exact rational arithmetic; None for a point on the polygon's boundary."""
    from fractions import Fraction as F

    x, y = F(x), F(y)
    crossings = 0
    for i in range(len(poly)):
        (x1, y1), (x2, y2) = (F(v) for v in poly[i]), (F(v) for v in poly[i - 1])
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if cross == 0 and min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2):
            return None
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            crossings += 1
    return crossings % 2 == 1


def test_polygon_inside_and_outside_a_square():
    sq = parse_expr("polygon(map_x, map_y, 0, 0, 2, 0, 2, 2, 0, 2)")
    assert sq.columns == ["map_x", "map_y"]
    assert sq.evaluate({"map_x": 1, "map_y": 1}) is True
    assert sq.evaluate({"map_x": 3, "map_y": 1}) is False
    assert sq.evaluate({"map_x": 1, "map_y": None}) is None
    assert parse_expr("not polygon(map_x, map_y, 0, 0, 2, 0, 2, 2, 0, 2)").evaluate({"map_x": 3, "map_y": 1}) is True


@pytest.mark.parametrize(
    "text",
    [
        "polygon(map_x, map_y, 0, 0, 1, 1)",  # two vertices
        "polygon(map_x, map_y, 0, 0, 1, 1, 2)",  # odd count
        "polygon(map_x, 1, 0, 0, 1, 0, 1, 1)",  # a number where a column goes
        "polygon(map_x, map_y, 0, 0, 1, 0, size_words, 1)",  # a column where a number goes
        "polygon(map_x, map_y, 0, 0, 1, 0, 1, 1",  # unclosed
        "lower(map_x)",
    ],
)
def test_polygon_malformed_is_one_line(text):
    with pytest.raises(RecipeError) as e:
        parse_expr(text)
    assert "\n" not in str(e.value)
