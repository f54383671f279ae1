"""Hostile recipes, expressions and panel requests: each is refused with one line, in bounded memory and time.

The memory caps are real: the CLI runs in a subprocess under ``RLIMIT_AS`` and a timeout, so a parser that
expands YAML aliases or reads a whole oversized file dies there instead of passing."""

from __future__ import annotations

import asyncio
import json
import re
import resource
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.errors import RecipeError
from app.recipes import expr as expr_mod
from app.recipes import load_recipe, parse_expr, yaml_safe
from app.recipes.yaml_safe import parse_recipe_yaml

ROOT = Path(__file__).resolve().parents[1]
MEM_CAP = 1 << 30  # 1 GiB of address space for the CLI under test
TIMEOUT_S = 60


def billion_laughs() -> str:
    """Ten levels of nine aliases each: 9**9 'lol's once expanded, from under 500 bytes."""
    lines = ["version: 1", 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    lines.append("rules: [{signal: size_words, min: 1, label: *l8}]")
    return "\n".join(lines) + "\n"


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEM_CAP, MEM_CAP))


def winnow_cli(*argv: str) -> subprocess.CompletedProcess:
    """``winnow ARGV`` in a subprocess with at most MEM_CAP of memory and TIMEOUT_S seconds."""
    code = "import sys; from app.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_cap_memory,
    )


def assert_refused(proc: subprocess.CompletedProcess, *words: str) -> str:
    """The CLI exited 1 (a user error, not 70, an internal one) with exactly one line naming ``words``."""
    err = proc.stderr.strip()
    assert proc.returncode == 1, (proc.returncode, err[-500:])
    assert err.startswith("winnow: error: ") and "\n" not in err, err[-500:]
    for w in words:
        assert w in err, err
    return err


