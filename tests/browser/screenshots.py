"""Screenshots of every dashboard page's default view on a workspace, to look at (issue 17: "each page's default
view ... shows data (screenshots re-taken and looked at)").

Starts the real dashboard (``app.launch.Server``) on ``--workspace``, opens each page in Debian's chromium
(Playwright, the browser test's setup) at 1440 x 1600 (Streamlit scrolls inside the page, so that is what a screenshot holds), waits until Streamlit has finished running the page, and
writes ``<page>.png`` (full page) under ``--out``. Prints one line per page: its size, the seconds it took, and
whether the page shows an exception, an error box or an empty chart (a Plotly figure without data), so a glance at
the output says which screenshot to look at first.

Build the real-world workspace of the issue first (realmix's raw files, as a user would)::

    winnow ingest ../shared/corpora/realmix/raw/ -w /tmp/rmraw
    winnow score -w /tmp/rmraw && winnow embed --fast -w /tmp/rmraw && winnow map -w /tmp/rmraw
    python tests/browser/screenshots.py --workspace /tmp/rmraw --out /tmp/shots
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PAGES = ("workspace", "distributions", "thresholds", "map", "documents", "learn", "export")

#: Streamlit's app root says whether the script is running (``running``, ``notRunning``, ``initial``...)
_STATE = "[data-testid=stApp]"


def settle(page, *, timeout: float = 180.0, quiet: float = 2.0) -> None:
    """Wait until the script has finished and stayed finished for ``quiet`` seconds (a page may rerun itself
    after its first draw: a fragment, a cache fill)."""
    deadline = time.monotonic() + timeout
    calm_since = None
    while time.monotonic() < deadline:
        state = page.locator(_STATE).get_attribute("data-test-script-state") if page.locator(_STATE).count() else None
        if state != "notRunning":
            calm_since = None
        elif calm_since is None:
            calm_since = time.monotonic()
        elif time.monotonic() - calm_since >= quiet:
            return
        time.sleep(0.25)


def check(page) -> list[str]:
    """What looks wrong on the page: exceptions, error boxes, Plotly charts without data."""
    out = []
    if n := page.locator("[data-testid=stException]").count():
        out.append(f"{n} exception(s)")
    if n := page.locator("[data-testid=stAlertContentError]").count():
        out.append(f"{n} error box(es)")
    empty = page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot')).filter(
            p => !p.data || p.data.length === 0 || p.data.every(t => !(t.x || t.y || t.z || t.values || t.lat)
                 || ((t.x || t.y || t.values || []).length === 0))).length"""
    )
    if empty:
        out.append(f"{empty} empty chart(s)")
    return out


def shoot(
    workspace: str, out: Path, *, pages: tuple[str, ...] = PAGES, width: int = 1440, height: int = 1600
) -> list[dict]:
    """Screenshot each page of ``pages`` (its default view) into ``out``; one row per page (module docstring)."""
    from playwright.sync_api import sync_playwright

    from app.launch import Server
    from tests.browser.test_e2e import ARGS, CHROMIUM

    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with Server(workspace, timeout=120) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": width, "height": height})
        for name in pages:
            t = time.monotonic()
            path_ = "" if name == "workspace" else name  # the default page lives at the root URL
            page.goto(f"{url}/{path_}", wait_until="domcontentloaded")
            page.locator("[data-testid=stMain]").wait_for(timeout=60_000)
            settle(page)
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            rows.append(
                {"page": name, "png": str(path), "seconds": round(time.monotonic() - t, 1), "issues": check(page)}
            )
        browser.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", "-w", required=True)
    ap.add_argument("--out", default="/tmp/winnow-shots", help="folder for the PNGs (default: %(default)s)")
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated pages (default: all)")
    args = ap.parse_args(argv)
    rows = shoot(args.workspace, Path(args.out), pages=tuple(p.strip() for p in args.pages.split(",") if p.strip()))
    for r in rows:
        print(f"{r['page']:14s} {r['seconds']:6.1f} s  {r['png']}  {'; '.join(r['issues']) or 'ok'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
