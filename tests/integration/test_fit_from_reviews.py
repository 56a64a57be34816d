"""Supervisors teach the risk model, through governance: `vigil fit --from-reviews` (the real CLI, the real
database) stores a candidate risk model that is not active; `vigil replay --candidate` compares it; only the
tenant's admin activates it, audited; the next analysis uses it and names it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import TEST_KEYS, isolated_context, make_tenant
from tests.integration.test_analysis_tasks import transcribed_session
from vigil.analysis.analyzers.registry import build_analyzer
from vigil.context import Context
from vigil.db.models import Analysis, AuditEntry, ConfigVersion
from vigil.db.models import Tenant as TenantRow
from vigil.schemas.api import ReviewIn
from vigil.schemas.transcripts import Segment
from vigil.services.auth import authenticate
from vigil.services.pipeline import run_analyze
from vigil.services.reviews import create_review

VIGIL = str(Path(sys.executable).parent / "vigil")


def _segments(*client_lines: str) -> list[Segment]:
    turns = []
    for line in client_lines:
        turns += [("counselor", "How has the week been for you?"), ("client", line)]
    return [Segment(index=i, start=2.0 * i, end=2.0 * i + 2, speaker=who, text=text)
            for i, (who, text) in enumerate(turns)]


@pytest.fixture(scope="module")
def ctx(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Context:
    return isolated_context(pg_admin_url, tmp_path_factory.mktemp("fit-reviews"), analyzer="offline")


def _cli(ctx: Context, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": ctx.database_url, "DATA_DIR": str(tmp_path),
           "OBJECT_STORE_URL": ctx.settings.object_store_url, "ENCRYPTION_KEYS": TEST_KEYS,
           "ANALYZER": "offline"}
    return subprocess.run([VIGIL, *args], capture_output=True, text=True, timeout=900, env=env)


@pytest.mark.timeout(1200)
def test_a_model_fitted_from_reviews_is_a_candidate_until_an_admin_activates_it(ctx: Context,
                                                                                tmp_path: Path) -> None:
    tenant, other = make_tenant(ctx), make_tenant(ctx)
    claims = [transcribed_session(ctx, tenant, _segments("I gave my guitar to my nephew and wrote to my sister.",
                                                         "It is all sorted now, they will be fine.")),
              transcribed_session(ctx, tenant, _segments("Work was long but fine.", "We went to the lake."))]
    for claim in claims:
        run_analyze(ctx, claim, build_analyzer(ctx.settings))
    with ctx.system_db() as db:
        supervisor = authenticate(db, tenant.supervisor)
    create_review_in = [(claims[0], "flag.suicidal_ideation", "confirmed"),
                        (claims[1], "flag.suicidal_ideation", "dismissed")]
    with ctx.system_db() as db:
        for claim, field, value in create_review_in:
            create_review(ctx.store, db, supervisor, claim.session_id,
                          ReviewIn(field=field, value=value, reason="Reviewed."))
    tenant_id = claims[0].tenant_id

    fitted = _cli(ctx, tmp_path, "fit", "--from-reviews", "--tenant", tenant.name,
                  "--data-dir", str(tmp_path / "no-shared-data"))

    assert fitted.returncode == 0, fitted.stderr[-3000:]
    with ctx.system_db() as db:
        row = db.scalar(sa.select(ConfigVersion).where(ConfigVersion.tenant_id == tenant_id,
                                                       ConfigVersion.kind == "risk_model"))
        tenant_row = db.get(TenantRow, tenant_id)
        created = db.scalar(sa.select(AuditEntry).where(AuditEntry.tenant_id == tenant_id,
                                                        AuditEntry.action == "risk_model.version_created"))
    assert row is not None and row.version in fitted.stdout and "not active" in fitted.stdout
    assert row.content["meta"]["fitted_from"]["reviewed_sessions"] == 2
    assert row.content["meta"]["fitted_from"]["at_risk"]["suicidal_ideation"] == 1
    assert tenant_row.active_risk_model_version is None  # never activates itself
    assert created is not None and created.actor_id is None

    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    replayed = _cli(ctx, tmp_path, "replay", "--candidate", row.version, "--since", since, "--tenant", tenant.name,
                    "--json")
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    output = json.loads(replayed.stdout)
    assert output["metrics"]["candidate"]["name"].startswith(row.version)
    assert sorted(p["id"] for p in output["predictions"]) == sorted(str(c.session_id) for c in claims)

    with TestClient(configure(create_app(), ctx)) as client:
        path = f"/api/v1/tenants/{tenant_id}/config-versions/risk_model/active"
        assert client.put(path, headers=tenant.headers("supervisor"), json={"version": row.version}).status_code == 403
        theirs = f"/api/v1/tenants/{tenant_id}/config-versions/risk_model/active"
        assert client.put(theirs, headers=other.headers("admin"), json={"version": row.version}).status_code == 404
        activated = client.put(path, headers=tenant.headers("admin"), json={"version": row.version})
        assert activated.status_code == 200 and activated.json()["active"] is True
        risk = client.get(f"/api/v1/tenants/{tenant_id}/risk", headers=tenant.headers("admin")).json()
        assert risk["model_version"] == row.version

    later = transcribed_session(ctx, tenant, _segments("I have been giving my things away."))
    run_analyze(ctx, later, build_analyzer(ctx.settings))
    with ctx.system_db() as db:
        analysis = db.scalar(sa.select(Analysis).where(Analysis.session_id == later.session_id))
        activated_entry = db.scalar(sa.select(AuditEntry).where(AuditEntry.tenant_id == tenant_id,
                                                                AuditEntry.action == "risk_model.activated"))
    assert row.content["meta"]["name"] in analysis.model  # the fitted model, named on the analysis
    assert activated_entry is not None and activated_entry.detail == {"before": None, "after": row.version}


def test_fitting_a_tenant_without_reviews_is_a_clear_error(ctx: Context, tmp_path: Path) -> None:
    tenant = make_tenant(ctx)
    done = _cli(ctx, tmp_path, "fit", "--from-reviews", "--tenant", tenant.name, "--data-dir", str(tmp_path))
    assert done.returncode == 2 and "no reviewed sessions" in done.stderr
    unknown = _cli(ctx, tmp_path, "fit", "--from-reviews", "--tenant", f"nobody-{uuid.uuid4().hex[:6]}")
    assert unknown.returncode == 2 and "no tenant called" in unknown.stderr
