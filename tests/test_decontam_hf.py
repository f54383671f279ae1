"""``hf:`` benchmark ids: a ``save_to_disk`` directory named with ``hf:`` loads offline; a hub id with the
hub unreachable fails with one line that says so and how to pass a local file instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from app.decontam import DecontamError
from app.decontam.store import hub_error
from app.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
QUESTION = (
    "Which gas do green plants absorb from the atmosphere during photosynthesis and release oxygen as a "
    "by-product of turning light into chemical energy?"
)


def _ws(tmp_path) -> Path:
    wsp = tmp_path / "ws"
    with Workspace.open(wsp, create=True) as w:
        w.write_source("web", pd.DataFrame({"id": ["c", "d"], "text": [QUESTION, "An unrelated short note."]}))
    return wsp


def test_hub_id_offline_is_one_clear_line(tmp_path):
    pytest.importorskip("datasets")
    wsp = _ws(tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    cmd = [sys.executable, "-m", "app.cli", "decontam", "add", "mmlu", "hf:cais/mmlu:abstract_algebra/test"]
    r = subprocess.run([*cmd, "--workspace", str(wsp)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 1, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "cannot be reached" in lines[0] and "pass the file" in lines[0]
    assert "load_dataset('cais/mmlu', 'abstract_algebra', split='test')" in lines[0]


def test_other_loader_errors_keep_their_reason():
    msg = hub_error("hf:x/y", {"name": "x/y"}, ValueError("BuilderConfig 'zz' not found"))
    assert msg == "cannot read benchmark hf:x/y: BuilderConfig 'zz' not found"


def test_hf_prefixed_saved_dataset_loads_offline(tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    from app.cli import main

    d = tmp_path / "saved"
    datasets.Dataset.from_dict({"question": [QUESTION], "answer": ["Carbon dioxide"]}).save_to_disk(str(d))
    wsp = _ws(tmp_path)
    assert main(["decontam", "add", "quiz", f"hf:{d}", "--workspace", str(wsp), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["added"]["items"] == 1 and out["contaminated"] == 1
    with pytest.raises(DecontamError):
        from app.decontam.store import read_benchmark

        read_benchmark([f"hf:{d}"], fields=["nope"])
