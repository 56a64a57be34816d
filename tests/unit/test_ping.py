"""`GET /ping` is the API process alone: it answers with no token while the database is unreachable, which is
what makes it the bench's baseline for a request through Serve and the middleware."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import TEST_AUDIT_KEY
from vigil.context import Context
from vigil.settings import Settings

NOWHERE = "postgresql://nobody@127.0.0.1:1/nothing"  # port 1: nothing listens, so any query fails


def test_ping_answers_without_a_token_or_a_database_while_health_reports_the_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=NOWHERE, audit_key=TEST_AUDIT_KEY,
                        object_store_url=f"file://{tmp_path / 'objects'}", _env_file=None)
    with TestClient(configure(create_app(), Context.build(settings, NOWHERE))) as client:
        ping = client.get("/api/v1/ping")
        assert (ping.status_code, ping.json()) == (200, {"status": "ok"})
        health = client.get("/api/v1/health")
        assert health.status_code == 503 and health.json()["database"].startswith("error")
