"""A stale record of "the current Ray cluster" (left by a `ray start --head` that is gone, or a crash) does not
stop Vigil: with no RAY_ADDRESS, `vigil up` starts its own local Ray instead of joining the dead address."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[2]
START = """
import ray
from cli.stack import start_ray
from vigil.settings import Settings
start_ray(Settings(ray_dashboard_port={port}, _env_file=None))
print("nodes", len(ray.nodes()), flush=True)
ray.shutdown()
"""


def test_a_stale_cluster_record_is_not_joined_when_no_address_is_set() -> None:
    temp = Path(tempfile.mkdtemp(prefix="vr", dir="/tmp"))  # short: Ray's socket paths live under it
    try:
        (temp / "ray").mkdir()
        (temp / "ray" / "ray_current_cluster").write_text("127.0.0.1:9")  # nothing listens there
        env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
        done = subprocess.run([sys.executable, "-c", START.format(port=free_port())], cwd=ROOT, timeout=240,
                              env={**env, "RAY_TMPDIR": str(temp)}, capture_output=True, text=True)
        assert done.returncode == 0 and "nodes 1" in done.stdout, done.stderr[-2000:]
    finally:
        shutil.rmtree(temp, ignore_errors=True)
