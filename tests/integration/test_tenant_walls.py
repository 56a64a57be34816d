"""Tenant walls, tried on every endpoint the app has (the list comes from its OpenAPI schema, so a new endpoint
cannot escape): every role of tenant B calls every operation with tenant A's ids. None may succeed, none may
echo anything of A's, and afterwards A's data is exactly as it was. Lists B can read must hold nothing of A's."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import create_app
from tests.conftest import Tenant
from vigil.context import Context
from vigil.db.models import (
    Alert,
    Analysis,
    AuditEntry,
    CalibrationRound,
    ConfigVersion,
    Dispute,
    GoldStandard,
    Job,
    ReplayRun,
    Review,
    ReviewAcknowledgement,
    ReviewAssignment,
    Session,
    SignInMapping,
    User,
    utcnow,
)
from vigil.db.models import Tenant as TenantRow
from vigil.storage.encrypted import seal_value

ROLES = ("admin", "supervisor", "lead", "uploader", "counselor")
# Operations that act on the caller's own tenant (no object id to cross) or need no token at all.
OWN_OR_PUBLIC = {("get", "/api/v1/health"), ("get", "/api/v1/ping"), ("get", "/api/v1/me"),
                 ("post", "/api/v1/sessions"), ("post", "/api/v1/uploads"), ("get", "/api/v1/me/sessions")}
# A's object ids are only useful inside a request that would otherwise be accepted: plausible bodies.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/sessions/{session_id}/reviews"): {"field": "risk_level", "value": "none",
                                                        "reason": "crossing the wall"},
    ("put", "/api/v1/tenants/{tenant_id}/transcription"): {"transcribers": ["whisper"]},
    ("put", "/api/v1/tenants/{tenant_id}/speakers"): {"first_speaker": "client"},
    ("put", "/api/v1/tenants/{tenant_id}/alerts"): {"rules": [{"categories": ["self_harm"], "channels": [
        {"type": "webhook", "url": "https://hooks.example.test/x"}]}]},
    ("post", "/api/v1/tenants/{tenant_id}/config-versions"): {"kind": "prompt", "name": "x", "content": {}},
    ("put", "/api/v1/tenants/{tenant_id}/config-versions/{kind}/active"): {"version": None},
    ("put", "/api/v1/tenants/{tenant_id}/budget"): {"daily_token_budget": 1},
    ("put", "/api/v1/tenants/{tenant_id}/retention"): {"media_days": 1, "content_days": 1},
    ("put", "/api/v1/tenants/{tenant_id}/redaction"): {"names": ["Crossing Wall"]},
    ("put", "/api/v1/tenants/{tenant_id}/vocabulary"): {"terms": ["Crossing Wall"]},
    ("put", "/api/v1/tenants/{tenant_id}/risk"): {"sensitivity": "balanced"},
    ("put", "/api/v1/tenants/{tenant_id}/sign-in"): {"email_domains": ["crossing.test"],
                                                     "group_roles": {"x": "admin"}},
    ("put", "/api/v1/tenants/{tenant_id}/users/{user_id}/counselor"): {"label": "Counselor A-7731"},
    ("post", "/api/v1/me/sessions/{session_id}/disputes"): {"field": "summary", "note": "crossing the wall"},
    ("post", "/api/v1/disputes/{dispute_id}/resolve"): {"outcome": "upheld", "reason": "crossing the wall"},
    ("put", "/api/v1/tenants/{tenant_id}/double-review"): {"share": 1.0, "high_risk": True},
    ("put", "/api/v1/sessions/{session_id}/double-review"): {"answers": {"risk_level": "none"}, "submit": True},
    ("post", "/api/v1/sessions/{session_id}/adjudications"): {"field": "risk_level", "value": "none",
                                                             "reason": "crossing the wall"},
    ("post", "/api/v1/sessions/{session_id}/gold"): {"note": "crossing the wall"},
    ("put", "/api/v1/sessions/{session_id}/calibration"): {"answers": {"risk_level": "none"}, "submit": True},
    ("post", "/api/v1/calibration-rounds"): {"name": "across", "session_ids": ["{session_id}"],
                                             "reviewer_emails": ["{supervisor_email}"]},
}
PARAMS: dict[tuple[str, str], dict[str, Any]] = {
    ("put", "/api/v1/uploads/{session_id}/content"): {"expires": 4102444800, "signature": "0" * 64},
    ("get", "/api/v1/events"): {"max_seconds": 0.5},  # a stream: bounded, so the call ends
    ("get", "/api/v1/alerts/{alert_id}/acknowledge-link"): {"token": "0" * 64},
    ("post", "/api/v1/alerts/{alert_id}/acknowledge-link"): {"token": "0" * 64},
}


def _filled(body: Any, world: dict[str, str]) -> Any:
    """A body whose strings may name tenant A's objects, e.g. "{session_id}"."""
    if isinstance(body, dict):
        return {k: _filled(v, world) for k, v in body.items()}
    if isinstance(body, list):
        return [_filled(v, world) for v in body]
    return body.format(**world) if isinstance(body, str) and "{" in body else body


