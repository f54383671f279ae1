"""Kill at a random point: ``ingest``, ``score``, ``embed`` and ``apply`` SIGKILLed through the real CLI.

:class:`KillLab` builds uninterrupted baselines once; :meth:`KillLab.trial` kills one command after a given
delay in a fresh copy of its starting state, checks what is left (the workspace opens, nothing visible is
half-written, no document lost) and re-runs it to compare with the baseline. Used by
``tests/test_faults.py`` and ``bench/bench_reliability.py``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from tests.faults import corpus_digest, export_digest, half_written, run_cli, write_corpus


@dataclass
class KillResult:
    """One kill trial: where it was killed and what the checks found."""

    stage: str
    delay: float
    finished_before_kill: bool
    problems: list[str] = field(default_factory=list)
    lost: int = 0
    peak_rss_mb: float = 0.0


def copy_ws(src: Path, dest: Path) -> None:
    """A byte copy of a closed workspace directory."""
    shutil.copytree(src, dest)


# ---------------------------------------------------------------- kill at a random point

RECIPE = "version: 1\nname: kill\nrules:\n  - {signal: size_words, min: 12}\n  - {signal: gopher_stop_words, min: 2}\n"
FAMILIES = "size,gopher_quality"


class KillLab:
    """Baselines for the kill trials, built once with uninterrupted CLI runs under ``base``.

    States: ``pre_ingest`` (a workspace holding a source ``keep``), ``ingested`` (+ source ``c`` of
    ``n_docs`` documents), ``scored`` (+ two signal families), ``embedded`` (+ hash-embedder vectors) and
    ``applied`` (an export of ``scored``). Each stage's trial starts from a copy of the state before it.
    """

    STAGES: ClassVar[dict[str, tuple[str, str]]] = {
        "ingest": ("pre_ingest", "ingested"),
        "score": ("ingested", "scored"),
        "embed": ("ingested", "embedded"),
        "apply": ("scored", "applied"),
    }

    def __init__(self, base: Path, *, n_docs: int = 6000, n_keep: int = 100, model: str | None = "hash:64"):
        self.base, self.n_docs, self.n_keep, self.model = base, n_docs, n_keep, model
        self.inputs = base / "inputs"
        self.inputs.mkdir(parents=True)
        write_corpus(self.inputs / "c.jsonl", n_docs, seed=1)
        write_corpus(self.inputs / "keep.jsonl", n_keep, seed=2, prefix="k")
        (self.inputs / "r.yaml").write_text(RECIPE, encoding="utf-8")
        self.seconds: dict[str, float] = {}
        self.digest: dict[str, dict[str, str]] = {}
        self.rss: dict[str, float] = {}
        self._state("pre_ingest", None, ["ingest", "keep.jsonl", "-w", "ws", "--source", "keep"])
        for stage, (pre, post) in self.STAGES.items():
            self._state(post, pre, self.args(stage), stage=stage)
        self.export = export_digest(self.base / "applied" / "out")

    def args(self, stage: str) -> list[str]:
        """The command line of ``stage`` (the same for the baseline, the killed run and the re-run)."""
        return {
            "ingest": ["ingest", "c.jsonl", "-w", "ws", "--source", "c"],
            "score": ["score", "-w", "ws", "-s", FAMILIES, "--batch-size", "500"],
            "embed": ["embed", "-w", "ws", *(["--model", self.model] if self.model else [])],
            "apply": [
                "apply",
                "-w",
                "ws",
                "-r",
                "r.yaml",
                "--out",
                "out",
                "--format",
                "jsonl.gz",
                "--shard-size",
                "1000",
                "--overwrite",
            ],
        }[stage]

    def _prepare(self, dest: Path, pre: str | None) -> Path:
        dest.mkdir(parents=True)
        for f in self.inputs.iterdir():
            os.symlink(f, dest / f.name)
        if pre:
            copy_ws(self.base / pre / "ws", dest / "ws")
        return dest

    def _state(self, name: str, pre: str | None, args: list[str], *, stage: str | None = None) -> None:
        d = self._prepare(self.base / name, pre)
        run = run_cli(args, cwd=d, timeout=600)
        if run.rc != 0:
            raise RuntimeError(f"baseline {' '.join(args)} failed ({run.rc}): {run.stderr[-500:]}")
        self.digest[name] = corpus_digest(d / "ws")
        if stage:
            self.seconds[stage], self.rss[stage] = run.seconds, run.peak_rss_mb

    def trial(self, stage: str, delay: float, where: Path) -> KillResult:
        """Kill ``stage`` after ``delay`` s in a fresh copy of its starting state, check, re-run, compare."""
        pre, post = self.STAGES[stage]
        d = self._prepare(where, pre)
        ws = d / "ws"
        killed = run_cli(self.args(stage), cwd=d, kill_after=delay, timeout=600)
        res = KillResult(stage, delay, not killed.killed, peak_rss_mb=killed.peak_rss_mb)
        if not killed.killed and killed.rc != 0:
            res.problems.append(f"uninterrupted run failed ({killed.rc}): {killed.stderr.strip()[-300:]}")
        info = run_cli(["info", "-w", "ws", "--json"], cwd=d, timeout=120)
        if info.rc != 0:
            res.problems.append(f"workspace does not open after the kill: {info.stderr.strip()[-300:]}")
            return res
        res.problems += half_written(ws)
        res.lost = self._lost(ws, info.last_json(), pre)
        if stage == "ingest" and info.last_json()["sources"].get("c") not in (None, self.n_docs):
            res.problems.append(f"source c visible with {info.last_json()['sources']['c']} of {self.n_docs}")
        out = d / "out"
        if stage == "apply" and out.exists() and export_digest(out) != self.export:
            res.problems.append(
                f"the export visible after the kill differs from an uninterrupted run's: {sorted(export_digest(out))}"
            )
        again = run_cli(self.args(stage), cwd=d, timeout=600)
        res.peak_rss_mb = max(res.peak_rss_mb, again.peak_rss_mb)
        if again.rc != 0:
            res.problems.append(f"re-run failed ({again.rc}): {again.stderr.strip()[-300:]}")
            return res
        got = corpus_digest(ws)
        want = self.digest[post]
        res.problems += [f"{k} differs from an uninterrupted run" for k in sorted(want) if got.get(k) != want[k]]
        if stage == "apply":
            if export_digest(out) != self.export:
                res.problems.append("re-run export differs from an uninterrupted run (sha256)")
            res.problems += [f"left behind: {p.name}" for p in d.iterdir() if ".tmp" in p.name]
        return res

    def _lost(self, ws: Path, info: dict, pre: str) -> int:
        """Documents of the starting state that the killed run made disappear."""
        before = {"pre_ingest": {"keep": self.n_keep}}.get(pre, {"keep": self.n_keep, "c": self.n_docs})
        return sum(max(0, n - info["sources"].get(s, 0)) for s, n in before.items())
