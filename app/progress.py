"""Progress reporting shared by the CLI (tqdm on stderr) and the dashboard (a callback into st.progress).

Long library functions take ``progress: Progress | None`` and call ``progress(done, total, stage)``
(``total`` may be None when unknown). The CLI passes :func:`tqdm_progress`; the UI passes its own.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

Progress = Callable[[int, "int | None", str], None]


def null_progress(done: int, total: int | None = None, stage: str = "") -> None:
    """A progress callback that does nothing."""


@contextlib.contextmanager
def tqdm_progress(desc: str, *, unit: str = "doc", disable: bool | None = None) -> Iterator[Progress]:
    """A progress callback drawing a tqdm bar on stderr (hidden when stderr is not a terminal
    unless ``disable=False``). ``done`` is absolute, not an increment."""
    from tqdm import tqdm

    if disable is None:
        disable = not sys.stderr.isatty()
    bar = tqdm(desc=desc, unit=unit, unit_scale=True, dynamic_ncols=True, file=sys.stderr, disable=disable)
    stage_now = [""]

    def update(done: int, total: int | None = None, stage: str = "") -> None:
        if total is not None and bar.total != total:
            bar.total = total
        if stage and stage != stage_now[0]:
            stage_now[0] = stage
            bar.set_description(f"{desc}: {stage}")
        bar.update(max(0, done - bar.n))

    try:
        yield update
    finally:
        bar.close()