def _operations() -> list[tuple[str, str]]:
    return [(method, path) for path, ops in create_app().openapi()["paths"].items() for method in ops]


def _a_state(ctx: Context, tenant_id: uuid.UUID) -> dict[str, Any]:
    with ctx.system_db() as db:
        counts = {table.__tablename__: db.scalar(sa.select(sa.func.count()).select_from(table)
                                                 .where(table.tenant_id == tenant_id))
                  for table in (Session, Job, Analysis, Review, AuditEntry, ConfigVersion, ReplayRun, Dispute,
                                ReviewAcknowledgement, Alert, ReviewAssignment, GoldStandard, CalibrationRound,
                                SignInMapping)}
        tenant = db.get(TenantRow, tenant_id)
        sessions = db.execute(sa.select(Session.id, Session.status, Session.risk_level, Session.reviewed_at)
                              .where(Session.tenant_id == tenant_id).order_by(Session.id)).all()
        alerts = db.execute(sa.select(Alert.id, Alert.status, Alert.attempts, Alert.acknowledged_at)
                            .where(Alert.tenant_id == tenant_id)).all()
        disputes = db.execute(sa.select(Dispute.id, Dispute.status).where(Dispute.tenant_id == tenant_id)).all()
        users = db.execute(sa.select(User.id, User.role, User.counselor_label, User.access_revoked_at)
                           .where(User.tenant_id == tenant_id)
                           .order_by(User.id)).all()
        mapping = db.execute(sa.select(SignInMapping.issuer, SignInMapping.email_domains, SignInMapping.group_roles,
                                       SignInMapping.default_role).where(SignInMapping.tenant_id == tenant_id)).all()
    return {**counts, "sign_in": mapping,
            "tenant": (tenant.transcribers, tenant.daily_token_budget, tenant.active_prompt_version,
                       tenant.retention_media_days, tenant.retention_content_days, tenant.redaction_names,
                       tenant.risk_sensitivity, tenant.active_risk_model_version, tenant.double_review_share,
                       tenant.double_review_high_risk, tenant.vocabulary, tenant.first_speaker),
            "sessions": sessions, "disputes": disputes, "users": users, "alerts": alerts}


