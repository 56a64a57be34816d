"""`vigil up` as a user runs it, in a process group of its own, for the end-to-end tests that start, kill and
restart the whole app (tests/e2e/test_durability.py, tests/e2e/test_direct_ingress.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_api_port, free_port
from vigil.client import wait_until_healthy
from vigil.context import Context


def vigil_up_env(ctx: Context, **variables: str) -> dict[str, str]:
    """The environment `vigil up` reads `ctx`'s database, object store and keys from, on ports of its own, with no
    warm-ups (test_stage_work's: here they would only slow the app on 2 cores). `variables`: more settings."""
    env = {**os.environ, "DATABASE_URL": ctx.database_url, "DATA_DIR": str(ctx.settings.data_dir),
           "OBJECT_STORE_URL": ctx.settings.object_store_url, "ENCRYPTION_KEYS": ctx.settings.encryption_keys or "",
           "API_PORT": str(free_api_port()), "DASHBOARD_PORT": str(free_port()), "RAY_DASHBOARD_PORT": str(free_port()),
           "WARM_WORKERS": "0", **variables}
    env.pop("RAY_ADDRESS", None)
    return env


def base_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['API_PORT']}"


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`vigil up --no-samples`, its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen([str(Path(sys.executable).parent / "vigil"), "up", "--no-samples"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(env: dict[str, str], proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    healthy = wait_until_healthy(base_url(env), timeout, poll=1, still_starting=lambda: proc.poll() is None)
    assert proc.poll() is None, f"vigil up exited: {log.read_text(errors='replace')[-3000:]}"
    assert healthy, f"the app did not become healthy: {log.read_text(errors='replace')[-3000:]}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user stops it; SIGKILL to the whole group if it has not stopped within a minute."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
