"""Progress reporting shared by the CLI (stderr) and the dashboard (a callback into st.progress).

Long library functions take ``progress: Progress | None`` and call ``progress(done, total, stage)``
(``total`` may be None when unknown; ``done`` is absolute within a stage, not an increment). The CLI passes
the callback of :func:`tqdm_progress`; the UI passes its own.

:func:`tqdm_progress` is the one terminal implementation. On a terminal it draws one tqdm bar per stage
(label and stage shown once, total, rate and ETA when the total is known), redrawn at least every second
by a ticker thread so the elapsed time and rate keep moving while a slow batch runs. When stderr is not a
terminal (a log file, CI) it writes a plain line every ``line_every`` seconds instead (nothing for a run
that ends sooner), and a last line per stage once it has written one. Its callback also takes
``unit=`` (``"doc"`` or ``"B"``: a stage measured in input bytes), announced by ``accepts_unit``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

Progress = Callable[[int, "int | None", str], None]


def null_progress(done: int, total: int | None = None, stage: str = "") -> None:
    """A progress callback that does nothing."""


def fmt_amount(n: float, unit: str) -> str:
    """``12,345 docs`` or ``12.3 MB``."""
    if unit == "B":
        for u, d in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if n >= d:
                return f"{n / d:.1f} {u}"
        return f"{int(n)} B"
    return f"{int(n):,} {unit}s"


def fmt_secs(s: float) -> str:
    """``1:02:03`` or ``2:03``."""
    s = round(s)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Reporter:
    """The callback of :func:`tqdm_progress`: one stage at a time, drawn as a bar or as plain lines."""

    accepts_unit = True

    def __init__(
        self,
        label: str,
        *,
        unit: str,
        stream: TextIO,
        mode: str,
        refresh_every: float = 1.0,
        line_every: float = 10.0,
    ) -> None:
        self.label, self.default_unit, self.stream, self.mode = label, unit, stream, mode
        self.refresh_every, self.line_every = refresh_every, line_every
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._bar: Any = None
        self._stage: tuple[str, str] | None = None
        self.done, self.total, self.unit, self._start = 0, None, unit, 0
        self._t0 = self._last_line = time.monotonic()
        self._lines_in_stage = 0
        self._thread: threading.Thread | None = None
        if mode != "off":
            self._thread = threading.Thread(target=self._tick, name="winnow-progress", daemon=True)
            self._thread.start()

    def title(self, stage: str) -> str:
        """The label, and the stage once (``apply: score``, never ``apply: apply``)."""
        return self.label if not stage or stage == self.label else f"{self.label}: {stage}"

    def __call__(self, done: int, total: int | None = None, stage: str = "", *, unit: str | None = None) -> None:
        unit = unit or self.default_unit
        with self._lock:
            if self._stage != (stage, unit):
                self._end_stage()
                self._stage = (stage, unit)
                self._t0 = self._last_line = time.monotonic()
                self._lines_in_stage = 0
                self.unit, self._start = unit, done
                if self.mode == "bar":
                    self._bar = self._new_bar(stage, unit, total)
            self.done, self.total = done, total
            if self._bar is not None:
                if total is not None and self._bar.total != total:
                    self._bar.total = total
                if done >= self._bar.n:
                    self._bar.update(done - self._bar.n)
                else:  # a stage that restarts its count: show it from there
                    self._bar.n = done
                    self._bar.refresh()

    def _new_bar(self, stage: str, unit: str, total: int | None) -> Any:
        from tqdm import tqdm

        return tqdm(
            desc=self.title(stage),
            total=total,
            unit=unit,
            unit_scale=True,
            unit_divisor=1000,
            dynamic_ncols=True,
            file=self.stream,
            mininterval=0.5,
            leave=True,
        )

    def line(self) -> str:
        """One plain progress line: stage, done/total (percent), rate, elapsed, ETA."""
        stage = self._stage[0] if self._stage else ""
        secs = max(time.monotonic() - self._t0, 1e-9)
        rate = (self.done - self._start) / secs
        text = f"{self.title(stage)}: {fmt_amount(self.done, self.unit)}"
        if self.total:
            text += f" of {fmt_amount(self.total, self.unit)} ({100 * self.done / self.total:.1f}%)"
        text += f", {fmt_amount(rate, self.unit)}/s, elapsed {fmt_secs(secs)}"
        if self.total and rate > 0 and self.done < self.total:
            text += f", ETA {fmt_secs((self.total - self.done) / rate)}"
        return text

    def _write_line(self) -> None:
        self.stream.write(self.line() + "\n")
        self.stream.flush()
        self._last_line = time.monotonic()
        self._lines_in_stage += 1

    def _tick(self) -> None:
        while not self._stop.wait(self.refresh_every):
            with self._lock:
                if self._bar is not None:
                    self._bar.refresh()
                elif self.mode == "lines" and self._stage and time.monotonic() - self._last_line >= self.line_every:
                    self._write_line()

    def _end_stage(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "lines" and self._lines_in_stage:
            self._write_line()  # where a logged stage ended

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._end_stage()


@contextlib.contextmanager
def tqdm_progress(
    desc: str,
    *,
    unit: str = "doc",
    disable: bool | None = None,
    stream: TextIO | None = None,
    refresh_every: float = 1.0,
    line_every: float = 10.0,
) -> Iterator[Reporter]:
    """A progress callback on stderr: a bar per stage on a terminal, plain lines every ``line_every``
    seconds otherwise. ``disable=True`` shows nothing; ``disable=False`` draws the bar even off a terminal."""
    stream = stream or sys.stderr
    if disable:
        mode = "off"
    elif disable is False or stream.isatty():
        mode = "bar"
    else:
        mode = "lines"
    rep = Reporter(desc, unit=unit, stream=stream, mode=mode, refresh_every=refresh_every, line_every=line_every)
    try:
        yield rep
    finally:
        rep.close()