@pytest.fixture
def world(ctx: Context, tenant_a: Tenant) -> dict[str, str]:
    """Tenant A with one of everything: an analysed session with a review, a job, a replay run, a counselor linked
    to the session's counselor who acknowledged it and disputed a field."""
    from tests.integration.test_analysis_tasks import transcribed_session
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.schemas.api import ReviewIn
    from vigil.schemas.counseling import DisputeIn
    from vigil.services.auth import authenticate
    from vigil.services.counselors import acknowledge, link
    from vigil.services.disputes import open_dispute
    from vigil.services.pipeline import run_analyze
    from vigil.services.reviews import create_review

    claim = transcribed_session(ctx, tenant_a)
    run_analyze(ctx, claim, OfflineAnalyzer())
    with ctx.system_db() as db:
        supervisor = authenticate(db, tenant_a.supervisor)
        create_review(ctx.store, db, supervisor, claim.session_id, ReviewIn(field="summary", value="A-only summary",
                                                                 reason="mine"))
        db.execute(sa.update(Session).where(Session.id == claim.session_id).values(counselor="Counselor A-7731"))
        run = ReplayRun(tenant_id=claim.tenant_id, candidate="offline", baseline="active", source="dataset:x",
                        session_count=1, duration_seconds=0.1, metrics={}, predictions={})
        db.add(run)
        analysis_id = db.scalar(sa.select(Analysis.id).where(Analysis.session_id == claim.session_id))
        alert = Alert(tenant_id=claim.tenant_id, session_id=claim.session_id, analysis_id=analysis_id,
                      category="self_harm", severity="high", channel_url="https://hooks.example.test/a", status="dead")
        db.add(alert)
        sheet_id = uuid.uuid4()  # a double review's first sheet, in: its note is A's alone
        db.add(ReviewAssignment(id=sheet_id, tenant_id=claim.tenant_id, session_id=claim.session_id,
                                reviewer_id=supervisor.user_id, slot=1, purpose="double", status="submitted",
                                answers={"risk_level": "low"}, ai_answers={"risk_level": "medium"},
                                note_sealed=seal_value(ctx.store, b'{"note": "A-only sheet note"}',
                                                       f"review-assignment/{sheet_id}"),
                                created_at=utcnow(), submitted_at=utcnow()))
        db.add(GoldStandard(session_id=claim.session_id, tenant_id=claim.tenant_id, answers={"risk_level": "low"},
                            created_at=utcnow()))
        round_ = CalibrationRound(id=uuid.uuid4(), tenant_id=claim.tenant_id, name="A-only round",
                                  created_at=utcnow())
        db.add(round_)
        db.add(SignInMapping(tenant_id=claim.tenant_id, email_domains=["a-only.example"],
                             group_roles={"A-only-group": "supervisor"}))
        counselor = authenticate(db, tenant_a.counselor)
        link(db, None, db.get(User, counselor.user_id), "Counselor A-7731")
        db.commit()
        acknowledge(db, counselor, claim.session_id)
        dispute = open_dispute(ctx.store, db, counselor, claim.session_id,
                               DisputeIn(field="risk_level", note="A-only dispute note"))
    return {"session_id": str(claim.session_id), "job_id": str(claim.job_id), "tenant_id": str(claim.tenant_id),
            "run_id": str(run.id), "kind": "prompt", "user_id": str(counselor.user_id),
            "dispute_id": str(dispute.id), "alert_id": str(alert.id), "round_id": str(round_.id),
            "supervisor_email": supervisor.email}


def test_no_role_of_another_tenant_reaches_anything_of_this_one(client: TestClient, ctx: Context, tenant_b: Tenant,
                                                                world: dict[str, str]) -> None:
    markers = [world["session_id"], world["job_id"], world["tenant_id"], world["run_id"], "Counselor A-7731",
               "A-only summary", world["user_id"], world["dispute_id"], "A-only dispute note", world["alert_id"],
               "A-only sheet note", "A-only round", "A-only-group", "a-only.example"]
    before = _a_state(ctx, uuid.UUID(world["tenant_id"]))
    tried, leaks, unclassified = 0, [], []
    for method, path in _operations():
        names = re.findall(r"{(\w+)}", path)
        if (method, path) in OWN_OR_PUBLIC:
            continue
        if any(name not in world for name in names):
            unclassified.append(f"{method.upper()} {path}")
            continue
        url = path.format(**world)
        for role in ROLES:
            answer = client.request(method.upper(), url, headers=tenant_b.headers(role),
                                    json=_filled(BODIES.get((method, path)), world),
                                    params=PARAMS.get((method, path)))
            tried += 1
            seen = [m for m in markers if m in answer.text]
            if names and answer.status_code not in (403, 404):
                leaks.append(f"{role} {method.upper()} {path}: {answer.status_code}")
            elif not names and answer.status_code >= 500:
                leaks.append(f"{role} {method.upper()} {path}: {answer.status_code}")
            if seen:
                leaks.append(f"{role} {method.upper()} {path} showed {seen}")
    print(f"\ntenant walls: {tried} calls (operations × roles of another tenant), leaks {len(leaks)}")
    assert unclassified == [], "a new endpoint: give its path parameter a value of tenant A's in `world`"
    assert leaks == []
    assert tried >= 100
    assert _a_state(ctx, uuid.UUID(world["tenant_id"])) == before, "tenant A's data is unchanged"
