"""Issue 17's CLI odds: one line for a busy port, one name per option, human output by default, no empty
workspace left by a failed first ingest, a hint for a signal family's prefix, the README's CLI block."""

from __future__ import annotations

import socket

import pytest

from app.cli import build_parser, main


def test_ui_on_a_busy_port_is_one_line_before_anything_starts(tmp_path, capsys, monkeypatch):
    import subprocess

    def no_server(*a, **k):
        raise AssertionError("the dashboard was started on a busy port")

    monkeypatch.setattr(subprocess, "Popen", no_server)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        rc = main(["ui", "--workspace", str(tmp_path / "ws"), "--port", str(port), "--no-browser"])
    err = capsys.readouterr().err
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "--port" in lines[0], err
    assert "http://" not in err  # no URL printed for a server that never starts


@pytest.mark.parametrize("command", ["ui", "demo"])
@pytest.mark.parametrize("spelling", ["--no-browser", "--no-open"])
def test_both_spellings_of_no_browser_on_both_commands(command, spelling):
    args = build_parser().parse_args([command, spelling])
    assert args.no_browser is True
    assert build_parser().parse_args([command]).no_browser is False


def _tiny_ws(path) -> str:
    import pandas as pd

    from app.workspace import Workspace

    with Workspace.open(path, create=True) as ws:
        ws.write_source("web", pd.DataFrame({"id": ["a", "b"], "text": ["one doc here", "another doc"]}))
    return str(path)


@pytest.mark.parametrize("argv", [["info"], ["signals", "list"]])
def test_human_output_by_default_and_json_only_with_the_flag(argv, tmp_path, capsys):
    import json

    ws = _tiny_ws(tmp_path / "ws")
    extra = ["--workspace", ws] if argv == ["info"] else []
    assert main([*argv, *extra]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out and not any(line.lstrip().startswith(("{", "[")) for line in out), out[-1][:200]
    assert main([*argv, *extra, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and isinstance(json.loads(lines[0]), dict)


def test_a_failed_first_ingest_leaves_no_workspace_behind(tmp_path, capsys):
    target = tmp_path / "data" / "default"
    assert main(["ingest", str(tmp_path / "typo.jsonl"), "--workspace", str(target)]) == 1
    assert "typo.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
    # a directory that was there keeps what it held; only what the command added goes
    kept = tmp_path / "mine"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    assert main(["ingest", str(tmp_path / "typo.jsonl"), "--workspace", str(kept)]) == 1
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt"]


def test_a_failed_ingest_into_an_existing_workspace_keeps_it(tmp_path):
    ws = _tiny_ws(tmp_path / "ws")
    assert main(["ingest", str(tmp_path / "typo.jsonl"), "--workspace", ws]) == 1
    assert main(["info", "--workspace", ws, "--json"]) == 0


@pytest.mark.parametrize(
    ("typed", "meant"), [("gopher", "gopher_quality, gopher_repetition"), ("dedup", "dedup_exact, dedup_near")]
)
def test_a_family_prefix_suggests_its_families(typed, meant, tmp_path, capsys):
    ws = _tiny_ws(tmp_path / "ws")
    assert main(["score", "--workspace", ws, "--signals", f"size,{typed}"]) == 1
    err = capsys.readouterr().err
    assert f"did you mean {meant}?" in err and len(err.strip().splitlines()) == 1, err


def test_readme_cli_block_is_generated_from_the_parser():
    from app.cli_doc import ROOT, readme_section

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_section() in readme, "README's cli block is stale: run python -m app.cli_doc --write"
    assert "[--no-browser]" in readme_section() and "--no-open" not in readme_section()
