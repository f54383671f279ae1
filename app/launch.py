"""Start the dashboard: ``streamlit run app/ui/server.py`` (``app/ui/main.py`` plus the panel's routes) bound to localhost, for ``winnow ui`` and ``winnow demo``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app.errors import WinnowError

UI_DIR = Path(__file__).resolve().parent / "ui"
MAIN = UI_DIR / "main.py"
#: what ``streamlit run`` is given: an ``st.App`` serving MAIN plus the Thresholds panel's routes
ENTRY = UI_DIR / "server.py"


def streamlit_command(
    workspace: str | os.PathLike, *, port: int = 8501, address: str = "127.0.0.1", open_browser: bool = True
) -> list[str]:
    """The exact command line :func:`launch` runs (also used by the browser test and the benchmark).

    Always headless: a non-headless Streamlit asks for an e-mail address on its first run and waits on stdin;
    :func:`launch` opens the browser itself once the server answers."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ENTRY),
        "--server.address",
        address,
        "--server.port",
        str(int(port)),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--",
        "--workspace",
        str(Path(workspace).resolve()),
    ]


class PortInUse(WinnowError):
    """The dashboard's port is taken (another dashboard, or another server)."""


def check_port(address: str, port: int) -> None:
    """Raise :class:`PortInUse` unless ``address:port`` can be bound now, before anything is printed or started:
    otherwise the user reads the dashboard's URL and then Streamlit's raw "Port 8501 is not available"."""
    import socket

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: a TIME_WAIT port is free
        try:
            s.bind((address, int(port)))
        except OSError as e:
            raise PortInUse(
                f"port {port} on {address} is in use ({e.strerror}; another dashboard?): "
                f"stop it or choose another port with --port {int(port) + 1}"
            ) from e


def launch(
    workspace: str | os.PathLike, *, port: int = 8501, open_browser: bool = True, address: str = "127.0.0.1"
) -> int:
    """Run the dashboard on ``address:port`` for ``workspace`` until interrupted; return the exit code.

    Binds 127.0.0.1 unless ``address`` says otherwise: document text is untrusted and the dashboard
    can write to the workspace, so it is not exposed to the network by default.
    """
    check_port(address, port)
    env = dict(os.environ, WINNOW_WORKSPACE=str(Path(workspace).resolve()))
    cmd = streamlit_command(workspace, port=port, address=address, open_browser=open_browser)
    print(f"Winnow dashboard: http://{address}:{port}  (workspace {workspace}; Ctrl+C to stop)", file=sys.stderr)
    proc = subprocess.Popen(cmd, env=env, cwd=str(MAIN.parents[2]))
    if open_browser:
        import threading

        host = "127.0.0.1" if address in ("0.0.0.0", "::", "") else address
        threading.Thread(target=_open_when_up, args=(f"http://{host}:{port}", proc), daemon=True).start()

    def forward(signum: int, _frame: object) -> None:  # stopping `winnow ui` stops the server too
        proc.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGHUP) if hasattr(signal, "SIGHUP")}
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
            return 0
        except subprocess.TimeoutExpired:
            proc.kill()
            return 0
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _open_when_up(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Open ``url`` in the user's browser once the server's health check answers (not at all if it dies)."""
    import time
    import urllib.request
    import webbrowser

    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    webbrowser.open(url)
                    return
        except OSError:
            time.sleep(0.3)


def free_port() -> int:
    """A free localhost TCP port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A dashboard server in a child process (``with Server(ws) as url:``), for the browser test and the bench."""

    def __init__(
        self,
        workspace: str | os.PathLike,
        *,
        port: int | None = None,
        timeout: float = 60.0,
        script: str | os.PathLike | None = None,
    ):
        self.workspace = workspace
        self.script = script
        self.port = port or free_port()
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> str:
        import tempfile
        import time
        import urllib.request

        env = dict(os.environ, WINNOW_WORKSPACE=str(Path(self.workspace).resolve()), PYTHONUNBUFFERED="1")
        cmd = streamlit_command(self.workspace, port=self.port, open_browser=False)
        if self.script is not None:  # another Streamlit script (the benchmark's one-widget baseline)
            cmd[cmd.index(str(ENTRY))] = str(self.script)
        # a file, not a pipe nobody reads: a chatty server would block once a pipe's buffer is full
        self.log = tempfile.NamedTemporaryFile("w+b", prefix="winnow-ui-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, env=env, cwd=str(MAIN.parents[2]), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                out = self.log_text()
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}: {out[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self.url
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"streamlit did not answer on {self.url} within {self.timeout:.0f} s")

    def log_text(self) -> str:
        """What the server printed so far (for failure messages)."""
        return Path(self.log.name).read_text(errors="replace") if getattr(self, "log", None) else ""

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None) is not None:
            self.log.close()
            Path(self.log.name).unlink(missing_ok=True)
            self.log = None
