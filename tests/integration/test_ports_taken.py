"""`vigil up` checks the ports it will listen on before it starts anything, and names the one another program holds
(with direct ingress, the default, the sentence encoder needs API_PORT + 1 as well)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from cli.stack import ports_taken
from tests.conftest import free_port
from vigil.settings import Settings


def _listening(port: int) -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


def _settings(api_port: int, **overrides: object) -> Settings:
    return Settings(api_port=api_port, dashboard_port=free_port(), ray_dashboard_port=free_port(), _env_file=None,
                    **overrides)


def test_the_encoders_port_counts_under_direct_ingress_only() -> None:
    api_port = free_port()
    with _listening(api_port + 1):
        assert ports_taken(_settings(api_port)) == [f"{api_port + 1}: API_PORT + 1 (the sentence encoder, under "
                                                    "direct ingress)"]
        assert ports_taken(_settings(api_port, api_ingress="proxy")) == []
    with _listening(api_port):
        assert ports_taken(_settings(api_port, api_ingress="proxy")) == [f"{api_port}: API_PORT (the API)"]


def test_vigil_up_refuses_a_taken_port_before_starting_anything(tmp_path: Path) -> None:
    api_port, dashboard_port = free_port(), free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "API_PORT": str(api_port),
           "DASHBOARD_PORT": str(dashboard_port), "RAY_DASHBOARD_PORT": str(free_port())}
    env.pop("RAY_ADDRESS", None)
    with _listening(dashboard_port):
        done = subprocess.run([str(Path(sys.executable).parent / "vigil"), "up", "--no-samples"], env=env,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{dashboard_port}: DASHBOARD_PORT (the dashboard)" in done.stdout
    assert "starting the database" not in done.stdout
    assert not (tmp_path / "data" / "pg").exists()
