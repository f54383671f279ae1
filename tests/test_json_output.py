"""Every command prints a readable summary by default and JSON only with ``--json`` (issue 17 point 9).

Each command runs twice on one tiny workspace built in code: without ``--json`` its stdout must hold at least
one line and no line that is a JSON object or array; with ``--json`` stdout must be exactly one JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import main

TOPICS = {
    "cars": "engine wheel road fuel brake gear driver motor tyre highway",
    "cats": "kitten purr whisker paw meow fur tail mouse nap collar",
    "food": "bread oven flour butter sugar salt knife plate soup spoon",
}
QUIZ = {"question": "kitten purr whisker paw meow fur tail mouse nap collar kitten purr", "answer": "cats"}
RECIPE = "version: 1\nname: short-cut\nrules:\n  - {signal: size_words, min: 3}\n"


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A scored, embedded workspace of 30 documents in three topics (built through the CLI itself)."""
    base = tmp_path_factory.mktemp("json")
    rows = [
        {"id": f"{t}{i:02d}", "text": " ".join(words.split()[(i + j) % 10] for j in range(4 + i))}
        for t, words in TOPICS.items()
        for i in range(10)
    ]
    _jsonl(base / "docs.jsonl", rows)
    _jsonl(base / "more.jsonl", [{"id": "m1", "text": "one more document about bread and soup"}])
    _jsonl(base / "quiz.jsonl", [QUIZ])
    (base / "r.yaml").write_text(RECIPE, encoding="utf-8")
    w = str(base / "ws")
    for argv in (
        ["ingest", str(base / "docs.jsonl"), "-w", w, "--source", "web", "--id-field", "id"],
        ["score", "-w", w, "--signals", "size"],
        ["embed", "-w", w, "--model", "hash:16"],
    ):
        assert main([*argv, "--json"]) == 0, argv
    return base


#: (command, argv given the base folder and a suffix that keeps the two runs' outputs apart)
CASES: list[tuple[str, Callable[[Path, str], list[str]]]] = [
    ("ingest", lambda b, s: ["ingest", str(b / "more.jsonl"), "-w", str(b / "ws"), "--source", f"more{s}"]),
    ("embed", lambda b, s: ["embed", "-w", str(b / "ws"), "--model", "hash:16"]),
    ("search", lambda b, s: ["search", "kitten purr", "-w", str(b / "ws"), "--k", "3"]),
    ("index", lambda b, s: ["index", "-w", str(b / "ws"), "--force"]),
    ("index --status", lambda b, s: ["index", "-w", str(b / "ws"), "--status"]),
    ("recipe validate", lambda b, s: ["recipe", "validate", str(b / "r.yaml"), "-w", str(b / "ws"), "--check"]),
    ("recipe save", lambda b, s: ["recipe", "save", str(b / "r.yaml"), "-w", str(b / "ws"), "--name", f"r{s}"]),
    ("recipe list", lambda b, s: ["recipe", "list", "-w", str(b / "ws")]),
    ("recipe show", lambda b, s: ["recipe", "show", "r_plain", "-w", str(b / "ws")]),
    ("recipe preset", lambda b, s: ["recipe", "preset", "c4", "--out", str(b / f"c4{s}.yaml")]),
    ("apply", lambda b, s: ["apply", "-w", str(b / "ws"), "-r", str(b / "r.yaml"), "-o", str(b / f"out{s}")]),
    (
        "apply --input",
        lambda b, s: ["apply", "-i", str(b / "docs.jsonl"), "-r", str(b / "r.yaml"), "-o", str(b / f"hl{s}")],
    ),
    (
        "apply --dry-run",
        lambda b, s: ["apply", "-i", str(b / "docs.jsonl"), "-r", str(b / "r.yaml"), "--dry-run", "100"],
    ),
    ("decontam add", lambda b, s: ["decontam", "add", f"quiz{s}", str(b / "quiz.jsonl"), "-w", str(b / "ws")]),
    ("decontam list", lambda b, s: ["decontam", "list", "-w", str(b / "ws")]),
    ("decontam run", lambda b, s: ["decontam", "run", "-w", str(b / "ws")]),
    ("decontam remove", lambda b, s: ["decontam", "remove", f"quiz{s}", "-w", str(b / "ws")]),
    ("demo", lambda b, s: ["demo", "-w", str(b / f"demo{s}"), "--corpus", "sample", "--no-ui", "--no-score"]),
]
#: the commands that load UMAP/numba or plotly (a test of their own, so a failure names them)
SLOW_CASES: list[tuple[str, Callable[[Path, str], list[str]]]] = [
    ("map", lambda b, s: ["map", "-w", str(b / "ws"), "--clusters", "3"]),
    ("search --like", lambda b, s: ["search", "-w", str(b / "ws"), "--like", "cats00", "--k", "2"]),
    ("report", lambda b, s: ["report", "-w", str(b / "ws"), "-r", str(b / "r.yaml"), "-o", str(b / f"rep{s}.html")]),
]


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict | list)
    except ValueError:
        return False


def _check(cases: list, base: Path, capsys) -> None:
    """Run each case without and then with ``--json`` and check what stdout holds."""
    for name, argv in cases:
        assert main(argv(base, "_plain")) == 0, name
        out = capsys.readouterr().out
        assert out.strip(), f"{name} printed nothing without --json"
        assert not [ln for ln in out.splitlines() if _is_json(ln)], f"{name} printed JSON without --json:\n{out}"
        assert main([*argv(base, "_json"), "--json"]) == 0, name
        out = capsys.readouterr().out
        assert len(out.strip().splitlines()) == 1, f"{name} --json printed more than its JSON line:\n{out}"
        assert isinstance(json.loads(out), dict), name


def test_every_command_prints_json_only_with_json(ws, capsys):
    """One pass in CASES order (recipe show needs the recipe saved by recipe save, remove the added benchmark)."""
    _check(CASES, ws, capsys)


def test_map_search_like_and_report_print_json_only_with_json(ws, capsys):
    """The same check for map, search --like (needs the map's neighbours) and report."""
    _check(SLOW_CASES, ws, capsys)


def test_search_preview_escapes_control_characters():
    """A document's text is untrusted: an escape sequence in it must not reach the terminal raw."""
    from app.commands.search import _preview

    shown = _preview("clear \x1b[2J the\tscreen\x07", 100)
    assert "\x1b" not in shown and "\x07" not in shown
    assert shown == "clear \\x1b[2J the screen\\x07"
