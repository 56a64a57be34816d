"""Secrets stay secret: settings never show them, and nothing Vigil or its libraries log (at DEBUG, every logger)
while signing in, uploading, failing a model call with a bad key or reading the API contains one."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import SAMPLES, make_tenant
from tests.integration.test_openai_contract import transcript
from tests.standins.openai_server import OpenAIStandin, serve_openai_standin
from vigil.analysis.analyzers.openai_analyzer import OpenAIAnalyzer
from vigil.context import Context
from vigil.db.models import Job
from vigil.settings import Settings

SECRETS = {"openai_api_key": "sk-live-9d2f7e51c0aa4b8e", "assemblyai_api_key": "aai-5c1e0b7d93f24a66",
           "signing_key": "sign-2b8e4f10c6d94e37", "audit_key": "audit-7e0c4b19d2a85f36"}
DB_PASSWORD = "pg-pass-71c3e9a05b"


def test_settings_never_show_a_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"postgresql://vigil:{DB_PASSWORD}@db.internal/vigil",
                        _env_file=None, **SECRETS)
    shown = f"{settings!r} {settings!s}"
    assert not [s for s in [*SECRETS.values(), DB_PASSWORD] if s in shown]
    assert settings.openai_api_key == SECRETS["openai_api_key"], "still usable by the code that needs it"


def test_nothing_logged_or_stored_carries_a_secret(tmp_path: Path, database_url: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, _env_file=None,
                        object_store_url=f"file://{tmp_path / 'objects'}", **SECRETS)
    ctx = Context.build(settings, database_url)
    tenant = make_tenant(ctx)
    tokens = [tenant.uploader, tenant.supervisor, tenant.lead, tenant.admin]
    standin = OpenAIStandin(api_key="sk-the-right-key")  # Vigil's key is wrong: the provider answers 401
    with caplog.at_level(logging.DEBUG), serve_openai_standin(standin) as base_url, \
            TestClient(configure(create_app(), ctx)) as client:
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {tenant.admin}x"}).status_code == 401
        accepted = client.post("/api/v1/sessions", headers=tenant.headers("uploader"),
                               files={"file": ("a.mp3", io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()))})
        assert accepted.status_code == 202
        assert client.get("/api/v1/sessions", headers=tenant.headers()).status_code == 200
        signed = client.post("/api/v1/uploads", headers=tenant.headers("uploader"), json={"filename": "b.mp3"})
        assert signed.status_code == 201 and "signature=" in signed.json()["upload_url"]  # made with the key
        analyzer = OpenAIAnalyzer(["model-a"], api_key=SECRETS["openai_api_key"], base_url=base_url,
                                  timeout_seconds=2.0)
        with pytest.raises(Exception) as failure:  # noqa: PT011 — whichever error, its text is checked below
            analyzer.assess(transcript())
        logging.getLogger("vigil.test").warning("model call failed", exc_info=failure.value)
    with ctx.system_db() as db:
        stored = " ".join(str(v) for v in db.execute(sa.select(Job.error_detail)).scalars())
    seen = f"{caplog.text} {failure.value!r} {failure.value} {stored}"
    leaked = [name for name, value in {**SECRETS, **{f"token {i}": t for i, t in enumerate(tokens)}}.items()
              if value in seen]
    assert caplog.records, "the capture worked: there were log records to search"
    assert leaked == []