# ---------------------------------------------------------------------- YAML bombs and size
def test_billion_laughs_is_refused_in_bounded_memory(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text(billion_laughs())
    assert f.stat().st_size < 600
    assert_refused(winnow_cli("recipe", "validate", str(f)), "line 2", "aliases")


def test_an_alias_is_refused_even_when_tiny():
    with pytest.raises(RecipeError, match=r"recipe line 3: YAML anchors and aliases"):
        load_recipe("version: 1\nrules:\n  - &r {signal: size_words, min: 1}\n  - *r\n")


@pytest.mark.parametrize("mb_of_description", [3, pytest.param(100, marks=pytest.mark.slow)])
def test_an_oversized_recipe_file_is_refused_before_parsing(tmp_path, mb_of_description):
    f = tmp_path / "big.yaml"
    with open(f, "w") as fh:
        fh.write('version: 1\ndescription: "')
        for _ in range(mb_of_description):
            fh.write("a" * 1_000_000)
        fh.write('"\nrules: []\n')
    assert_refused(winnow_cli("recipe", "validate", str(f)), "larger than 1 MB")


def test_an_endless_file_is_read_no_further_than_the_limit(tmp_path):
    """/dev/zero has no end: only the limit plus one byte is read, so this stays within the memory cap."""
    assert_refused(winnow_cli("recipe", "validate", "/dev/zero"), "larger than 1 MB")


def test_recipe_text_over_the_limit_is_refused():
    text = "version: 1\n# " + "x" * yaml_safe.MAX_RECIPE_BYTES + "\n"
    with pytest.raises(RecipeError, match="larger than 1 MB"):
        load_recipe(text)
    with pytest.raises(RecipeError, match="larger than 1 MB"):  # multi-byte characters count as bytes
        load_recipe("version: 1\n# " + "é" * (yaml_safe.MAX_RECIPE_BYTES // 2 + 1) + "\n")


@pytest.mark.parametrize(
    "yaml_text, where, limit",
    [
        ("version: 1\nname: " + "n" * 201 + "\n", "recipe line 2, name", 200),
        ("version: 1\ndescription: " + "d" * 20_001 + "\n", "recipe line 2, description", 20_000),
        ("version: 1\nrules:\n  - {signal: x, min: 1, label: " + "l" * 501 + "}\n", "rules[0].label", 500),
        ("version: 1\nrules:\n  - {expr: " + "x > 1 and " * 400 + "x > 1}\n", "rules[0].expr", 4000),
        ("version: 1\nrules:\n  - {signal: " + "s" * 1001 + ", min: 1}\n", "rules[0].signal", 1000),
        ("version: 1\nrules:\n  - {signal: x, in: [a, " + "v" * 1001 + "]}\n", "rules[0].in[1]", 1000),
    ],
)
def test_field_lengths_are_capped(yaml_text, where, limit):
    with pytest.raises(RecipeError) as e:
        load_recipe(yaml_text)
    msg = str(e.value)
    assert where in msg and f"limit of {limit:,}" in msg and "\n" not in msg


def test_dict_recipes_are_capped_too():
    """A dict (from a saved recipe, a script) is held to the same limits: no 100 KB description in a manifest."""
    with pytest.raises(RecipeError, match=r"description: 100,000 characters, over the limit of 20,000"):
        load_recipe({"version": 1, "description": "d" * 100_000, "rules": []})
    with pytest.raises(RecipeError, match="1,001 rules; the limit is 1,000"):
        load_recipe({"version": 1, "rules": [{"signal": "x", "min": 1}] * 1001})
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(RecipeError, match="nested deeper than 32 levels"):
        load_recipe({"version": 1, "rules": [{"signal": "x", "in": deep}]})


@pytest.mark.parametrize(
    "text, words",
    [
        ("version: 1\nrules: " + "[" * 100_000 + "]" * 100_000 + "\n", ["line 2", "nesting depth"]),
        ("version: 1\nrules: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", ["line 2", "nested"]),
        ("version: 1\nrules:\n  - {signal: x, in: [" + ",".join(["0"] * 100_001) + "]}\n", ["more than 100,000"]),
        ("version: 1\nname: !!binary aGk=\n", ["line 2", "'!!binary'"]),
        ("version: 1\nname: !!python/object/apply:os.system [echo]\n", ["line 2", "'!!python/object/apply"]),
        ("version: 1\nrules:\n  - <<: {signal: x}\n    min: 1\n", ["line 3", "merge keys"]),
        ("version: 1\ndedup: !!set {exact}\n", ["line 2", "'!!set'"]),
        ("version: 1\n---\nversion: 1\n", ["line 2", "single YAML document"]),
        ("version: 1\n[a]: 1\n", ["line 2", "plain name"]),
        ("version: 1\nversion: 1\n", ["line 2", "duplicate key 'version'"]),
        ("version: 1\nrules: [\n", ["not valid YAML"]),
    ],
)
def test_hostile_yaml_is_one_line(text, words):
    with pytest.raises(RecipeError) as e:
        load_recipe(text)
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6) | st.integers(), kids, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(data=yaml_values, flow=st.booleans())
@example(data=[{"\x85": None}, {"\x85": None}, None], flow=False)  # NEL written raw: a YAML line break
def test_bounded_loader_reads_what_pyyaml_reads(data, flow):
    """On alias-free YAML the bounded loader returns exactly what PyYAML's safe_load does, with a line mark for
    every path it returns."""
    import yaml

    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    got, marks = parse_recipe_yaml(text)
    assert got == yaml.safe_load(text)
    # YAML counts NEL and the Unicode line/paragraph separators as line breaks too (PyYAML may write them raw)
    n_lines = len(re.findall("\r\n|[\n\r\x85\u2028\u2029]", text)) + 1
    todo = [((), got)]
    while todo:
        path, v = todo.pop()
        assert 1 <= marks[path] <= n_lines
        if isinstance(v, dict):
            todo.extend(((*path, k), x) for k, x in v.items())
        elif isinstance(v, list):
            todo.extend(((*path, i), x) for i, x in enumerate(v))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="&*[]{}:-!<>, \n'\"#|ab01.", max_size=200))
