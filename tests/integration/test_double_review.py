"""Double review through the API on real PostgreSQL: the tenant's setting, fair assignment of two different
supervisors when the analysis commits, blind sheets (the second reviewer's reads never show the first's answers),
agreed changes becoming canonical, and a lead adjudicating a disagreement with a reason."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import Tenant, isolated_context, make_tenant, tenant_id_of
from tests.integration.test_analysis_tasks import transcribed_session
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.context import Context
from vigil.db.models import AuditEntry, Review, ReviewAssignment, User
from vigil.db.models import Session as SessionRow
from vigil.schemas.enums import Role
from vigil.services.auth import issue_token
from vigil.services.pipeline import run_analyze


@pytest.fixture
def ctx(pg_admin_url: str, tmp_path) -> Context:  # type: ignore[no-untyped-def]
    return isolated_context(pg_admin_url, tmp_path)


def supervisors(ctx: Context, tenant: Tenant, count: int) -> list[str]:
    """`count` more supervisors of the tenant; their tokens."""
    with ctx.system_db() as db:
        tokens = [issue_token(db, tenant.name, f"sup{i}-{uuid.uuid4().hex[:6]}@{tenant.name}.test", Role.supervisor)
                  for i in range(count)]
        db.commit()
    return tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _setting(client: TestClient, ctx: Context, tenant: Tenant, share: float, high_risk: bool = False) -> None:
    answer = client.put(f"/api/v1/tenants/{tenant_id_of(ctx, tenant)}/double-review", headers=tenant.headers("admin"),
                        json={"share": share, "high_risk": high_risk})
    assert answer.status_code == 200, answer.text


def _analysed(ctx: Context, tenant: Tenant) -> str:
    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, OfflineAnalyzer())
    return str(claim.session_id)


def _reviewer_tokens(ctx: Context, session_id: str, tokens: list[str]) -> tuple[str, str]:
    """The tokens of the session's slot-1 and slot-2 reviewers, among `tokens`."""
    from vigil.services.auth import authenticate

    with ctx.system_db() as db:
        by_user = {authenticate(db, t).user_id: t for t in tokens}
        slots = dict(db.execute(sa.select(ReviewAssignment.slot, ReviewAssignment.reviewer_id).where(
            ReviewAssignment.session_id == uuid.UUID(session_id))).all())
    return by_user[slots[1]], by_user[slots[2]]


def test_the_setting_is_an_admins_of_their_own_tenant_and_audited(ctx: Context) -> None:
    tenant, other = make_tenant(ctx), make_tenant(ctx)
    path = f"/api/v1/tenants/{tenant_id_of(ctx, tenant)}/double-review"
    with TestClient(configure(create_app(), ctx)) as client:
        assert client.get(path, headers=tenant.headers("admin")).json() == {"share": 0.0, "high_risk": False}
        _setting(client, ctx, tenant, 0.2, high_risk=True)
        assert client.get(path, headers=tenant.headers("admin")).json() == {"share": 0.2, "high_risk": True}
        assert client.put(path, headers=tenant.headers("supervisor"), json={"share": 1}).status_code == 403
        assert client.get(path, headers=other.headers("admin")).status_code == 404
        assert client.put(path, headers=other.headers("admin"), json={"share": 1}).status_code == 404
        assert client.put(path, headers=tenant.headers("admin"), json={"share": 1.5}).status_code == 422
    with ctx.system_db() as db:
        assert db.scalars(sa.select(AuditEntry.detail).where(AuditEntry.action == "tenant.double_review")).all() == [
            {"share": 0.2, "high_risk": True}]


