"""Start the dashboard: ``streamlit run app/ui/main.py`` bound to localhost, for ``winnow ui`` and ``winnow demo``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MAIN = Path(__file__).resolve().with_name("main.py")


def streamlit_command(
    workspace: str | os.PathLike, *, port: int = 8501, address: str = "127.0.0.1", open_browser: bool = True
) -> list[str]:
    """The exact command line :func:`launch` runs (also used by the browser test and the benchmark)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(MAIN),
        "--server.address",
        address,
        "--server.port",
        str(int(port)),
        "--server.headless",
        "false" if open_browser else "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--",
        "--workspace",
        str(Path(workspace).resolve()),
    ]


def launch(
    workspace: str | os.PathLike, *, port: int = 8501, open_browser: bool = True, address: str = "127.0.0.1"
) -> int:
    """Run the dashboard on ``address:port`` for ``workspace`` until interrupted; return the exit code.

    Binds 127.0.0.1 unless ``address`` says otherwise: document text is untrusted and the dashboard
    can write to the workspace, so it is not exposed to the network by default.
    """
    env = dict(os.environ, WINNOW_WORKSPACE=str(Path(workspace).resolve()))
    cmd = streamlit_command(workspace, port=port, address=address, open_browser=open_browser)
    print(f"Winnow dashboard: http://{address}:{port}  (workspace {workspace}; Ctrl+C to stop)", file=sys.stderr)
    try:
        return subprocess.call(cmd, env=env, cwd=str(MAIN.parents[2]))
    except KeyboardInterrupt:
        return 0
