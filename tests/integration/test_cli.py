"""The `vigil` command as a user runs it, in a subprocess, against the real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_AUDIT_KEY
from vigil.context import Context
from vigil.services.auth import authenticate

VIGIL = str(Path(sys.executable).parent / "vigil")


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`vigil` with the deployment's audit key (the one the tests' own context seals with), unless `env` says."""
    return subprocess.run([VIGIL, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AUDIT_KEY": TEST_AUDIT_KEY, **env})


def test_token_create_prints_a_token_that_signs_in_with_the_role(ctx: Context, database_url: str,
                                                                  tmp_path: Path) -> None:
    done = _run("token", "create", "--tenant", "cli-clinic", "--email", "Sam@Clinic.test", "--role", "lead",
                env={"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    with ctx.system_db() as db:
        principal = authenticate(db, token)
    assert principal is not None and principal.email == "sam@clinic.test" and principal.role.value == "lead"


def test_token_create_refuses_an_unknown_role(database_url: str, tmp_path: Path) -> None:
    done = _run("token", "create", "--tenant", "x", "--email", "a@b.test", "--role", "owner",
                env={"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)})
    assert done.returncode != 0
    assert "owner" in done.stderr
