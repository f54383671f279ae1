"""Hostile inputs, each built in code and run through the real ``winnow`` command (see :mod:`tests.faults`).

Every case starts from a workspace holding a source ``keep`` (whose documents must survive whatever the
bad input does), runs one command under an address-space cap and a time limit, and is judged against the
contract of issue 11: a one-line ``winnow: error:`` that is not an internal error (exit 70), or a skip that
is counted; nothing of ``keep`` lost; memory bounded. A case returns :class:`CaseResult`; ``trial`` varies
what is random in it (where a file is cut), so the benchmark can run each kind N times.
"""

from __future__ import annotations

import atexit
import gzip
import io
import json
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults import Run, contract_problems, corpus_digest, run_cli, write_corpus

N_KEEP = 50
#: address-space caps (MiB): commands that open a workspace map DuckDB, Arrow and BLAS pools (~2 GB of
#: address space on an idle 2-core machine), a recipe check maps almost nothing
CAP_WORKSPACE = 4096
CAP_RECIPE = 1024
TIMEOUT = 60.0


@dataclass
class CaseResult:
    """What one hostile case did: contract problems (empty = passed), documents lost, peak RSS."""

    kind: str
    problems: list[str] = field(default_factory=list)
    lost: int = 0
    peak_rss_mb: float = 0.0
    rc: int = 0


def _rows(n: int, *, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    return [{"id": f"r{i}", "text": f"row {i} " + "word " * rnd.randint(3, 30)} for i in range(n)]


def _csv(rows: list[dict]) -> bytes:
    import csv

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", "text"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _cut(data: bytes, trial: int) -> bytes:
    """``data`` cut at a seeded point between 5% and 99.5% of its length (never whole, never empty)."""
    frac = random.Random(f"cut:{trial}").uniform(0.05, 0.995)
    return data[: max(1, min(len(data) - 1, int(len(data) * frac)))]


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


def _parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf, row_group_size=500)
    return buf.getvalue()


ROWS = 3000
#: name -> (file name, bytes of the whole file); each is cut before it is ingested
TRUNCATED: dict[str, tuple[str, Callable[[], bytes]]] = {
    "truncated .jsonl.gz": ("t.jsonl.gz", lambda: gzip.compress(_jsonl(_rows(ROWS)), mtime=0)),
    "truncated .csv.gz": ("t.csv.gz", lambda: gzip.compress(_csv(_rows(ROWS)), mtime=0)),
    "truncated .jsonl.zst": ("t.jsonl.zst", lambda: _zstd(_jsonl(_rows(ROWS)))),
    "truncated .csv.zst": ("t.csv.zst", lambda: _zstd(_csv(_rows(ROWS)))),
    "truncated .parquet": ("t.parquet", lambda: _parquet(_rows(ROWS))),
}


_TEMPLATE: list[Path] = []


def _setup(work: Path) -> Path:
    """``work/proj/ws``: a copy of a workspace holding source ``keep`` (built once per process by the
    real ``winnow ingest``); returns ``work``."""
    if not _TEMPLATE:
        base = Path(tempfile.mkdtemp(prefix="winnow-hostile-"))
        atexit.register(shutil.rmtree, base, ignore_errors=True)
        write_corpus(base / "keep.jsonl", N_KEEP, prefix="k")
        run = run_cli(["ingest", "keep.jsonl", "-w", "ws", "--source", "keep"], cwd=base)
        if run.rc != 0:
            raise RuntimeError(f"cannot build the starting workspace: {run.stderr[-300:]}")
        _TEMPLATE.append(base / "ws")
    (work / "proj").mkdir(parents=True, exist_ok=True)
    shutil.copytree(_TEMPLATE[0], work / "proj" / "ws")
    return work


def _kept(work: Path) -> tuple[int, dict[str, str] | None]:
    """Documents of ``keep`` still there (0 when the workspace no longer opens) and the workspace digest."""
    import duckdb

    try:
        digest = corpus_digest(work / "proj" / "ws")
        con = duckdb.connect(str(work / "proj" / "ws" / "winnow.duckdb"), read_only=True)
    except (duckdb.Error, OSError):
        return 0, None
    try:
        return con.execute("SELECT count(*) FROM docs WHERE source = 'keep'").fetchone()[0], digest
    finally:
        con.close()


def _result(kind: str, run: Run, problems: list[str], lost: int) -> CaseResult:
    return CaseResult(kind, problems, lost, run.peak_rss_mb, run.rc)


def ingest_case(kind: str, work: Path, name: str, data: bytes, *, must_fail: bool, expect: Callable | None = None):
    """Ingest ``data`` as ``name`` into the workspace; ``expect(summary)`` returns (problems, silently lost
    rows) for a run that exits 0."""
    _setup(work)
    (work / name).write_bytes(data)
    before = corpus_digest(work / "proj" / "ws")
    run = run_cli(
        ["ingest", name, "-w", "proj/ws", "--source", "bad", "--json"],
        cwd=work,
        mem_limit_mb=CAP_WORKSPACE,
        timeout=TIMEOUT,
    )
    problems = contract_problems(run, must_fail=must_fail)
    kept, after = _kept(work)
    lost = N_KEEP - kept
    if run.rc != 0 and after != before:
        problems.append("a failed ingest changed the workspace")
    if run.rc == 0 and expect:
        more, silently = expect(run.last_json())
        problems += more
        lost += silently
    return _result(kind, run, problems, lost)


