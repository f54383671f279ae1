"""Fault injection's runner and checks, shared by ``tests/test_faults.py`` and ``bench/bench_reliability.py``.

Everything drives the real ``winnow`` command in a subprocess, so what is measured is what a user gets:
the exit code, stderr, the files left on disk and the child's own peak RSS. Here: :func:`run_cli` (time
limit, SIGKILL after a delay, RLIMIT_AS cap), :func:`contract_problems` (the rules for bad input: one
``winnow: error:`` line, never exit 70 or a traceback), a corpus writer, and digests of what a workspace
or an export shows (:func:`corpus_digest`, :func:`half_written`, :func:`export_digest`). The hostile
inputs are in :mod:`tests.hostile`, the kill trials in :mod:`tests.kills`.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_BIN = Path(sys.executable).parent / "winnow"
#: the installed console script (what a user runs); ``python -m app.cli`` where it is not installed
WINNOW = [str(_BIN)] if _BIN.exists() else [sys.executable, "-m", "app.cli"]
INTERNAL_ERROR = 70


@dataclass
class Run:
    """One finished (or killed) ``winnow`` process."""

    args: list[str]
    rc: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float
    killed: bool = False
    timed_out: bool = False

    def last_json(self) -> dict:
        """The JSON summary a command run with ``--json`` prints on its last stdout line ({} when there is none)."""
        lines = [ln for ln in self.stdout.splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


def run_cli(
    args: list[str],
    *,
    cwd: Path,
    timeout: float = 120.0,
    kill_after: float | None = None,
    mem_limit_mb: int | None = None,
) -> Run:
    """Run ``winnow ARGS`` in ``cwd``; SIGKILL its process group after ``kill_after`` s (or ``timeout``).

    ``mem_limit_mb`` caps the child's address space (RLIMIT_AS): an allocation beyond it fails inside the
    child, so a memory blow-up shows as a failed run instead of swapping the machine. Peak RSS is the
    child's ``VmHWM`` (``/proc/PID/status``), sampled every 10 ms: not ``ru_maxrss``, which for a child
    started with a ``preexec_fn`` (a fork) counts the parent's resident pages from before ``exec``.
    ``ru_maxrss`` from ``os.wait4`` stands in only where ``/proc`` cannot be read.
    """

    def limit() -> None:
        if mem_limit_mb:
            cap = mem_limit_mb << 20
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
    env.pop("WINNOW_DEBUG", None)
    out_f, err_f = (cwd / f".run-{os.getpid()}-{n}.log" for n in ("out", "err"))
    t0 = time.perf_counter()
    with out_f.open("wb") as out, err_f.open("wb") as err:
        proc = subprocess.Popen(
            [*WINNOW, *args], cwd=cwd, stdout=out, stderr=err, env=env, preexec_fn=limit, start_new_session=True
        )
        killed = timed_out = False
        hwm = 0
        while True:
            hwm = max(hwm, _vm_hwm_kb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - t0
            if (kill_after is not None and elapsed >= kill_after) or elapsed >= timeout:
                killed, timed_out = True, kill_after is None or elapsed >= timeout
                os.killpg(proc.pid, signal.SIGKILL)  # the group: score --workers children die too
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    run = Run(
        args=list(args),
        rc=proc.returncode,
        stdout=out_f.read_text(encoding="utf-8", errors="replace"),
        stderr=err_f.read_text(encoding="utf-8", errors="replace"),
        seconds=seconds,
        peak_rss_mb=(hwm or usage.ru_maxrss) / 1024,
        killed=killed,
        timed_out=timed_out,
    )
    out_f.unlink()
    err_f.unlink()
    return run


def _vm_hwm_kb(pid: int) -> int:
    """The peak resident set (KiB) of the running process ``pid`` (0 when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def contract_problems(run: Run, *, must_fail: bool) -> list[str]:
    """What a run did against the rules for bad input: one ``winnow: error:`` line, exit code neither 0
    (when ``must_fail``) nor 70 (internal error), no traceback, finished within its time and memory."""
    problems = []
    if run.timed_out:
        problems.append(f"did not finish in {run.seconds:.0f} s (peak {run.peak_rss_mb:.0f} MB)")
        return problems
    if run.rc == INTERNAL_ERROR or run.rc < 0:
        problems.append(f"internal error / crash (exit {run.rc}): {run.stderr.strip()[-300:]}")
    if "Traceback" in run.stderr:
        problems.append("printed a traceback")
    if must_fail and run.rc == 0:
        problems.append("accepted (exit 0) where it must refuse")
    if run.rc not in (0, INTERNAL_ERROR):
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        if len(lines) != 1 or not lines[0].startswith("winnow: error: "):
            problems.append(f"error is not one 'winnow: error:' line: {lines[-3:]}")
    return problems


# ---------------------------------------------------------------- corpora


WORDS = [
    *[
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        "in",
        "the",
        "sun",
        "while",
        "data",
        "models",
        "train",
        "on",
        "text",
        "and",
        "people",
        "read",
        "books",
        "about",
        "rivers",
    ],
    *[
        "der",
        "schnelle",
        "braune",
        "fuchs",
        "springt",
        "über",
        "den",
        "faulen",
        "hund",
        "le",
        "chat",
        "dort",
        "sur",
        "le",
        "tapis",
    ],
]


def write_corpus(path: Path, n: int, *, seed: int = 0, prefix: str = "d") -> Path:
    """``n`` JSON-lines documents with varied length, a few exact duplicates and an integer field ``n``."""
    import random

    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 60)))
            text = words if i % 50 == 7 else f"{words}. Document {prefix}{i}."
            f.write(json.dumps({"id": f"{prefix}{i}", "text": text, "n": i % 97, "topic": rnd.choice("abc")}) + "\n")
    return path


