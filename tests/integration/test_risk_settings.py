"""The risk model's sensitivity dial: an admin of the tenant chooses high (recall first, the default) or balanced,
audited; nobody else may; the next analysis uses it and records which."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import SAMPLES, Tenant, isolated_context, make_tenant, process_session, tenant_id_of
from vigil.analysis.analyzers.registry import build_analyzer
from vigil.context import Context
from vigil.db.models import Analysis, AuditEntry
from vigil.db.models import Tenant as TenantRow
from vigil.services.governance import active_config
from vigil.services.jobs import claim_next_stage, complete_stage
from vigil.services.pipeline import run_analyze


def _tenant_id(ctx: Context, tenant: Tenant) -> str:
    return str(tenant_id_of(ctx, tenant))


def test_the_default_is_recall_first_until_an_admin_chooses_balanced(client: TestClient, ctx: Context,
                                                                     tenant_a: Tenant) -> None:
    path = f"/api/v1/tenants/{_tenant_id(ctx, tenant_a)}/risk"
    admin = tenant_a.headers("admin")
    assert client.get(path, headers=admin).json() == {"sensitivity": "high", "source": "default",
                                                      "model_version": None}
    chosen = client.put(path, headers=admin, json={"sensitivity": "balanced"})
    assert chosen.status_code == 200 and chosen.json()["sensitivity"] == "balanced"
    assert chosen.json()["source"] == "tenant"
    with ctx.system_db() as db:
        assert active_config(db, uuid.UUID(_tenant_id(ctx, tenant_a))).risk.sensitivity == "balanced"
        entry = db.scalar(sa.select(AuditEntry).where(AuditEntry.action == "tenant.risk_sensitivity",
                                                      AuditEntry.entity_id == _tenant_id(ctx, tenant_a)))
    assert entry is not None and entry.detail == {"before": None, "after": "balanced"}
    reset = client.put(path, headers=admin, json={"sensitivity": None})
    assert reset.json() == {"sensitivity": "high", "source": "default", "model_version": None}


def test_an_unknown_sensitivity_is_refused_and_changes_nothing(client: TestClient, ctx: Context,
                                                               tenant_a: Tenant) -> None:
    path = f"/api/v1/tenants/{_tenant_id(ctx, tenant_a)}/risk"
    assert client.put(path, headers=tenant_a.headers("admin"), json={"sensitivity": "low"}).status_code == 422
    assert client.get(path, headers=tenant_a.headers("admin")).json()["source"] == "default"


def test_only_an_admin_of_that_tenant_may_see_or_change_it(client: TestClient, ctx: Context, tenant_a: Tenant,
                                                           tenant_b: Tenant) -> None:
    path = f"/api/v1/tenants/{_tenant_id(ctx, tenant_a)}/risk"
    for role in ("supervisor", "lead", "uploader"):
        assert client.put(path, headers=tenant_a.headers(role), json={"sensitivity": "balanced"}).status_code == 403
    assert client.get(path, headers=tenant_b.headers("admin")).status_code == 404
    assert client.put(path, headers=tenant_b.headers("admin"), json={"sensitivity": "balanced"}).status_code == 404
    assert client.get(path, headers=tenant_a.headers("admin")).json()["source"] == "default"


@pytest.fixture
def sentence_ctx(pg_admin_url: str, tmp_path) -> Context:  # type: ignore[no-untyped-def]
    return isolated_context(pg_admin_url, tmp_path, analyzer="offline")


def test_each_analysis_records_the_sensitivity_it_used(sentence_ctx: Context, whisper) -> None:  # type: ignore[no-untyped-def]
    ctx = sentence_ctx
    tenant = make_tenant(ctx)
    session_id = process_session(ctx, tenant, SAMPLES / "checkin-risk.mp3", whisper)
    with ctx.system_db() as db:
        db.execute(sa.update(TenantRow).where(TenantRow.name == tenant.name).values(risk_sensitivity="balanced"))
        db.commit()
    from vigil.services.auth import authenticate
    from vigil.services.reprocess import request_analysis

    with ctx.system_db() as db:
        supervisor = authenticate(db, tenant.supervisor)
    request_analysis(ctx, supervisor, uuid.UUID(session_id))
    with ctx.system_db() as db:
        claim = claim_next_stage(db, 60)
    assert claim is not None and claim.stage == "analyze"
    run_analyze(ctx, claim, build_analyzer(ctx.settings))
    with ctx.system_db() as db:
        complete_stage(db, claim, 0.1)
        rows = db.scalars(sa.select(Analysis).where(Analysis.session_id == uuid.UUID(session_id))
                          .order_by(Analysis.analysis_version)).all()
    assert [row.result["sensitivity"] for row in rows] == ["high", "balanced"]
    assert all("risk-sentences" in row.model for row in rows)
