"""A local Ray cluster that misses Ray's fixed 30 s raylet wait on a busy machine is started again (not a failed
run); any other start error, or the same one every time, is one EngineError line. A failed start's processes
(Ray's GCS, monitor, dashboard: children of this process) are ended, not left running."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from app.engine import ray_engine
from app.errors import EngineError


def _fake_ray(failures: list[str]) -> types.ModuleType:
    ray = types.ModuleType("ray")
    ray.calls = []  # type: ignore[attr-defined]

    def init(**kw):
        ray.calls.append("init")
        if failures:
            raise Exception(failures.pop(0))

    ray.is_initialized = lambda: False  # type: ignore[attr-defined]
    ray.init = init  # type: ignore[attr-defined]
    ray.shutdown = lambda: ray.calls.append("shutdown")  # type: ignore[attr-defined]
    ray.remote = lambda **kw: lambda fn: fn  # type: ignore[attr-defined]
    return ray


TIMEOUT = "The current node timed out during startup. This could happen because some of the raylet failed"


def test_a_start_timeout_is_retried(monkeypatch):
    ray = _fake_ray([TIMEOUT])
    monkeypatch.setitem(sys.modules, "ray", ray)
    eng = ray_engine.RayEngine(workers=2)
    assert ray.calls == ["init", "shutdown", "init"]
    assert eng._started


def test_other_errors_and_repeated_timeouts_are_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", _fake_ray(["no free port"]))
    with pytest.raises(EngineError, match="cannot start Ray \\(local\\): no free port"):
        ray_engine.RayEngine(workers=2)
    ray = _fake_ray([TIMEOUT] * ray_engine.STARTS)
    monkeypatch.setitem(sys.modules, "ray", ray)
    with pytest.raises(EngineError, match="timed out during startup"):
        ray_engine.RayEngine(workers=2)
    assert ray.calls.count("init") == ray_engine.STARTS


def test_a_failed_start_ends_its_processes(monkeypatch):
    """The fake start spawns a child (as ray.init spawns gcs_server) and fails: the child is ended and reaped."""
    spawned: list[subprocess.Popen] = []

    def init(**kw):
        spawned.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        raise Exception("no free port")

    ray = _fake_ray([])
    ray.init = init
    monkeypatch.setitem(sys.modules, "ray", ray)
    with pytest.raises(EngineError, match="no free port"):
        ray_engine.RayEngine(workers=2)
    assert len(spawned) == 1
    assert spawned[0].pid not in ray_engine._children()
    with pytest.raises(ChildProcessError):  # reaped by the engine, not left a zombie
        import os

        os.waitpid(spawned[0].pid, os.WNOHANG)


def test_a_local_cluster_inherits_its_environment_and_the_driver_gets_its_own_back(monkeypatch):
    """A local cluster's raylet (so every worker) starts with this checkout on PYTHONPATH and Ray's metrics off,
    through the environment (no runtime_env: its dedicated workers would leave the prestarted ones idle); the
    driver's environment is as before once the cluster is up. An existing cluster gets the path as runtime_env."""
    import os

    seen: list[tuple[dict, dict]] = []
    ray = _fake_ray([])
    ray.init = lambda **kw: seen.append((kw, dict(os.environ)))
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.delenv("RAY_enable_metrics_collection", raising=False)
    ray_engine.RayEngine(workers=2)
    kw, env = seen[-1]
    assert "runtime_env" not in kw and kw["num_cpus"] == 2
    assert env["PYTHONPATH"] == ray_engine._project_root() + os.pathsep + "/elsewhere"
    assert env["RAY_enable_metrics_collection"] == "false"
    assert os.environ["PYTHONPATH"] == "/elsewhere" and "RAY_enable_metrics_collection" not in os.environ
    ray_engine.RayEngine(workers=2, address="ray://head:10001")
    kw, _ = seen[-1]
    assert kw["runtime_env"] == {"env_vars": {"PYTHONPATH": ray_engine._project_root()}}


def test_a_local_head_starts_without_the_monitors_only_inside_the_block():
    """Inside ``_lean_head`` the parameters ``ray.init`` builds ask for no autoscaler monitor and no log monitor
    (what ``ray start --no-monitor --include-log-monitor=false`` asks); an explicit choice is kept, and Ray's
    own defaults are back after the block."""
    pytest.importorskip("ray")
    from ray._private.parameter import RayParams

    with ray_engine._lean_head():
        lean, chosen = RayParams(), RayParams(include_log_monitor=True)
    assert (lean.no_monitor, lean.include_log_monitor) == (True, False)
    assert chosen.include_log_monitor is True and chosen.no_monitor is False
    after = RayParams()
    assert (after.no_monitor, after.include_log_monitor) == (False, None)