def test_assignment_is_fair_never_the_same_person_twice_and_needs_two_supervisors(ctx: Context) -> None:
    lone = make_tenant(ctx)  # one supervisor only
    tenant = make_tenant(ctx)
    with TestClient(configure(create_app(), ctx)) as client:
        _setting(client, ctx, lone, 1.0)
        _setting(client, ctx, tenant, 1.0)
    lone_session = _analysed(ctx, lone)
    supervisors(ctx, tenant, 2)  # three supervisors in all
    sessions = [_analysed(ctx, tenant) for _ in range(3)]
    with ctx.system_db() as db:
        rows = db.execute(sa.select(ReviewAssignment.session_id, ReviewAssignment.slot, ReviewAssignment.reviewer_id)
                          ).all()
        unavailable = db.scalar(sa.select(AuditEntry.detail).where(AuditEntry.action == "double_review.unavailable",
                                                                   AuditEntry.entity_id == lone_session))
    assert not [r for r in rows if str(r.session_id) == lone_session], "one supervisor: no double review"
    assert unavailable == {"supervisors": 1}
    for session_id in sessions:
        mine = [r for r in rows if str(r.session_id) == session_id]
        assert sorted(r.slot for r in mine) == [1, 2] and len({r.reviewer_id for r in mine}) == 2
    load = Counter(r.reviewer_id for r in rows)
    assert sorted(load.values()) == [2, 2, 2], "six places over three supervisors: fewest open first"


def test_share_zero_is_single_review_as_before(ctx: Context) -> None:
    tenant = make_tenant(ctx)
    supervisors(ctx, tenant, 1)
    session_id = _analysed(ctx, tenant)
    with TestClient(configure(create_app(), ctx)) as client:
        assert client.get(f"/api/v1/sessions/{session_id}/double-review",
                          headers=tenant.headers()).json()["status"] == "none"
        review = client.post(f"/api/v1/sessions/{session_id}/reviews", headers=tenant.headers(),
                             json={"field": "risk_level", "value": "medium", "reason": "safety plan in place"})
        assert review.status_code == 201
        assert client.get(f"/api/v1/sessions/{session_id}", headers=tenant.headers()).json()["risk_level"] == "medium"


def test_high_risk_sessions_are_double_reviewed_even_at_a_share_of_zero(ctx: Context) -> None:
    from tests.integration.test_analysis_tasks import RiskDown

    tenant = make_tenant(ctx)
    supervisors(ctx, tenant, 1)
    with TestClient(configure(create_app(), ctx)) as client:
        _setting(client, ctx, tenant, 0.0, high_risk=True)
    medium = _analysed(ctx, tenant)
    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, RiskDown())  # no one could rate it: as high a risk as any
    with ctx.system_db() as db:
        levels = dict(db.execute(sa.select(SessionRow.id, SessionRow.ai_risk_level)).all())
        assigned = Counter(db.scalars(sa.select(ReviewAssignment.session_id)).all())
    assert (levels[uuid.UUID(medium)], levels[claim.session_id]) == ("medium", "unknown")
    assert assigned == {claim.session_id: 2}, "the unrated session is, the medium one is not"


