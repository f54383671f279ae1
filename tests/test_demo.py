"""``winnow demo``: the network probe never hangs, the offline fallbacks build a usable workspace."""

from __future__ import annotations

import json
import socket
import time

import pytest

from app.commands import demo
from app.workspace import Workspace


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_is_quick_and_false_when_unreachable(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    t = time.perf_counter()
    assert demo.hub_reachable("127.0.0.1", port=_closed_port(), timeout=2.5) is False
    assert time.perf_counter() - t < 5


def test_probe_respects_offline_mode(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        assert demo.hub_reachable("127.0.0.1", port=srv.getsockname()[1]) is False
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
        assert demo.hub_reachable("127.0.0.1", port=srv.getsockname()[1]) is True


def test_find_realmix_honours_winnow_shared(tmp_path, monkeypatch):
    p = tmp_path / "corpora" / "realmix"
    p.mkdir(parents=True)
    (p / "realmix.parquet").write_bytes(b"x")
    monkeypatch.setenv("WINNOW_SHARED", str(tmp_path))
    assert demo.find_realmix() == p / "realmix.parquet"


def test_sample_corpus_ships_and_is_deterministic():
    from app.sample import generate

    docs, instruct = generate.build()
    shipped = [json.loads(x) for x in (demo.SAMPLE_DIR / "sample.jsonl").read_text(encoding="utf-8").splitlines()]
    assert shipped == docs and len(docs) >= 250 and len(instruct) >= 10
    kinds = {d["kind"] for d in docs}
    assert {"clean", "boilerplate", "spam", "repeated_lines", "non_english", "exact_duplicate", "pii"} <= kinds


def test_demo_cli_builds_the_sample_workspace_and_reuses_it(tmp_path, capsys):
    from app.cli import main

    ws_dir = tmp_path / "demo"
    args = ["demo", "-w", str(ws_dir), "--corpus", "sample", "--no-ui", "--no-score", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["corpus"] == "sample" and out["sources"] == {"sample_web": 295, "sample_instruct": 12}
    with Workspace.open(ws_dir, read_only=True) as ws:
        assert ws.info()["documents"] == 307
        assert ws.cursor().execute("SELECT count(*) FROM corpus WHERE instruction IS NOT NULL").fetchone()[0] == 12
    assert main(args) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out.strip().splitlines()[-1])["reused"] is True
    assert "winnow ui --workspace" in cap.err
    assert main(args[:-1]) == 0  # without --json: one readable line, no JSON
    assert capsys.readouterr().out == f"demo workspace {ws_dir}: reused, 307 documents\n"


@pytest.mark.realdata
def test_demo_from_realmix_has_one_source_per_realmix_source(realmix, tmp_path, monkeypatch):
    monkeypatch.setenv("WINNOW_SHARED", str(realmix.parents[1]))
    done = demo.build_demo(tmp_path / "d", corpus="realmix", per_source=25, score=False)
    assert done["corpus"] == "realmix"
    assert len(done["sources"]) == 7 and done["sources"]["web"] == 20
    assert all(n == 25 for k, n in done["sources"].items() if k != "web")
    with Workspace.open(tmp_path / "d", read_only=True) as ws:
        ids = ws.cursor().execute("SELECT min(id) FROM corpus").fetchone()[0]
    assert ids.startswith("rm-")  # realmix ids are kept
