"""Prompt/rubric versions and the model budget over HTTP: admin-only writes, tenant walls, audited changes."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import Tenant, tenant_id_of
from vigil.context import Context
from vigil.db.models import AuditEntry

RUBRIC = {"name": "crisis line", "items": [
    {"key": "empathy", "label": "Empathy", "description": "Names the caller's feelings.", "scale_max": 10}]}
PROMPTS = {"assess": "Review for risk. Reply with JSON per {schema}. Rubric {rubric_name}: {rubric_items}",
           "summary": "Summarise for the supervisor. Reply with JSON per {schema}."}


def _tenant_id(ctx: Context, tenant: Tenant) -> str:
    return str(tenant_id_of(ctx, tenant))


def test_an_admin_stores_and_activates_versions_and_every_change_is_audited(client: TestClient, ctx: Context,
                                                                             tenant_a: Tenant) -> None:
    tid = _tenant_id(ctx, tenant_a)
    base = f"/api/v1/tenants/{tid}/config-versions"
    rubric = client.post(base, headers=tenant_a.headers("admin"),
                         json={"kind": "rubric", "name": "crisis v1", "content": RUBRIC, "activate": True})
    assert rubric.status_code == 201, rubric.text
    assert rubric.json()["active"] and rubric.json()["version"].startswith("rubric-")
    prompt = client.post(base, headers=tenant_a.headers("admin"),
                         json={"kind": "prompt", "name": "p1", "content": PROMPTS}).json()
    assert not prompt["active"]
    activated = client.put(f"{base}/prompt/active", headers=tenant_a.headers("admin"),
                           json={"version": prompt["version"]})
    assert activated.status_code == 200 and activated.json()["active"]
    listed = client.get(base, headers=tenant_a.headers("lead")).json()  # leads may read
    assert {v["version"] for v in listed} == {rubric.json()["version"], prompt["version"]}
    assert client.put(f"{base}/prompt/active", headers=tenant_a.headers("admin"), json={"version": None}).json() is None
    with ctx.system_db() as db:
        actions = db.scalars(sa.select(AuditEntry.action).where(AuditEntry.entity_id.in_(
            [tid, rubric.json()["version"], prompt["version"]])).order_by(AuditEntry.created_at)).all()
    assert actions == ["rubric.version_created", "rubric.activated", "prompt.version_created", "prompt.activated",
                       "prompt.activated"]


def test_bad_content_is_refused_with_its_reason(client: TestClient, ctx: Context, tenant_a: Tenant) -> None:
    base = f"/api/v1/tenants/{_tenant_id(ctx, tenant_a)}/config-versions"
    bad = client.post(base, headers=tenant_a.headers("admin"),
                      json={"kind": "prompt", "name": "p", "content": {**PROMPTS, "summary": "No schema placeholder."}})
    assert bad.status_code == 400 and "lacks {schema}" in bad.json()["detail"]
    bad_key = client.post(base, headers=tenant_a.headers("admin"), json={"kind": "rubric", "name": "r", "content": {
        "name": "r", "items": [{"key": "Bad Key!", "label": "x", "description": "x"}]}})
    assert bad_key.status_code == 400
    assert client.get(base, headers=tenant_a.headers("admin")).json() == []


def test_tenant_walls_and_roles(client: TestClient, ctx: Context, tenant_a: Tenant, tenant_b: Tenant) -> None:
    tid = _tenant_id(ctx, tenant_a)
    base = f"/api/v1/tenants/{tid}/config-versions"
    made = client.post(base, headers=tenant_a.headers("admin"),
                       json={"kind": "rubric", "name": "mine", "content": RUBRIC}).json()
    assert client.get(base, headers=tenant_b.headers("admin")).status_code == 404
    assert client.post(base, headers=tenant_b.headers("admin"),
                       json={"kind": "rubric", "name": "theirs", "content": RUBRIC}).status_code == 404
    assert client.post(base, headers=tenant_a.headers("supervisor"),
                       json={"kind": "rubric", "name": "x", "content": RUBRIC}).status_code == 403
    other_base = f"/api/v1/tenants/{_tenant_id(ctx, tenant_b)}/config-versions"
    assert client.put(f"{other_base}/rubric/active", headers=tenant_b.headers("admin"),
                      json={"version": made["version"]}).status_code == 404
    assert client.get(f"/api/v1/tenants/{tid}/usage", headers=tenant_b.headers("admin")).status_code == 404
    assert client.put(f"/api/v1/tenants/{tid}/budget", headers=tenant_a.headers("lead"),
                      json={"daily_token_budget": 5}).status_code == 403
    assert client.put(f"/api/v1/tenants/{tid}/budget", headers=tenant_b.headers("admin"),
                      json={"daily_token_budget": 5}).status_code == 404
    assert client.get(f"/api/v1/tenants/{tid}/usage", headers=tenant_a.headers("admin")).json()["state"] == "unlimited"


def test_budget_and_usage(client: TestClient, ctx: Context, tenant_a: Tenant) -> None:
    tid = _tenant_id(ctx, tenant_a)
    assert client.get(f"/api/v1/tenants/{tid}/usage", headers=tenant_a.headers("admin")).json()["state"] == "unlimited"
    usage = client.put(f"/api/v1/tenants/{tid}/budget", headers=tenant_a.headers("admin"),
                       json={"daily_token_budget": 50000, "daily_cost_budget_usd": 2.5}).json()
    assert usage["state"] == "ok" and usage["daily_token_budget"] == 50000 and usage["share_used"] == 0.0
    assert client.put(f"/api/v1/tenants/{tid}/budget", headers=tenant_a.headers("admin"),
                      json={"daily_token_budget": -1}).status_code == 422