def test_blind_sheets_then_agreement_then_a_lead_adjudicates_the_disagreement(ctx: Context) -> None:
    tenant, other = make_tenant(ctx), make_tenant(ctx)
    extra = supervisors(ctx, tenant, 2)
    with TestClient(configure(create_app(), ctx)) as client:
        _setting(client, ctx, tenant, 1.0)
        session_id = _analysed(ctx, tenant)
        first, second = _reviewer_tokens(ctx, session_id, [tenant.supervisor, *extra])
        third = next(t for t in [tenant.supervisor, *extra] if t not in (first, second))
        path = f"/api/v1/sessions/{session_id}/double-review"
        queue = {t: client.get("/api/v1/sessions", params={"order": "queue"}, headers=_auth(t)).json()
                 for t in (first, second, third)}
        assert queue[first][0]["id"] == session_id and queue[first][0]["double_review"] == "your review"
        assert queue[second][0]["double_review"] == "second review"
        assert next(s for s in queue[third] if s["id"] == session_id)["double_review"] == "double review"

        fields = client.get(path, headers=_auth(first)).json()["fields"]
        rubric = next(f for f in fields if f.startswith("rubric."))
        changed = 1 if fields[rubric] != 1 else 2
        saved = client.put(path, headers=_auth(first), json={
            "answers": {"risk_level": "low", rubric: changed}, "note": "client denies current intent", "submit": True})
        assert saved.status_code == 200 and saved.json()["mine"]["status"] == "submitted"
        assert client.put(path, headers=_auth(first), json={"answers": {"risk_level": "high"}}).status_code == 409

        # The second reviewer sees nothing of the first's answers, anywhere.
        blind = client.get(path, headers=_auth(second)).json()
        assert blind["sheets"] == [] and blind["mine"]["answers"] == {} and blind["status"] == "open"
        assert [r["status"] for r in blind["reviewers"]] == ["submitted", "open"]
        reads = [client.get(f"/api/v1/sessions/{session_id}{p}", headers=_auth(second)).text
                 for p in ("", "/analysis", "/audit", "/custody")]
        assert fields["risk_level"] == "medium" and json.loads(reads[0])["risk_level"] == "medium", \
            "the first reviewer's level is not applied yet"
        assert json.loads(reads[1])["overrides"] == {}
        assert not [r for r in reads if "client denies" in r], "the note leaks through no read"
        assert not [e for e in json.loads(reads[2]) if {"answers", "sheets"} & set(e["detail"])], "nor the audit"
        assert client.post(f"/api/v1/sessions/{session_id}/reviews", headers=_auth(third), json={
            "field": "risk_level", "value": "none", "reason": "no risk heard"}).status_code == 409, "judged fields wait"
        assert client.put(path, headers=_auth(third), json={"answers": {}}).status_code == 404
        assert client.put(path, headers=tenant.headers("lead"), json={"answers": {}}).status_code == 403
        assert client.get(path, headers=other.headers("admin")).status_code == 404
        assert client.put(path, headers=other.headers("supervisor"), json={"answers": {}}).status_code == 404

        done = client.put(path, headers=_auth(second), json={"answers": {"risk_level": "high", rubric: changed},
                                                               "submit": True}).json()
        assert done["status"] == "disagreement"
        assert [d["field"] for d in done["disagreements"]] == ["risk_level"]
        assert done["disagreements"][0]["values"] == {"1": "low", "2": "high"}
        assert {s["note"] for s in done["sheets"]} == {"client denies current intent", None}
        analysis = client.get(f"/api/v1/sessions/{session_id}/analysis", headers=tenant.headers("lead")).json()
        assert analysis["effective"][rubric] == changed, "what both changed alike is canonical"
        assert analysis["effective"]["risk_level"] == "medium", "a disagreement keeps the AI's value until settled"
        assert client.get(f"/api/v1/sessions/{session_id}", headers=_auth(first)).json()["double_review"] == \
            "disagreement"

        adjudications = f"/api/v1/sessions/{session_id}/adjudications"
        settle = {"field": "risk_level", "value": "high", "reason": "ideation with means at home"}
        assert client.post(adjudications, headers=_auth(first), json=settle).status_code == 403
        assert client.post(adjudications, headers=other.headers("lead"), json=settle).status_code == 404
        assert client.post(adjudications, headers=tenant.headers("lead"),
                           json={**settle, "field": rubric, "value": 3}).status_code == 409, "they agreed on it"
        assert client.post(adjudications, headers=tenant.headers("lead"),
                           json={**settle, "reason": ""}).status_code == 422
        settled = client.post(adjudications, headers=tenant.headers("lead"), json=settle)
        assert settled.status_code == 200 and settled.json()["status"] == "settled"
        assert settled.json()["disagreements"][0]["adjudicated"] == "high"
        assert client.post(adjudications, headers=tenant.headers("admin"), json=settle).status_code == 409
        shown = client.get(f"/api/v1/sessions/{session_id}", headers=tenant.headers("lead")).json()
        assert (shown["risk_level"], shown["reviewed"], shown["double_review"]) == ("high", True, None)
    with ctx.system_db() as db:
        kinds = dict(db.execute(sa.select(Review.field, Review.kind).where(
            Review.session_id == uuid.UUID(session_id))).all())
        actions = db.scalars(sa.select(AuditEntry.action).where(AuditEntry.entity_id == session_id)
                             .order_by(AuditEntry.seq)).all()
        lead = db.scalar(sa.select(User.id).where(User.email == f"lead@{tenant.name}.test"))
        adjudicator = db.scalar(sa.select(Review.reviewer_id).where(Review.kind == "adjudication"))
    assert kinds == {rubric: "double", "risk_level": "adjudication"} and adjudicator == lead
    assert actions.count("double_review.submitted") == 2 and "double_review.completed" in actions
    assert actions.index("double_review.completed") < actions.index("review.adjudicate")