def corpus_digest(ws: Path) -> dict[str, str]:
    """Order-independent digests of what a workspace shows: every visible relation that holds results
    (``docs``, ``corpus``, sources, parts, embedding tables), with time-stamps left out."""
    import duckdb

    con = duckdb.connect(str(ws / "winnow.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        rels = {
            "docs": "SELECT * FROM docs",
            "corpus": "SELECT * FROM corpus",
            "sources": "SELECT name, table_name, n_docs, n_chars FROM sources",
            "parts": "SELECT table_name, kind, ord FROM _parts",
        }
        if "embed_models" in names:
            rels["embed_models"] = "SELECT model, table_name, dim FROM embed_models"
        rels.update({n: f'SELECT * FROM "{n}"' for n in names if n.startswith("emb__")})
        out = {"tables": ",".join(sorted(names))}
        for name, sql in rels.items():
            n, h = con.execute(
                f"SELECT count(*), coalesce(bit_xor(md5_number(t::VARCHAR)), 0) FROM ({sql}) AS t"
            ).fetchone()
            out[name] = f"{n}:{h}"
        return out
    finally:
        con.close()


def half_written(ws: Path) -> list[str]:
    """Visible state that only a half-finished write could leave: a source whose count differs from its
    table, a docs table no source owns, a registered part with missing or extra rows, an embedding
    table with missing vectors or texts the corpus lacks."""
    import duckdb

    con = duckdb.connect(str(ws / "winnow.duckdb"), read_only=True)
    problems = []
    try:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        tables = {r[0] for r in q("SELECT table_name FROM information_schema.tables WHERE table_type='BASE TABLE'")}
        owned = set()
        for name, table, n_docs in q("SELECT name, table_name, n_docs FROM sources"):
            owned.add(table)
            got = q(f'SELECT count(*) FROM "{table}"')[0][0] if table in tables else None
            if got != n_docs:
                problems.append(f"source {name}: {got} rows, {n_docs} recorded")
        problems += [f"orphan docs table {t}" for t in sorted(tables) if t.startswith("docs__") and t not in owned]
        n_docs = q("SELECT count(*) FROM docs")[0][0]
        for (table,) in q("SELECT table_name FROM _parts"):
            if table in tables and "id" in {c[0] for c in q(f'DESCRIBE "{table}"')}:
                n, distinct = q(f'SELECT count(*), count(DISTINCT id) FROM "{table}"')[0]
                if not n == distinct == n_docs:
                    problems.append(f"part {table}: {n} rows, {distinct} ids, {n_docs} documents")
        for t in sorted(t for t in tables if t.startswith("emb__")):
            bad = q(f'SELECT count(*) - count(vec), count(*) - count(DISTINCT text_hash) FROM "{t}"')[0]
            stray = q(f'SELECT count(*) FROM "{t}" WHERE text_hash NOT IN (SELECT text_hash FROM docs)')[0][0]
            if any(bad) or stray:
                problems.append(f"{t}: {bad[0]} null vectors, {bad[1]} duplicate hashes, {stray} stray rows")
    finally:
        con.close()
    return problems


#: manifest keys naming the code revision: they change whenever anyone commits or edits the source tree,
#: which in a shared checkout can happen between a baseline and a trial
CODE_REVISION_KEYS = ("git_commit", "source_modified")


def _without_revision(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _without_revision(v) for k, v in obj.items() if k not in CODE_REVISION_KEYS}
    if isinstance(obj, list):
        return [_without_revision(v) for v in obj]
    return obj


def export_digest(out: Path) -> dict[str, str]:
    """sha256 of every file under an export directory, by relative path. ``manifest.json`` is hashed
    without its code-revision keys (everything else in it, and every data file, byte for byte)."""
    import hashlib

    digest = {}
    for p in sorted(out.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.name == "manifest.json":
                data = json.dumps(_without_revision(json.loads(data)), sort_keys=True).encode()
            digest[str(p.relative_to(out))] = hashlib.sha256(data).hexdigest()
    return digest
