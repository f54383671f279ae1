"""One workspace, many processes (issue 17.2): the dashboard, winnow commands and plain DuckDB readers at once.

DuckDB lets one process write a file or many read it, never both; Winnow keeps holds short (docs/concurrency.md):
commands wait for a holder instead of failing, the dashboard lets go when idle or asked. The last test starts the
real dashboard (``streamlit run``) and runs ``winnow info``, ``winnow score`` and a read-only DuckDB query against
its workspace while a browser session has it open.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.cli import main
from app.errors_io import WorkspaceBusy
from app.workspace import Workspace

WINNOW = [sys.executable, "-m", "app.cli"]


def _ws(path, n: int = 50) -> str:
    with Workspace.open(path, create=True) as ws:
        texts = [f"Document {i}: {'word ' * (i % 7 + 1)}end." for i in range(n)]
        ws.write_source("web", pd.DataFrame({"id": [f"d{i:03d}" for i in range(n)], "text": texts}))
    return str(path)


@contextlib.contextmanager
def _held(ws: str, *, release_after: float | None = None):
    """Another process holding the workspace read-write until the block ends (or ``release_after`` seconds after
    it has opened it); yields its PID."""
    code = f"from app.workspace import Workspace; w = Workspace.open({ws!r}); print('ok', flush=True); input()"
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ok"
        if release_after is not None:
            threading.Timer(release_after, p.stdin.close).start()
        yield p.pid
    finally:
        with contextlib.suppress(OSError):
            p.stdin.close()
        p.wait(timeout=30)


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- waiting for a holder
def test_open_waits_for_the_holder_and_says_whom_for(tmp_path, capsys):
    ws = _ws(tmp_path / "ws")
    with _held(ws, release_after=1.0) as pid:
        t = time.monotonic()
        with Workspace.open(ws, read_only=True, wait=30) as w:
            assert w.info()["documents"] == 50
        assert time.monotonic() - t >= 0.5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"waiting for PID {pid}" in err[0], err


def test_a_wait_that_runs_out_is_one_line_naming_the_holder(tmp_path):
    ws = _ws(tmp_path / "ws")
    with _held(ws) as pid:
        t = time.monotonic()
        with pytest.raises(WorkspaceBusy) as e:
            Workspace.open(ws, wait=1.2)
        assert 1.0 <= time.monotonic() - t < 10
    msg = str(e.value)
    assert f"in use by another process (PID {pid}" in msg and re.search(r"\(waited \d+ s\)$", msg) and "\n" not in msg
    # without a wait (the library's default outside the CLI) the lock is said at once
    with _held(ws), pytest.raises(WorkspaceBusy):
        Workspace.open(ws)


def _run_while_held(ws: str, args: list[str]) -> subprocess.CompletedProcess:
    """Run ``args`` while another process holds ``ws``; let go once the command is seen waiting (its request
    file), whatever the machine's load."""
    from pathlib import Path

    with _held(ws):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        want = Path(ws) / f"winnow.duckdb.want-{p.pid}"
        deadline = time.monotonic() + 60
        while not want.exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert want.exists(), "the command did not wait"
    out, err = p.communicate(timeout=120)
    assert not want.exists()  # removed once it got the file
    return subprocess.CompletedProcess(args, p.returncode, out, err)


