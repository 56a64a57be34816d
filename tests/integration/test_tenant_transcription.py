"""Per-tenant speech providers: admins choose them for their own tenant, within what the deployment
can call; the choice is audited and followed by the transcribe stage."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import Tenant, tenant_id_of
from vigil.context import Context
from vigil.db.models import AuditEntry
from vigil.db.models import Tenant as TenantRow
from vigil.services.tenants import transcribers_for


def _tenant_id(ctx: Context, tenant: Tenant) -> str:
    return str(tenant_id_of(ctx, tenant))


def test_a_tenant_follows_the_deployment_until_its_admin_chooses(client: TestClient, ctx: Context,
                                                                tenant_a: Tenant) -> None:
    path = f"/api/v1/tenants/{_tenant_id(ctx, tenant_a)}/transcription"
    assert client.get(path, headers=tenant_a.headers("admin")).json() == {"transcribers": ["whisper"],
                                                                          "source": "deployment"}
    chosen = client.put(path, headers=tenant_a.headers("admin"), json={"transcribers": ["whisper", "standin"]})
    assert chosen.status_code == 200 and chosen.json() == {"transcribers": ["whisper", "standin"], "source": "tenant"}
    with ctx.system_db() as db:
        assert transcribers_for(db, uuid.UUID(_tenant_id(ctx, tenant_a)), ctx.settings) == ["whisper", "standin"]
        entry = db.scalar(sa.select(AuditEntry).where(AuditEntry.action == "tenant.transcribers",
                                                      AuditEntry.entity_id == _tenant_id(ctx, tenant_a)))
    assert entry.detail == {"before": None, "after": "whisper,standin"}
    reset = client.put(path, headers=tenant_a.headers("admin"), json={"transcribers": None})
    assert reset.json() == {"transcribers": ["whisper"], "source": "deployment"}


def test_providers_the_deployment_cannot_call_are_refused(client: TestClient, ctx: Context, tenant_a: Tenant) -> None:
    path = f"/api/v1/tenants/{_tenant_id(ctx, tenant_a)}/transcription"
    no_key = client.put(path, headers=tenant_a.headers("admin"), json={"transcribers": ["assemblyai"]})
    assert no_key.status_code == 400 and "ASSEMBLYAI_API_KEY" in no_key.json()["detail"]
    unknown = client.put(path, headers=tenant_a.headers("admin"), json={"transcribers": ["whisper", "nope"]})
    assert unknown.status_code == 400 and "unknown provider 'nope'" in unknown.json()["detail"]
    assert client.put(path, headers=tenant_a.headers("admin"), json={"transcribers": []}).status_code == 400
    assert client.get(path, headers=tenant_a.headers("admin")).json()["source"] == "deployment"


def test_only_an_admin_of_that_tenant_may_see_or_change_it(client: TestClient, ctx: Context, tenant_a: Tenant,
                                                           tenant_b: Tenant) -> None:
    path = f"/api/v1/tenants/{_tenant_id(ctx, tenant_a)}/transcription"
    assert client.put(path, headers=tenant_a.headers("supervisor"),
                      json={"transcribers": ["standin"]}).status_code == 403
    assert client.get(path, headers=tenant_b.headers("admin")).status_code == 404
    assert client.put(path, headers=tenant_b.headers("admin"), json={"transcribers": ["standin"]}).status_code == 404
    assert client.get(path, headers=tenant_a.headers("admin")).json()["source"] == "deployment"


def test_the_load_test_stand_in_is_refused_unless_the_deployment_allows_it(ctx: Context, tenant_a: Tenant) -> None:
    import pydantic

    from serve.app import configure, create_app
    from vigil.settings import Settings
    from vigil.transcription.registry import build_transcriber

    with pytest.raises(pydantic.ValidationError, match="ALLOW_STANDIN=true"):
        Settings(transcribers="standin", _env_file=None)
    refusing = ctx.settings.model_copy(update={"allow_standin": False})
    with pytest.raises(ValueError, match="load tests only"):
        build_transcriber("standin", refusing)
    production = Context.build(refusing, ctx.database_url)
    with TestClient(configure(create_app(), production)) as client:
        path = f"/api/v1/tenants/{_tenant_id(ctx, tenant_a)}/transcription"
        refused = client.put(path, headers=tenant_a.headers("admin"), json={"transcribers": ["whisper", "standin"]})
        assert refused.status_code == 400 and "ALLOW_STANDIN=true" in refused.json()["detail"]
        assert client.get(path, headers=tenant_a.headers("admin")).json()["source"] == "deployment"


def test_a_stand_in_chosen_while_allowed_is_passed_over_once_it_is_not(ctx: Context, tenant_a: Tenant) -> None:
    tenant_id = uuid.UUID(_tenant_id(ctx, tenant_a))
    with ctx.system_db() as db:
        db.execute(sa.update(TenantRow).where(TenantRow.id == tenant_id).values(transcribers="standin,whisper"))
        db.commit()
        assert transcribers_for(db, tenant_id, ctx.settings) == ["standin", "whisper"]
        refusing = ctx.settings.model_copy(update={"allow_standin": False})
        assert transcribers_for(db, tenant_id, refusing) == ["whisper"]
        db.execute(sa.update(TenantRow).where(TenantRow.id == tenant_id).values(transcribers="standin"))
        db.commit()
        assert transcribers_for(db, tenant_id, refusing) == ["whisper"]  # the deployment's own