def _unclosed_quote(summary: dict) -> tuple[list[str], int]:
    """Accepted only if the broken row is counted: three data rows are read, none silently."""
    skipped = sum(summary.get("skipped", {}).values())
    if not skipped:
        return [f"unterminated quote swallowed rows silently: {summary.get('read')} read, none skipped"], max(
            0, 3 - summary.get("ingested", 0)
        )
    return [], 0


def _surrogate(summary: dict) -> tuple[list[str], int]:
    """The line with a lone surrogate is skipped as invalid UTF-8; the two good lines are kept."""
    problems = []
    if summary.get("skipped") != {"invalid_utf8": 1}:
        problems.append(f"expected one invalid_utf8 skip, got {summary.get('skipped')}")
    return problems, max(0, 2 - summary.get("ingested", 0))


BOMB = (
    "version: 1\nname: lol\n"
    + "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))
    + "rules:\n  - {signal: size_words, min: 1}\n"
)


def recipe_case(kind: str, work: Path, recipe: str | bytes, cmd: str, *, must_fail: bool) -> CaseResult:
    """Run ``recipe validate`` (``cmd='validate'``), ``recipe validate -w`` (``'compile'``) or ``apply``
    on a hostile recipe: bounded time and memory, one line, the workspace unchanged, no output written."""
    _setup(work)
    path = work / "hostile.yaml"
    path.write_bytes(recipe.encode() if isinstance(recipe, str) else recipe)
    before = corpus_digest(work / "proj" / "ws")
    args, cap = {
        "validate": (["recipe", "validate", "hostile.yaml"], CAP_RECIPE),
        "compile": (["recipe", "validate", "hostile.yaml", "-w", "proj/ws"], CAP_WORKSPACE),
        "apply": (["apply", "-w", "proj/ws", "-r", "hostile.yaml", "--out", "out"], CAP_WORKSPACE),
    }[cmd]
    run = run_cli(args, cwd=work, mem_limit_mb=cap, timeout=TIMEOUT)
    problems = contract_problems(run, must_fail=must_fail)
    kept, after = _kept(work)
    if after != before:
        problems.append("the workspace changed")
    if cmd == "apply" and run.rc != 0 and (work / "out").exists():
        problems.append("a failed apply left its output directory")
    return _result(kind, run, problems, N_KEEP - kept)


def overwrite_case(kind: str, work: Path, out: str) -> CaseResult:
    """``apply --overwrite`` aimed at the workspace or its parent: refused, and nothing deleted."""
    _setup(work)
    (work / "proj" / "notes.txt").write_text("important\n", encoding="utf-8")
    (work / "all.yaml").write_text("version: 1\n", encoding="utf-8")
    before = corpus_digest(work / "proj" / "ws")
    run = run_cli(
        ["apply", "-w", "proj/ws", "-r", "all.yaml", "--out", out, "--overwrite"],
        cwd=work,
        mem_limit_mb=CAP_WORKSPACE,
        timeout=TIMEOUT,
    )
    problems = contract_problems(run, must_fail=True)
    kept, after = _kept(work)
    if after != before:
        problems.append("the workspace changed or is gone")
    if not (work / "proj" / "notes.txt").exists():
        problems.append("proj/notes.txt was deleted")
    return _result(kind, run, problems, N_KEEP - kept)


def _nested(depth: int) -> str:
    return 'version: 1\nrules:\n  - expr: "' + "(" * depth + "n > 1" + ")" * depth + '"\n'


def _nots(depth: int) -> str:
    return 'version: 1\nrules:\n  - expr: "' + "not " * depth + 'n > 1"\n'


def _big_recipe() -> bytes:
    """A 100 MB recipe: a valid rule and a 100 MB description."""
    return b"version: 1\nname: big\ndescription: " + b"x" * 100_000_000 + b"\nrules:\n  - {signal: n, min: 1}\n"


def _truncated(kind: str) -> Callable[[Path, int], CaseResult]:
    name, make = TRUNCATED[kind]
    return lambda work, trial: ingest_case(kind, work, name, _cut(make(), trial), must_fail=True)


#: every hostile kind: ``CASES[kind](work_dir, trial) -> CaseResult``
CASES: dict[str, Callable[[Path, int], CaseResult]] = {
    **{kind: _truncated(kind) for kind in TRUNCATED},
    "unclosed CSV quote": lambda w, t: ingest_case(
        "unclosed CSV quote", w, "u.csv", b'id,text\n1,"a\n2,b\n3,c\n', must_fail=False, expect=_unclosed_quote
    ),
    "lone surrogate in JSON": lambda w, t: ingest_case(
        "lone surrogate in JSON",
        w,
        "s.jsonl",
        b'{"text": "ok one"}\n{"text": "bad \\ud800 x"}\n{"text": "ok two"}\n',
        must_fail=False,
        expect=_surrogate,
    ),
    "YAML alias bomb (validate)": lambda w, t: recipe_case(
        "YAML alias bomb (validate)", w, BOMB, "validate", must_fail=True
    ),
    "YAML alias bomb (apply)": lambda w, t: recipe_case("YAML alias bomb (apply)", w, BOMB, "apply", must_fail=True),
    "100 MB recipe": lambda w, t: recipe_case("100 MB recipe", w, _big_recipe(), "validate", must_fail=True),
    "150 nested parentheses": lambda w, t: recipe_case(
        "150 nested parentheses", w, _nested(150), "compile", must_fail=False
    ),
    "990 nested not": lambda w, t: recipe_case("990 nested not", w, _nots(990), "compile", must_fail=False),
    "--overwrite the workspace": lambda w, t: overwrite_case("--overwrite the workspace", w, "proj/ws"),
    "--overwrite its parent": lambda w, t: overwrite_case("--overwrite its parent", w, "proj"),
}
