"""Per-token rate limits: past the limit a token gets 429 with Retry-After; other tokens are not slowed."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import TEST_AUDIT_KEY, make_tenant
from vigil.context import Context
from vigil.settings import Settings


def test_a_token_past_its_limit_waits_and_others_do_not(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, api_rate_limit="5/minute",
                        object_store_url=f"file://{tmp_path / 'objects'}", audit_key=TEST_AUDIT_KEY, _env_file=None)
    ctx = Context.build(settings, database_url)
    tenant = make_tenant(ctx)
    with TestClient(configure(create_app(), ctx)) as client:
        answers = [client.get("/api/v1/me", headers=tenant.headers("lead")).status_code for _ in range(7)]
        assert answers == [200] * 5 + [429] * 2
        refused = client.get("/api/v1/sessions", headers=tenant.headers("lead"))
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "5/minute" in refused.json()["detail"]
        assert client.get("/api/v1/me", headers=tenant.headers("supervisor")).status_code == 200
        assert client.get("/api/v1/me", headers={"Authorization": "Bearer vgl_wrong"}).status_code == 401