def test_the_cli_waits_for_a_writer_instead_of_failing(tmp_path):
    ws = _ws(tmp_path / "ws")
    r = _run_while_held(ws, [*WINNOW, "info", "--workspace", ws, "--json"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["documents"] == 50
    assert "waiting for PID" in r.stderr


# ---------------------------------------------------------------- the dashboard's shared workspace
def test_shared_workspace_lets_go_when_a_command_asks(tmp_path):
    from app.shared_workspace import SharedWorkspace

    ws = _ws(tmp_path / "ws")
    shared = SharedWorkspace(tmp_path / "ws", idle_s=600)  # never idle long enough: only the request frees it
    try:
        assert shared.cursor().execute("SELECT count(*) FROM docs").fetchone()[0] == 50
        assert shared.is_open
        time.sleep(shared.grace_s + 0.1)  # this (non-script) thread's use is over
        t = time.monotonic()
        r = _run([*WINNOW, "score", "--workspace", ws, "--signals", "size", "--json"])
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t < 60
        # the next use reopens it and sees what the command wrote
        cols = shared.columns("corpus")
        assert "size_words" in cols and shared.opens == 2 and shared.releases >= 1
    finally:
        shared.close()


def test_shared_workspace_lets_go_when_idle_for_plain_readers(tmp_path):
    from app.shared_workspace import SharedWorkspace

    ws = _ws(tmp_path / "ws")
    shared = SharedWorkspace(tmp_path / "ws", idle_s=0.5, grace_s=0.1)
    try:
        shared.cursor().execute("SELECT 1").fetchall()
        deadline = time.monotonic() + 10
        while shared.is_open and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not shared.is_open
        code = f"import duckdb; print(duckdb.connect({ws + '/winnow.duckdb'!r}, read_only=True).execute('SELECT count(*) FROM docs').fetchone()[0])"
        r = _run([sys.executable, "-c", code])  # a reader that does not wait and does not ask
        assert r.returncode == 0 and r.stdout.strip() == "50", r.stderr
    finally:
        shared.close()


def test_a_release_never_interrupts_a_running_query(tmp_path):
    from app.shared_workspace import SharedWorkspace

    _ws(tmp_path / "ws")
    shared = SharedWorkspace(tmp_path / "ws", idle_s=600, grace_s=0.0)
    try:
        out: dict = {}

        def long_query() -> None:
            cur = shared.cursor()
            out["n"] = cur.execute("SELECT count(*) FROM range(150000000) t(i) WHERE i % 7 = 3").fetchone()[0]

        th = threading.Thread(target=long_query)
        th.start()
        time.sleep(0.3)
        refused = not shared.release()  # in the middle of the query: DuckDB refuses to close, nothing breaks
        th.join(120)
        assert out.get("n") == len(range(3, 150000000, 7))
        assert refused
        assert shared.release() and not shared.is_open
    finally:
        shared.close()


def test_an_open_cursor_keeps_the_connection_between_its_queries(tmp_path):
    from app.shared_workspace import SharedWorkspace

    _ws(tmp_path / "ws")
    shared = SharedWorkspace(tmp_path / "ws", idle_s=0.0, grace_s=0.0)  # released whenever nothing uses it
    try:
        cur = shared.cursor()
        assert cur.execute("SELECT count(*) FROM docs").fetchone()[0] == 50
        time.sleep(1.0)  # Python work between two queries of one request: the reaper ticks meanwhile
        assert shared.is_open and not shared.release()
        assert cur.execute("SELECT count(*) FROM docs").fetchall() == [(50,)]
        cur.close()
        assert shared.release() and not shared.is_open
        with shared.cursor() as c2:  # reopens; a dropped or closed cursor no longer counts
            assert c2.execute("SELECT 1").fetchone() == (1,)
        assert shared.release()
    finally:
        shared.close()


# ---------------------------------------------------------------- long writers hold the file only to commit
def read_only_query(db: str, sql: str, *, wait: float = 30.0) -> list[tuple]:
    """docs/concurrency.md's retry pattern for a plain DuckDB reader: connect read-only, and while the file is
    locked (a writer's commit: seconds at most) try again after a short pause."""
    import duckdb

    deadline = time.monotonic() + wait
    while True:
        try:
            with duckdb.connect(db, read_only=True) as con:
                return con.execute(sql).fetchall()
        except duckdb.IOException as e:
            if "lock" not in str(e).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


_SLOW_SCORE = """
import sys, time
from pathlib import Path
from app.signals import engine
flag = Path(sys.argv[1])
orig = engine._run_scorer
def paused(sc, texts):
    if not (flag / "go").exists():  # the first batch: say so, then wait until the test has read
        (flag / "started").touch()
        deadline = time.monotonic() + 120
        while not (flag / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    return orig(sc, texts)
engine._run_scorer = paused
from app.cli import main
sys.exit(main(sys.argv[2:]))
"""


@contextlib.contextmanager
def _paused_score(tmp_path, args: list[str]):
    """``winnow ARGS`` (a score) in a child process that stops at its first batch until the block ends; yields
    the process once it is computing, and waits for it after the block."""
    flag = tmp_path / "flag"
    flag.mkdir()
    p = subprocess.Popen([sys.executable, "-c", _SLOW_SCORE, str(flag), *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not (flag / "started").exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (flag / "started").exists(), p.stderr.read() if p.poll() is not None else "never started"
        yield p
    finally:
        (flag / "go").touch()
        p.out, p.err = p.communicate(timeout=300)


def test_a_plain_read_only_query_answers_while_winnow_score_computes(tmp_path):
    """``winnow score`` computes on a scratch copy: while it is in the middle of scoring, a plain read-only DuckDB
    client (with the documented retry) reads the workspace, and the signals appear once the score commits."""
    ws = _ws(tmp_path / "ws")
    db = ws + "/winnow.duckdb"
    with _paused_score(tmp_path, ["score", "-w", ws, "--signals", "size", "--json"]) as p:
        t = time.monotonic()
        assert read_only_query(db, "SELECT count(*) FROM docs", wait=5) == [(50,)]
        assert time.monotonic() - t < 5 and p.poll() is None  # answered while the score is still computing
        cols = {r[0] for r in read_only_query(db, "DESCRIBE corpus")}
        assert "size_words" not in cols  # nothing half-written is visible
    assert p.returncode == 0, p.err
    res = json.loads(p.out.splitlines()[-1])
    assert res["families"]["size"]["computed"] == 50 and res["workspace_held_s"]["commit_s"] < 30
    got = read_only_query(db, "SELECT count(size_words), min(size_words) > 0 FROM corpus")
    assert got == [(50, True)]
    assert not (tmp_path / "ws" / "scratch-score.duckdb").exists()


def _score_tables(ws: str) -> dict[str, list[tuple]]:
    with Workspace.open(ws, read_only=True) as w:
        cur = w.cursor()
        names = sorted(
            r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'sig_%'").fetchall()
        )
        return {t: sorted(cur.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in names}


#: every corpus-scope family (they read side tables: caches, the benchmark index) and one document family
_SIDE = "size,dedup_exact,dedup_near,decontam,instruct_dup,instruct_template"


@pytest.mark.parametrize("signals", [_SIDE, pytest.param("all", marks=pytest.mark.slow)])
def test_detached_scoring_writes_what_scoring_in_place_writes(tmp_path, signals):
    """The scratch copy is not a shortcut: the families scored through :class:`app.detached.Detached` leaves the
    same signal tables, run registry and corpus columns as the engine on the workspace itself, and a second run
    reuses everything (nothing to commit, the workspace is not opened for writing)."""
    import shutil

    from app.commands.score import tables_read
    from app.decontam.store import add_benchmark
    from app.detached import Detached
    from app.signals import engine

    a = _ws(tmp_path / "a", n=40)
    with Workspace.open(a) as w:  # an instruction source, so the instruction families have something to find
        w.write_source("inst", pd.DataFrame({"id": ["i1", "i2"], "text": ["x", "y"], "instruction": ["Add 2 and 2", "Add 2 and 2"], "output": ["4", "4"]}))  # fmt: skip
    bench = tmp_path / "quiz.jsonl"  # a benchmark whose item is in the corpus: decontam reads its index tables
    bench.write_text(json.dumps({"question": "Document 3: word word word word end.", "answer": "x"}) + "\n")
    with Workspace.open(a) as w:
        add_benchmark(w, "quiz", [str(bench)])
    b = str(tmp_path / "b")
    shutil.copytree(a, b)
    names = engine.resolve(signals)
    with Workspace.open(a) as w:
        engine.score(w, signals=names)
    det = Detached(b, purpose="score", tables=tables_read(names), wait=0)
    with det as sw:
        engine.score(sw, signals=names)
    assert det.committed and det.timings["commit_s"] > 0
    assert _score_tables(a) == _score_tables(b)
    if "decontam" in names:
        assert any(r[1] > 0 for r in _score_tables(b)["sig_decontam"])  # the benchmark item was found
    with Workspace.open(a, read_only=True) as wa, Workspace.open(b, read_only=True) as wb:
        assert wa.columns("corpus") == wb.columns("corpus")
        runs_a = {k: (v["version"], v["n"]) for k, v in engine.runs(wa).items()}
        assert runs_a == {k: (v["version"], v["n"]) for k, v in engine.runs(wb).items()}
        assert wb.parts() == wa.parts()
    again = Detached(b, purpose="score", tables=tables_read(names), wait=0)
    with again as sw:
        res = engine.score(sw, signals=names)
    assert all(f["computed"] == 0 for f in res["families"].values()), res
    assert again.committed == [] and again.timings["commit_s"] == 0.0


def test_a_detached_commit_keeps_what_another_writer_registered_meanwhile(tmp_path):
    """The run registry is merged by family: a family scored elsewhere (the dashboard's job) while a detached
    score computed keeps its record, its table and its part."""
    from app.detached import Detached
    from app.signals import engine

    ws = _ws(tmp_path / "ws")
    with Detached(ws, purpose="score", tables=["_signal_runs", "sig_size", "_sighash_size"], wait=0) as sw:
        engine.score(sw, signals="size")
        with Workspace.open(ws) as w:  # another writer scores another family in place meanwhile
            engine.score(w, signals="compression")
    with Workspace.open(ws, read_only=True) as w:
        assert {"size", "compression"} <= set(engine.runs(w))
        cols = w.columns("corpus")
        assert "size_words" in cols and "compression_ratio" in cols


def test_a_detached_run_refuses_to_commit_over_changed_documents(tmp_path):
    from app.detached import Detached
    from app.errors import WorkspaceError
    from app.signals import engine

    ws = _ws(tmp_path / "ws")
    with pytest.raises(WorkspaceError, match="changed while score ran"), Detached(ws, purpose="score", wait=0) as sw:
        engine.score(sw, signals="size")
        with Workspace.open(ws) as w:  # an ingest lands meanwhile
            w.write_source("late", pd.DataFrame({"id": ["z1"], "text": ["late document"]}))
    with Workspace.open(ws, read_only=True) as w:
        assert "size_words" not in w.columns("corpus") and w.info()["documents"] == 51


def test_an_interrupted_detached_score_resumes_its_staged_batches(tmp_path):
    from app.detached import Detached
    from app.signals import engine

    ws = _ws(tmp_path / "ws")

    def stop_after_two(done: int, total: int, stage: str) -> None:
        if done >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), Detached(ws, purpose="score", wait=0) as sw:
        engine.score(sw, signals="size", batch_size=10, progress=stop_after_two)
    with Workspace.open(ws, read_only=True) as w:
        assert "size_words" not in w.columns("corpus")  # nothing committed
    with Detached(ws, purpose="score", wait=0) as sw:
        res = engine.score(sw, signals="size", batch_size=10)
    assert res["families"]["size"]["computed"] == 30 and res["families"]["size"]["rows"] == 50
    with Workspace.open(ws, read_only=True) as w:
        assert w.cursor().execute("SELECT count(size_words) FROM corpus").fetchone()[0] == 50


def test_a_workspace_folder_that_refuses_the_scratch_file_is_one_line(tmp_path, monkeypatch, capsys):
    import builtins
    import errno

    ws = _ws(tmp_path / "ws")
    real = builtins.open

    def refuse(file, *a, **kw):
        if str(file).endswith("scratch-score.lock"):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real(file, *a, **kw)

    monkeypatch.setattr(builtins, "open", refuse)
    assert main(["score", "-w", ws, "--signals", "size"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("winnow: error: ") and "\n" not in err and "scratch-score.lock" in err, err
    assert "internal error" not in err


def test_score_prints_json_only_with_json(tmp_path, capsys):
    ws = _ws(tmp_path / "ws")
    assert main(["score", "-w", ws, "--signals", "size"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert not any(line.lstrip().startswith("{") for line in out) and "50 documents" in out[-1]
    assert main(["score", "--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out and not any(line.lstrip().startswith("{") for line in out)
    assert main(["score", "--list", "--json"]) == 0
    assert "size" in json.loads(capsys.readouterr().out.splitlines()[-1])


# ---------------------------------------------------------------- winnow sql
def test_sql_prints_a_readable_table(tmp_path, capsys):
    ws = _ws(tmp_path / "ws")
    text = "a\x1b[2J\nb\u202e 日本語テキスト" + "z" * 80
    with Workspace.open(ws) as w:
        w.write_source("odd", pd.DataFrame({"id": ["x1"], "text": [text]}))
    assert main(["sql", "SELECT id, text, length(text) AS n FROM docs WHERE source = 'odd'", "-w", ws]) == 0
    out = capsys.readouterr().out.splitlines()
    row = out[2]
    assert "\x1b" not in row and "\u202e" not in row and "\\x1b[2J\\nb\\u202e" in row
    assert row.rstrip().endswith(str(len(text))) and "…" in row  # the long cell is cut, the number follows
    assert out[-1] == "1 row"


def test_sql_limits_and_machine_formats(tmp_path, capsys):
    ws = _ws(tmp_path / "ws")
    assert main(["sql", "SELECT id FROM docs ORDER BY id", "-w", ws, "--limit", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2:5] == ["d000", "d001", "d002"] and "more exist" in out[-1]
    assert (
        main(["sql", "SELECT id, 1.5 AS x, NULL AS z FROM docs ORDER BY id", "-w", ws, "--json", "--limit", "2"]) == 0
    )
    got = json.loads(capsys.readouterr().out)
    assert got["rows"] == [["d000", 1.5, None], ["d001", 1.5, None]] and got["truncated"] is True
    assert main(["sql", "SELECT id FROM docs ORDER BY id", "-w", ws, "--csv", "--limit", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id" and len(lines) == 51


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("SELEC 1", "Parser Error"),
        ("SELECT nope FROM docs", 'column "nope" not found'),
        ("CREATE TABLE t (a INT)", "winnow sql only reads"),
        ("DELETE FROM labels", "winnow sql only reads"),
        ("   ", "empty query"),
    ],
)
def test_sql_errors_are_one_line(tmp_path, capsys, query, says):
    ws = _ws(tmp_path / "ws")
    assert main(["sql", query, "-w", ws]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("winnow: error: ") and says in err and "\n" not in err, err
    with Workspace.open(ws, read_only=True) as w:
        assert not w.has_table("t") and w.info()["documents"] == 50


def test_sql_answers_while_another_process_writes(tmp_path):
    ws = _ws(tmp_path / "ws")
    r = _run_while_held(ws, [*WINNOW, "sql", "SELECT count(*) AS n FROM docs", "--workspace", ws, "--csv"])
    assert r.returncode == 0 and r.stdout.splitlines() == ["n", "50"], r.stderr


@given(st.text(max_size=60), st.integers(min_value=4, max_value=30))
def test_sql_cells_are_one_line_and_fit(text, w):
    import unicodedata

    from app.commands.sql import cut, escape_cell, width

    cell = cut(escape_cell(text), w)
    assert width(cell) <= w
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in cell)


# ---------------------------------------------------------------- the real dashboard
def _count(ws: str, where: str) -> int:
    """``count(*) FROM corpus WHERE ...`` from this process, waiting for the dashboard to let go (it is asked)."""
    with Workspace.open(ws, read_only=True, wait=30) as w:
        return int(w.cursor().execute(f"SELECT count(*) FROM corpus WHERE {where}").fetchone()[0])


@pytest.mark.browser
def test_dashboard_cli_and_duckdb_share_one_workspace(tmp_path):
    """A browser session on the real dashboard (``streamlit run``) while ``winnow info``, ``winnow score`` and a
    plain read-only DuckDB query use the same workspace: in the middle of the score (paused at its first batch) the
    plain query and a threshold change in the dashboard both answer; the dashboard then shows the new signal
    column the command wrote."""
    from playwright.sync_api import sync_playwright

    from app.launch import Server
    from tests.app.conftest import build_ui_workspace
    from tests.browser.test_e2e import ARGS, CHROMIUM, KEPT, _kept, _need_chromium, _wait_kept

    _need_chromium()
    ws = build_ui_workspace(tmp_path / "ws")
    want_10, want_30 = _count(ws, "size_words >= 10"), _count(ws, "size_words >= 30")
    with Server(ws) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/thresholds?r=range:size_words:10.0,", wait_until="domcontentloaded")
        page.locator(KEPT).wait_for(timeout=60_000)
        _wait_kept(page, want_10)  # the dashboard has the workspace open

        info = _run([*WINNOW, "info", "--workspace", ws, "--json"], timeout=90)
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout.splitlines()[-1])["documents"] == 240

        args = ["score", "--workspace", ws, "--signals", "gopher_quality", "--json"]
        with _paused_score(tmp_path, args) as score:
            # in the middle of the score: a plain reader (documented retry: the dashboard may hold the file for
            # its idle delay) and the dashboard itself both answer
            db = ws + "/winnow.duckdb"
            assert read_only_query(db, "SELECT count(*) FROM docs", wait=30) == [(240,)]
            box = page.locator('.wl-rule input[data-f="lo"]').first
            box.fill("30")
            box.press("Enter")
            _wait_kept(page, want_30)
            assert score.poll() is None  # still computing
        assert score.returncode == 0, score.err
        assert "in use" not in score.err

        # a plain DuckDB reader neither waits nor asks: it gets the file once the dashboard has been idle a moment
        code = (
            f"import duckdb; c = duckdb.connect({ws + '/winnow.duckdb'!r}, read_only=True);"
            " print(*c.execute('SELECT count(*), count(gopher_word_count) FROM corpus').fetchone())"
        )
        deadline, r = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            r = _run([sys.executable, "-c", code])
            if r.returncode == 0:
                break
            assert "lock" in r.stderr.lower(), r.stderr
            time.sleep(0.5)
        assert r is not None and r.returncode == 0 and r.stdout.split() == ["240", "240"], r and r.stderr

        # the same browser session goes on: a threshold change is answered (the dashboard reopened the file) ...
        box = page.locator('.wl-rule input[data-f="lo"]').first
        box.fill("10")
        box.press("Enter")
        _wait_kept(page, want_10)
        # ... and a rule on the column the command wrote counts what SQL counts
        want_new = _count(ws, "gopher_word_count >= 20")
        page.goto(f"{url}/thresholds?r=range:gopher_word_count:20.0,", wait_until="domcontentloaded")
        page.locator(KEPT).wait_for(timeout=60_000)
        _wait_kept(page, want_new)
        assert 0 < _kept(page) == want_new < 240
        assert page.locator("[data-testid=stException]").count() == 0
        browser.close()


def test_the_reaper_stops_at_exit_after_its_tick(tmp_path):
    """The reaper's daemon thread is stopped and joined when the interpreter exits (atexit), so it is never
    killed inside DuckDB while releasing a workspace (that aborted the process after the tests had passed); a
    process that exits while its workspace is being released every few ms ends cleanly."""
    from app.shared_workspace import _Reaper

    r = _Reaper()
    assert r.thread.is_alive()
    r.stop()
    assert not r.thread.is_alive()
    ws = _ws(tmp_path / "ws")
    code = (
        "import time; from app.shared_workspace import SharedWorkspace\n"
        f"s = SharedWorkspace({ws!r}, idle_s=0.01, grace_s=0.0)\n"
        "end = time.monotonic() + 0.5\n"
        "while time.monotonic() < end: s.cursor().execute('SELECT count(*) FROM docs').fetchall()\n"
    )
    for _ in range(3):
        r2 = _run([sys.executable, "-c", code])
        assert r2.returncode == 0, r2.stderr[-2000:]