def test_recipe_parser_fuzz_gives_a_recipe_or_one_line(text):
    try:
        load_recipe(text)
    except RecipeError as e:
        assert "\n" not in str(e)


def test_line_marks_still_name_the_field():
    text = "version: 1\nrules:\n  - {signal: x, min: 1}\n  - signal: y\n    max: ten\n"
    with pytest.raises(RecipeError, match=r"^recipe line 5, rules\[1\]\.max: expected a number"):
        load_recipe(text)


# ---------------------------------------------------------------------- expressions
DEEP = {
    "parentheses": "(" * 150 + "x > 1" + ")" * 150,
    "not": "not " * 990 + "x > 1",
    "minus": "-" * 3000 + "x > 1",
    "sum chain": "+".join(["x"] * 1900) + " > 1",
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_deep_expressions_are_refused_with_the_limit(text):
    with pytest.raises(RecipeError, match=rf"^expression nested deeper than {expr_mod.MAX_DEPTH} levels$"):
        parse_expr(text)


def test_deep_expression_in_a_recipe_file_is_one_line_exit_1(tmp_path):
    f = tmp_path / "deep.yaml"
    f.write_text(f'version: 1\nrules:\n  - {{expr: "{DEEP["not"]}"}}\n')
    assert_refused(winnow_cli("recipe", "validate", str(f)), "rules[0].expr", "nested deeper than")


def _deepest_accepted() -> dict[str, str]:
    d = expr_mod.MAX_DEPTH
    return {
        "parentheses": "(" * d + "x > 1" + ")" * d,
        "not": "not " * (d - 2) + "x > 1",
        "minus": "-" * (d - 2) + "x > 1",
        "sum chain": " + ".join(["x"] * (d - 1)) + " > 1",
        "and chain": " and ".join(["x > 1"] * 350),
        "mixed": "not (" * 12 + "-(" * 12 + "x" + ")" * 12 + " > 1" + ")" * 12,
    }


def _recursion_headroom(frames: int):
    """A context in which at most ``frames`` more Python frames fit on the stack."""
    import contextlib
    import inspect

    @contextlib.contextmanager
    def cm():
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(len(inspect.stack(0)) + frames)
        try:
            yield
        finally:
            sys.setrecursionlimit(old)

    return cm()


@pytest.mark.parametrize("shape", list(_deepest_accepted()))
def test_the_deepest_accepted_expressions_compile_and_evaluate_in_bounded_stack(shape):
    """Parsing, SQL generation and Python evaluation of the deepest accepted expression of each shape fit in a
    fixed stack budget, and DuckDB agrees with the Python evaluator."""
    text = _deepest_accepted()[shape]
    with _recursion_headroom(600):
        ex = parse_expr(text)
        params: dict = {}
        sql = ex.to_sql(params)
        want = [ex.evaluate({"x": x}) for x in (None, 0, 2)]
    got = duckdb.execute(
        f"SELECT {sql} FROM (SELECT unnest([NULL, 0, 2]) AS x, unnest([0, 1, 2]) AS i) ORDER BY i", params
    )
    assert [g[0] for g in got.fetchall()] == want


def test_an_expr_deeper_than_the_limit_cannot_be_built_by_hand():
    ast: tuple = ("col", "x")
    for _ in range(expr_mod.MAX_DEPTH + 5):
        ast = ("not", ast)
    with pytest.raises(RecipeError, match="nested deeper than"):
        expr_mod.Expr(ast, ["x"], "")


wrappers = st.lists(st.sampled_from(["(", "not ", "-", "not (", "-("]), max_size=400)


@settings(max_examples=150, deadline=None)
@given(wrap=wrappers, tail=st.sampled_from(["x > 1", "x", "x + 1 between 0 and 3", "x in (1, 2)"]))
def test_any_nesting_parses_or_is_refused_never_recursion_error(wrap, tail):
    text = "".join(wrap) + tail + ")" * sum(w.count("(") for w in wrap)
    try:
        ex = parse_expr(text)
    except RecipeError as e:
        assert "\n" not in str(e)
        return
    ex.to_sql({})
    ex.evaluate({"x": 1})


# ---------------------------------------------------------------------- rule messages and bounds
@pytest.mark.parametrize(
    "rule, expected",
    [
        ("{signal: x, min: 1, in: [a]}", "rules[0].in: 'in' cannot be combined with min"),
        ("{signal: x, in: [a], not_in: [b]}", "rules[0].in: 'in' cannot be combined with not_in"),
        (
            "{signal: x, max_quantile: 0.5, not_in: [b]}",
            "rules[0].not_in: 'not_in' cannot be combined with max_quantile",
        ),
        ("{signal: x, max: .inf}", "rules[0].max: expected a finite number, got inf"),
        ("{signal: x, min: -.inf}", "rules[0].min: expected a finite number, got -inf"),
        ("{signal: x, min: 1e999}", "rules[0].min: expected a finite number, got inf"),
        ("{signal: x, min: .nan}", "rules[0].min: expected a finite number, got nan"),
    ],
)
def test_rule_messages_name_the_right_keys(rule, expected):
    with pytest.raises(RecipeError) as e:
        load_recipe(f"version: 1\nrules:\n  - {rule}\n")
    assert str(e.value) == f"recipe line 3, {expected}"


def test_non_finite_bounds_are_refused_in_dicts_too():
    with pytest.raises(RecipeError, match=r"rules\[0\]\.max: expected a finite number, got inf"):
        load_recipe({"version": 1, "rules": [{"signal": "x", "max": float("inf")}]})


# ---------------------------------------------------------------------- the panel's HTTP routes
def _app():
    from starlette.applications import Starlette

    from app.explore import panel_api

    return Starlette(routes=panel_api.routes())


def _asgi_post(chunks, *, headers: list[tuple[bytes, bytes]] = ()) -> tuple[int, dict, int]:
    """POST ``chunks`` (an iterator of bytes) straight to the ASGI app; (status, JSON body, chunks it read)."""
    read = 0
    sent: list[dict] = []
    it = iter(chunks)

    async def receive():
        nonlocal read
        chunk = next(it, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/winnow/api/summary",
        "raw_path": b"/winnow/api/summary",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(_app()(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), read


def test_an_oversized_body_is_not_read_past_the_limit():
    """200 MB sent in 64 KB chunks without a Content-Length: refused after the first few chunks."""
    chunks = (b"x" * 65_536 for _ in range(3_200))
    status, body, read = _asgi_post(chunks)
    assert status == 413 and "too large" in body["error"]
    assert read <= 5


def test_a_declared_oversized_body_is_refused_unread():
    status, body, read = _asgi_post(iter([b"{}"]), headers=[(b"content-length", b"200000000")])
    assert (status, read) == (413, 0) and "too large" in body["error"]
    status, body, _ = _asgi_post(iter([b"{}"]), headers=[(b"content-length", b"-5")])
    assert status == 400 and body["error"] == "malformed Content-Length"


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"rules": ' + b"[" * 50_000, b"{" * 100_000])
def test_deeply_nested_json_is_a_400(raw):
    from starlette.testclient import TestClient

    r = TestClient(_app()).post("/winnow/api/summary", content=raw)
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith("malformed JSON") and "\n" not in r.json()["error"]


def test_a_deep_expression_from_the_panel_is_a_400(tmp_path):
    from starlette.testclient import TestClient

    from app.explore import panel_api
    from app.workspace import Workspace
    from tests.app.conftest import build_ui_workspace

    ws = Workspace.open(build_ui_workspace(tmp_path / "ws", n=20))
    try:
        token = panel_api.register(ws)
        rules = [{"kind": "expr", "expr": DEEP["parentheses"], "uid": "a"}]
        r = TestClient(_app()).post("/winnow/api/summary", json={"token": token, "rules": rules})
        assert r.status_code == 400 and "nested deeper than" in r.json()["error"]
    finally:
        ws.close()