def test_a_sheet_cannot_be_submitted_with_a_field_unanswered(ctx: Context) -> None:
    from tests.integration.test_analysis_tasks import RiskDown

    tenant = make_tenant(ctx)
    extra = supervisors(ctx, tenant, 1)
    with TestClient(configure(create_app(), ctx)) as client:
        _setting(client, ctx, tenant, 1.0)
        claim = transcribed_session(ctx, tenant)
        run_analyze(ctx, claim, RiskDown())  # the risk task failed: the AI gave no level and no flags
        first, _ = _reviewer_tokens(ctx, str(claim.session_id), [tenant.supervisor, *extra])
        path = f"/api/v1/sessions/{claim.session_id}/double-review"
        refused = client.put(path, headers=_auth(first), json={"answers": {"risk_level": "low"}, "submit": True})
        assert refused.status_code == 400 and "flag.suicidal_ideation" in refused.json()["detail"]
        assert client.put(path, headers=_auth(first), json={"answers": {"risk_level": "unknown"}}).status_code == 400
        assert client.put(path, headers=_auth(first), json={"answers": {"summary": "x"}}).status_code == 400
        assert client.get(path, headers=_auth(first)).json()["mine"]["status"] == "open"


def test_agreement_through_the_api_matches_the_hand_worked_values(ctx: Context) -> None:
    """Four double reviews. Risk level (A, B): (low, low) (medium, medium) (high, high) (low, medium): ranks as in
    the unit test's (1,1) (2,2) (3,3) (1,2), so ordinal alpha = 0.79 and agreement 3/4. Self-harm flag (A, B):
    (confirmed, confirmed) (dismissed, dismissed) (confirmed, dismissed) (dismissed, dismissed): p_o = 3/4, A
    confirms 1/2 and B 1/4, p_e = 1/2·1/4 + 1/2·3/4 = 1/2, kappa = (3/4 − 1/2) / (1/2) = 0.5. The AI said medium
    every time, so reviewers against the AI on risk level agree on 3 of 8 answers."""
    tenant, other = make_tenant(ctx), make_tenant(ctx)
    extra = supervisors(ctx, tenant, 2)
    answers = [("low", "low", "confirmed", "confirmed"), ("medium", "medium", "dismissed", "dismissed"),
               ("high", "high", "confirmed", "dismissed"), ("low", "medium", "dismissed", "dismissed")]
    with TestClient(configure(create_app(), ctx)) as client:
        _setting(client, ctx, tenant, 1.0)
        for risk_a, risk_b, flag_a, flag_b in answers:
            session_id = _analysed(ctx, tenant)
            first, second = _reviewer_tokens(ctx, session_id, [tenant.supervisor, *extra])
            path = f"/api/v1/sessions/{session_id}/double-review"
            for token, risk, flag in ((first, risk_a, flag_a), (second, risk_b, flag_b)):
                saved = client.put(path, headers=_auth(token), json={
                    "answers": {"risk_level": risk, "flag.self_harm": flag}, "submit": True})
                assert saved.status_code == 200, saved.text
        stats = client.get("/api/v1/analytics/agreement", headers=tenant.headers("lead")).json()
        risk = next(f for f in stats["fields"] if f["field"] == "risk_level")
        harm = next(f for f in stats["fields"] if f["field"] == "flag.self_harm")
        assert stats["sessions"] == 4 and stats["fields"][0]["field"] == "risk_level"
        assert (risk["kind"], risk["statistic"], risk["sessions"]) == ("ordinal", "krippendorff_alpha", 4)
        assert risk["value"] == pytest.approx(0.79) and risk["percent_agreement"] == 0.75
        assert risk["ci_low"] <= risk["value"] <= risk["ci_high"]
        assert (harm["statistic"], harm["value"], harm["percent_agreement"]) == ("cohen_kappa", pytest.approx(0.5),
                                                                                 0.75)
        assert (risk["ai_pairs"], risk["ai_percent_agreement"]) == (8, 0.375)
        matrix = stats["matrix"]
        assert len(matrix["reviewers"]) == 3 and all(matrix["percent"][i][i] is None for i in range(3))
        assert sum(map(sum, matrix["sessions"])) == 8, "each session counts once for each of its two reviewers"
        assert all(matrix["percent"][i][j] == matrix["percent"][j][i] for i in range(3) for j in range(3))
        [week] = stats["trend"]
        assert (week["sessions"], week["value"]) == (4, pytest.approx(0.79))
        only = client.get("/api/v1/analytics/agreement", params={"field": "flag.self_harm"},
                          headers=tenant.headers("supervisor")).json()
        assert [f["field"] for f in only["fields"]] == ["flag.self_harm"] and only["matrix"]["field"] == \
            "flag.self_harm"
        later = client.get("/api/v1/analytics/agreement", params={"since": "2999-01-01T00:00:00Z"},
                           headers=tenant.headers("lead")).json()
        assert later["sessions"] == 0 and later["fields"] == []
        assert client.get("/api/v1/analytics/agreement", headers=other.headers("lead")).json()["sessions"] == 0
        assert client.get("/api/v1/analytics/agreement", headers=tenant.headers("uploader")).status_code == 403


