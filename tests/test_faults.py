"""Fault injection and hostile input (issue 11): the real ``winnow`` command, killed or fed bad input.

- Kill at a random point: ``ingest``, ``score``, ``embed`` and ``apply`` are SIGKILLed after a seeded random
  delay; the workspace must open (``winnow info``), show nothing half-written, lose no document, and a
  re-run must give exactly what an uninterrupted run gives (same table contents, same export sha256s).
  One trial per command by default (``WINNOW_FAULT_SEED`` picks the points); the ``slow`` variant runs
  more trials on a bigger corpus, and embeds with the packaged transformer.
- Hostile inputs (built in :mod:`tests.hostile`): each must give a one-line error that is not an internal
  error, or a counted skip, under an address-space cap, with the starting workspace intact.
- Embedding commits by time, so a crash loses at most ~30 s of work.

Reused, not repeated: the readers' truncation/quote/UTF-8 properties are in ``tests/test_ingest_robust.py``,
the recipe parser's fuzz and capped-subprocess cases in ``tests/test_recipe_hostile.py``, the ``--overwrite``
guard's library cases in ``tests/test_export.py``; those kinds run here through the CLI in the slow run.
"""

from __future__ import annotations

import os
import random

import pandas as pd
import pytest

from tests.hostile import CASES
from tests.kills import KillLab

SEED = int(os.environ.get("WINNOW_FAULT_SEED", "11"))


def delays(lab: KillLab, stage: str, n: int) -> list[float]:
    """``n`` seeded kill delays spread over the uninterrupted run's duration (Python start-up included)."""
    rnd = random.Random(f"{stage}:{SEED}")
    return [rnd.uniform(0.3, max(0.6, lab.seconds[stage])) for _ in range(n)]


def check_trials(lab: KillLab, stage: str, n: int, where) -> None:
    for i, delay in enumerate(delays(lab, stage, n)):
        res = lab.trial(stage, delay, where / f"{stage}-{i}")
        assert res.problems == [] and res.lost == 0, f"killed after {delay:.2f} s: {res}"


# ---------------------------------------------------------------- kill at a random point


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> KillLab:
    return KillLab(tmp_path_factory.mktemp("kill"), n_docs=1200)


@pytest.mark.parametrize("stage", list(KillLab.STAGES))
def test_killed_at_a_random_point_reruns_to_the_same_result(lab, stage, tmp_path):
    check_trials(lab, stage, 1, tmp_path)


@pytest.fixture(scope="module")
def big_lab(tmp_path_factory) -> KillLab:
    return KillLab(tmp_path_factory.mktemp("kill-big"), n_docs=9000)


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(KillLab.STAGES))
def test_killed_many_times_reruns_to_the_same_result(big_lab, stage, tmp_path):
    check_trials(big_lab, stage, 8, tmp_path)


@pytest.mark.slow
def test_killed_embedding_with_the_packaged_model_resumes_exactly(tmp_path_factory, tmp_path):
    """The default model (no ``--model``): kills land during model loading and between commits."""
    lab = KillLab(tmp_path_factory.mktemp("kill-st"), n_docs=600, model=None)
    check_trials(lab, "embed", 3, tmp_path)


# ---------------------------------------------------------------- hostile inputs through the CLI


#: kinds already tested elsewhere (tests/test_ingest_robust.py in-process, tests/test_recipe_hostile.py through
#: a capped subprocess): here through the CLI only in the slow run; the benchmark runs every kind
_COVERED_ELSEWHERE = {
    "truncated .jsonl.gz",
    "truncated .csv.gz",
    "truncated .jsonl.zst",
    "truncated .parquet",
    "unclosed CSV quote",
    "YAML alias bomb (validate)",
    "100 MB recipe",
    "990 nested not",
}


@pytest.mark.parametrize(
    "kind", [pytest.param(k, marks=pytest.mark.slow) if k in _COVERED_ELSEWHERE else k for k in CASES]
)
def test_hostile_input_is_one_line_and_loses_nothing(kind, tmp_path):
    res = CASES[kind](tmp_path, SEED)
    assert res.problems == [] and res.lost == 0, res


# ---------------------------------------------------------------- embedding commits by time


def test_embedding_commits_by_time_so_a_crash_loses_at_most_a_step(tmp_path, monkeypatch):
    """A slow model (1 s a text on a fake clock) that crashes at text 700: with commits every 4,096 texts
    only, all 700 texts of work were lost; committing every ``COMMIT_SECONDS`` keeps all but the last step."""
    import app.embed as embed_mod
    from app.embed import embed, vectors_table
    from app.embed.models import HashEmbedder
    from app.workspace import Workspace

    clock = [0.0]
    monkeypatch.setattr(embed_mod.time, "perf_counter", lambda: clock[0])

    class SlowCrashing(HashEmbedder):
        seen = 0

        def encode(self, texts, *, progress=None):
            for _ in texts:
                SlowCrashing.seen += 1
                clock[0] += 1.0
                if SlowCrashing.seen == 700:
                    raise KeyboardInterrupt
            return super().encode(texts, progress=progress)

    with Workspace.open(tmp_path / "ws", create=True) as ws:
        ws.write_source(
            "s", pd.DataFrame({"id": [f"d{i}" for i in range(1000)], "text": [f"t {i}" for i in range(1000)]})
        )
        with pytest.raises(KeyboardInterrupt):
            embed(ws, embedder=SlowCrashing(8))
        kept = ws.cursor().execute(f'SELECT count(*) FROM "{vectors_table("hash:8")}"').fetchone()[0]
        step = getattr(embed_mod, "STEP", 4096)
        assert kept > 0 and 700 - step <= kept < 700, f"{kept} of 700 encoded texts kept (step {step})"
        out = embed(ws, embedder=HashEmbedder(8))
        assert (out["cached"], out["embedded"]) == (kept, 1000 - kept)
