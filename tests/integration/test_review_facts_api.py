"""Review facts over HTTP: reviewLatencyMinutes from the stored times, overridden vs merely reviewed fields,
tenant walls and roles."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.integration.test_analysis_tasks import transcribed_session
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.context import Context
from vigil.db.models import Session
from vigil.schemas.api import ReviewIn
from vigil.services.auth import authenticate
from vigil.services.pipeline import run_analyze
from vigil.services.reviews import create_review


def test_review_facts(client: TestClient, ctx: Context, tenant_a: Tenant, tenant_b: Tenant) -> None:
    claim = transcribed_session(ctx, tenant_a)
    run_analyze(ctx, claim, OfflineAnalyzer())
    with ctx.system_db() as db:
        supervisor = authenticate(db, tenant_a.supervisor)
        ai_risk = db.get(Session, claim.session_id).ai_risk_level
        create_review(ctx.store, db, supervisor, claim.session_id, ReviewIn(field="risk_level", value=ai_risk,
                                                                 reason="Agree with the AI."))
        create_review(ctx.store, db, supervisor, claim.session_id,
                      ReviewIn(field="summary", value="Client disclosed ideation.", reason="Shorter."))
        # Pin the times so the latency is known: ready at T, first review 42.5 minutes later.
        session = db.get(Session, claim.session_id)
        session.reviewed_at = session.analysis_ready_at + timedelta(minutes=42.5)
        db.commit()
    rows = client.get("/api/v1/analytics/review-facts", headers=tenant_a.headers("lead"))
    assert rows.status_code == 200
    [mine] = [r for r in rows.json() if r["id"] == str(claim.session_id)]
    assert mine["reviewLatencyMinutes"] == 42.5
    assert mine["reviewed_fields"] == ["risk_level", "summary"] and mine["overridden_fields"] == ["summary"]
    others = client.get("/api/v1/analytics/review-facts", headers=tenant_b.headers("admin")).json()
    assert str(claim.session_id) not in {r["id"] for r in others}
    assert client.get("/api/v1/analytics/review-facts", headers=tenant_a.headers("uploader")).status_code == 403
    with ctx.system_db() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Session)
                         .where(Session.id == claim.session_id)) == 1