def test_counselors_and_uploaders_reach_none_of_the_review_quality_routes(ctx: Context) -> None:
    """Same tenant, wrong role: every double-review, agreement, calibration and export route refuses (403), or does
    not find what the caller may not know of (404)."""
    tenant = make_tenant(ctx)
    supervisors(ctx, tenant, 1)
    with TestClient(configure(create_app(), ctx)) as client:
        _setting(client, ctx, tenant, 1.0)
        session_id = _analysed(ctx, tenant)
        calls = [("GET", f"/api/v1/sessions/{session_id}/double-review", None),
                 ("PUT", f"/api/v1/sessions/{session_id}/double-review", {"answers": {}}),
                 ("POST", f"/api/v1/sessions/{session_id}/adjudications",
                  {"field": "risk_level", "value": "low", "reason": "not mine to settle"}),
                 ("GET", "/api/v1/analytics/agreement", None),
                 ("POST", f"/api/v1/sessions/{session_id}/gold", {"note": "x"}),
                 ("GET", "/api/v1/gold", None),
                 ("POST", "/api/v1/calibration-rounds", {"name": "x", "session_ids": [session_id],
                                                         "reviewer_emails": ["a@b.test"]}),
                 ("GET", "/api/v1/calibration-rounds", None),
                 ("GET", f"/api/v1/sessions/{session_id}/calibration", None),
                 ("GET", "/api/v1/analytics/human-scores", None),
                 ("GET", f"/api/v1/tenants/{tenant_id_of(ctx, tenant)}/double-review", None)]
        for role in ("counselor", "uploader"):
            for method, path, body in calls:
                answer = client.request(method, path, headers=tenant.headers(role), json=body)
                assert answer.status_code in (403, 404), f"{role} {method} {path}: {answer.status_code}"
