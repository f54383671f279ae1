"""Background jobs (ingest, score, embed, map) in threads of the dashboard process, with progress.

The dashboard process owns the DuckDB file, so heavy work runs here in threads (each library call takes its
own cursor) and the page polls the job's progress from a fragment: the page never freezes. The registry
is process-wide so a job survives reruns and page switches.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.errors import WinnowError


@dataclass
class Job:
    """A running or finished job: what it is, how far it got, and how it ended."""

    name: str
    workspace: str
    started: float = field(default_factory=time.time)
    done: int = 0
    total: int | None = None
    stage: str = ""
    status: str = "running"  # running | done | failed
    error: str = ""
    result: Any = None
    finished: float | None = None

    def progress(self, done: int, total: int | None = None, stage: str = "") -> None:
        """The ``progress(done, total, stage)`` callback handed to the library."""
        self.done = int(done)
        if total is not None:
            self.total = int(total)
        if stage:
            self.stage = stage

    @property
    def fraction(self) -> float:
        if self.status == "done":
            return 1.0
        if not self.total:
            return 0.0
        return max(0.0, min(1.0, self.done / self.total))

    def eta_s(self) -> float | None:
        """Seconds left at the average rate so far (None until there is a rate)."""
        elapsed = time.time() - self.started
        f = self.fraction
        if self.status != "running" or f <= 0 or elapsed < 1:
            return None
        return elapsed * (1 - f) / f

    def describe(self) -> str:
        stage = f" — {self.stage}" if self.stage else ""
        count = f" {self.done:,}/{self.total:,}" if self.total else (f" {self.done:,}" if self.done else "")
        eta = self.eta_s()
        eta_txt = f", about {eta:.0f} s left" if eta is not None else ""
        return f"{self.name}{stage}:{count}{eta_txt}"


class JobRegistry:
    """Jobs by workspace; at most one running job per workspace (DuckDB has one writer anyway)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: list[Job] = []

    def running(self, workspace: str) -> Job | None:
        with self._lock:
            return next((j for j in self.jobs if j.workspace == workspace and j.status == "running"), None)

    def recent(self, workspace: str, n: int = 5) -> list[Job]:
        with self._lock:
            return [j for j in self.jobs if j.workspace == workspace][-n:][::-1]

    def start(self, name: str, workspace: str, fn: Callable[[Callable[..., None]], Any]) -> Job:
        """Run ``fn(progress)`` in a daemon thread; refuse when another job runs on this workspace."""
        with self._lock:
            busy = next((j for j in self.jobs if j.workspace == workspace and j.status == "running"), None)
            if busy:
                raise WinnowError(f"{busy.name} is still running on this workspace; wait for it to finish")
            job = Job(name=name, workspace=workspace)
            self.jobs.append(job)

        def target() -> None:
            try:
                job.result = fn(job.progress)
                job.status = "done"
            except WinnowError as e:
                job.error, job.status = str(e), "failed"
            except Exception as e:  # a bug: keep the page alive and show one line plus the trace in the log
                job.error, job.status = f"internal error: {type(e).__name__}: {e}", "failed"
                traceback.print_exc()
            finally:
                job.finished = time.time()

        threading.Thread(target=target, name=f"winnow-job-{name}", daemon=True).start()
        return job
