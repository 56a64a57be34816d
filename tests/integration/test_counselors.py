"""The counselor's voice over HTTP: a counselor sees only the reviewed results of the sessions they held (never an
unreviewed one, another counselor's or another tenant's: 404), reaches no other session endpoint (403), acknowledges
once, disputes a field into the queue of the supervisor who made it canonical; that supervisor (or an admin) upholds
or changes it with a reason; everything audited with digests, no note or reason in the database's clear."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import Tenant, isolated_context, make_tenant, tenant_id_of
from vigil.context import Context
from vigil.db.models import AuditEntry, Dispute, Session, User
from vigil.schemas.enums import Role
from vigil.sealed_text import digest
from vigil.services.auth import authenticate, issue_token


@dataclass
class World:
    client: TestClient
    ctx: Context
    tenant: Tenant
    other: Tenant
    second_supervisor: str  # a token
    sam: str  # another counselor's token, linked to "Sam Okafor"
    dana_reviewed: str  # Dana's session, reviewed: risk level changed by the second supervisor, the rest accepted
    dana_unreviewed: str  # Dana's session nobody reviewed yet (her name as typed at upload: "  dana RUIZ ")
    sam_reviewed: str
    other_dana: str  # tenant B's reviewed session of its own "Dana Ruiz"
    ai_risk: str
    new_risk: str

    def get(self, path: str, token: str, **params: Any) -> Any:
        return self.client.get(path, headers=_bearer(token), params=params)

    def post(self, path: str, token: str, body: Any = None) -> Any:
        return self.client.post(path, headers=_bearer(token), json=body)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _analysed(ctx: Context, tenant: Tenant, counselor: str) -> str:
    from tests.integration.test_analysis_tasks import transcribed_session
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.services.pipeline import run_analyze

    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, OfflineAnalyzer())
    with ctx.system_db() as db:
        db.execute(sa.update(Session).where(Session.id == claim.session_id).values(counselor=counselor))
        db.commit()
    return str(claim.session_id)


def _link(client: TestClient, tenant: Tenant, token: str, label: str) -> None:
    with client.app.state.ctx.system_db() as db:
        user_id = authenticate(db, token).user_id
    tenant_id = tenant_id_of(client.app.state.ctx, tenant)
    answer = client.put(f"/api/v1/tenants/{tenant_id}/users/{user_id}/counselor", headers=tenant.headers("admin"),
                        json={"label": label})
    assert answer.status_code == 200, answer.text


def _review(client: TestClient, token: str, sid: str, field: str, value: Any, reason: str) -> None:
    answer = client.post(f"/api/v1/sessions/{sid}/reviews", headers=_bearer(token),
                         json={"field": field, "value": value, "reason": reason})
    assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def world(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("counselors"))
    tenant, other = make_tenant(ctx), make_tenant(ctx)
    with ctx.system_db() as db:
        second = issue_token(db, tenant.name, f"second.supervisor@{tenant.name}.test", Role.supervisor)
        sam = issue_token(db, tenant.name, f"sam@{tenant.name}.test", Role.counselor)
        db.commit()
    sessions = {"dana_reviewed": _analysed(ctx, tenant, "Dana Ruiz"),
                "dana_unreviewed": _analysed(ctx, tenant, "  dana RUIZ "),
                "sam_reviewed": _analysed(ctx, tenant, "Sam Okafor"),
                "other_dana": _analysed(ctx, other, "Dana Ruiz")}
    with TestClient(configure(create_app(), ctx)) as client:
        _link(client, tenant, tenant.counselor, "Dana Ruiz")
        _link(client, tenant, sam, "Sam Okafor")
        _link(client, other, other.counselor, "Dana Ruiz")
        analysis = client.get(f"/api/v1/sessions/{sessions['dana_reviewed']}/analysis", headers=tenant.headers()).json()
        ai_risk = analysis["effective"]["risk_level"]
        new_risk = "medium" if ai_risk != "medium" else "low"
        # The first supervisor reviews the session (a flag confirmed); the second changes its risk level afterwards.
        flag = next(f for f, v in analysis["effective"].items() if f.startswith("flag.") and v == "flagged")
        _review(client, tenant.supervisor, sessions["dana_reviewed"], flag, "confirmed", "Heard it on the recording")
        _review(client, second, sessions["dana_reviewed"], "risk_level", new_risk, "Passive ideation, no plan; "
                "safety plan in place")
        _review(client, tenant.supervisor, sessions["sam_reviewed"], "risk_level", "high", "Sam's own review")
        _review(client, other.supervisor, sessions["other_dana"], "risk_level", "low", "Tenant B's review")
        yield World(client, ctx, tenant, other, second, sam, ai_risk=ai_risk, new_risk=new_risk, **sessions)


def _mine(w: World, sid: str, token: str | None = None) -> Any:
    return w.get(f"/api/v1/me/sessions/{sid}", token or w.tenant.counselor)


def _dispute(w: World, sid: str, field: str, note: str, token: str | None = None) -> Any:
    return w.post(f"/api/v1/me/sessions/{sid}/disputes", token or w.tenant.counselor, {"field": field, "note": note})


def _queue(w: World, token: str, **params: Any) -> list[str]:
    answer = w.get("/api/v1/disputes", token, **params)
    assert answer.status_code == 200, answer.text
    return [d["id"] for d in answer.json()]


def _resolve(w: World, dispute_id: str, token: str, **body: Any) -> Any:
    return w.post(f"/api/v1/disputes/{dispute_id}/resolve", token, body)


def test_a_counselor_lists_only_their_own_reviewed_sessions(world: World) -> None:
    listed = world.get("/api/v1/me/sessions", world.tenant.counselor).json()
    assert [s["id"] for s in listed] == [world.dana_reviewed]
    assert listed[0]["risk_level"] == world.new_risk and listed[0]["reviewed_at"]
    assert [s["id"] for s in world.get("/api/v1/me/sessions", world.sam).json()] == [world.sam_reviewed]
    assert [s["id"] for s in world.get("/api/v1/me/sessions", world.other.counselor).json()] == [world.other_dana]


def test_an_unreviewed_session_another_counselors_and_another_tenants_are_404(world: World) -> None:
    for sid in (world.dana_unreviewed, world.sam_reviewed, world.other_dana, str(uuid.uuid4())):
        assert _mine(world, sid).status_code == 404
        assert world.post(f"/api/v1/me/sessions/{sid}/acknowledge", world.tenant.counselor).status_code == 404
        assert _dispute(world, sid, "risk_level", "not mine to dispute").status_code == 404
    assert _mine(world, world.dana_reviewed, world.other.counselor).status_code == 404, "B's Dana Ruiz is not A's"


def test_an_unreviewed_session_appears_once_a_supervisor_reviews_it(world: World) -> None:
    sid = _analysed(world.ctx, world.tenant, "DANA RUIZ")
    assert _mine(world, sid).status_code == 404
    _review(world.client, world.tenant.supervisor, sid, "summary", "Talked through the week.", "Tightened it")
    assert _mine(world, sid).status_code == 200
    assert sid in [s["id"] for s in world.get("/api/v1/me/sessions", world.tenant.counselor).json()]


def test_an_unlinked_counselor_sees_nothing(world: World) -> None:
    with world.ctx.system_db() as db:
        token = issue_token(db, world.tenant.name, f"new@{world.tenant.name}.test", Role.counselor)
        db.commit()
    assert world.get("/api/v1/me/sessions", token).json() == []
    assert _mine(world, world.dana_reviewed, token).status_code == 404


def test_the_counselor_sees_reviewed_values_and_comments_but_not_the_ais_working(world: World) -> None:
    detail = _mine(world, world.dana_reviewed).json()
    fields = {f["field"]: f for f in detail["fields"]}
    risk = fields["risk_level"]
    assert (risk["value"], risk["source"], risk["comment"]) == (world.new_risk, "reviewer", "Passive ideation, no "
                                                                "plan; safety plan in place")
    assert risk["reviewer_email"] == f"second.supervisor@{world.tenant.name}.test"
    analysis = world.client.get(f"/api/v1/sessions/{world.dana_reviewed}/analysis",
                                headers=world.tenant.headers()).json()
    summary = fields["summary"]
    assert (summary["value"], summary["source"], summary["comment"]) == (analysis["ai"]["summary"], "accepted", None)
    assert summary["reviewer_email"] == f"second.supervisor@{world.tenant.name}.test", "who reviewed the session last"
    assert {f for f in fields if f.startswith("rubric.")} == {f"rubric.{r['key']}" for r in analysis["ai"]["rubric"]}
    assert not any(f.startswith(("speaker.", "segment.", "redaction.")) for f in fields)
    shown = _mine(world, world.dana_reviewed).text
    for flag in analysis["ai"]["flags"]:
        assert flag["rationale"] not in shown
        assert all(e["quote"] not in shown for e in flag["evidence"])
    assert '"ai"' not in shown and "evidence" not in shown and "confidence" not in shown


def test_a_counselor_reaches_no_other_session_endpoint_even_for_their_own_session(world: World) -> None:
    sid = world.dana_reviewed
    with world.ctx.system_db() as db:
        job_id = db.scalar(sa.text("SELECT id FROM jobs WHERE session_id = :s"), {"s": sid})
    refused = {}
    for path in ("/api/v1/sessions", "/api/v1/sessions/summary", f"/api/v1/sessions/{sid}",
                 f"/api/v1/sessions/{sid}/transcript", f"/api/v1/sessions/{sid}/transcript/raw",
                 f"/api/v1/sessions/{sid}/audio", f"/api/v1/sessions/{sid}/analysis",
                 f"/api/v1/sessions/{sid}/analyses", f"/api/v1/sessions/{sid}/metrics",
                 f"/api/v1/sessions/{sid}/audit", f"/api/v1/sessions/{sid}/custody",
                 f"/api/v1/sessions/{sid}/redactions", f"/api/v1/jobs/{job_id}/status", "/api/v1/jobs",
                 "/api/v1/analytics/review-facts", "/api/v1/alerts", "/api/v1/disputes", "/api/v1/replay-runs",
                 "/api/v1/events"):
        refused[path] = world.get(path, world.tenant.counselor).status_code
    refused["review"] = world.post(f"/api/v1/sessions/{sid}/reviews", world.tenant.counselor,
                                   {"field": "risk_level", "value": "none", "reason": "my own session"}).status_code
    refused["reprocess"] = world.post(f"/api/v1/sessions/{sid}/reprocess", world.tenant.counselor).status_code
    assert set(refused.values()) == {403}, refused
    me = world.get("/api/v1/me", world.tenant.counselor).json()
    assert (me["role"], me["permissions"]) == ("counselor", ["counsel"])


def test_other_roles_have_no_counselor_view(world: World) -> None:
    for role in ("admin", "supervisor", "lead", "uploader"):
        assert world.get("/api/v1/me/sessions", getattr(world.tenant, role)).status_code == 403
        assert _mine(world, world.dana_reviewed, getattr(world.tenant, role)).status_code == 403


def test_acknowledging_happens_once_and_is_audited(world: World) -> None:
    path = f"/api/v1/me/sessions/{world.dana_reviewed}/acknowledge"
    first = world.post(path, world.tenant.counselor)
    again = world.post(path, world.tenant.counselor)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["acknowledged_at"] == again.json()["acknowledged_at"]
    assert first.json()["changed_since"] is False
    listed = world.get("/api/v1/me/sessions", world.tenant.counselor).json()
    assert next(s for s in listed if s["id"] == world.dana_reviewed)["acknowledged_at"] is not None
    custody = world.client.get(f"/api/v1/sessions/{world.dana_reviewed}/audit", headers=world.tenant.headers()).json()
    assert [e["action"] for e in custody].count("review.acknowledged") == 1


def test_a_dispute_goes_to_the_supervisor_who_made_the_value_canonical(world: World) -> None:
    answer = _dispute(world, world.dana_reviewed, "risk_level", "The client named a crisis line and a plan to call")
    assert answer.status_code == 201, answer.text
    dispute = answer.json()
    assert (dispute["status"], dispute["disputed_value"]) == ("open", world.new_risk)
    assert dispute["assignee_email"] == f"second.supervisor@{world.tenant.name}.test"
    assert dispute["id"] in _queue(world, world.second_supervisor, status="open")
    assert dispute["id"] not in _queue(world, world.tenant.supervisor)
    assert dispute["id"] in _queue(world, world.tenant.admin) and dispute["id"] in _queue(world, world.tenant.lead)
    assert dispute["id"] not in _queue(world, world.other.admin)
    [shown] = [d for d in world.get("/api/v1/disputes", world.second_supervisor).json() if d["id"] == dispute["id"]]
    assert shown["note"] == "The client named a crisis line and a plan to call" and shown["counselor"] == "Dana Ruiz"
    assert world.get("/api/v1/disputes", world.tenant.uploader).status_code == 403
    mine = _mine(world, world.dana_reviewed).json()
    assert [d["id"] for d in mine["disputes"]] == [dispute["id"]] and mine["open_disputes"] == 1


def test_a_dispute_of_an_accepted_value_goes_to_who_reviewed_the_session(world: World) -> None:
    answer = _dispute(world, world.sam_reviewed, "summary", "The summary leaves out the homework we set", world.sam)
    assert answer.status_code == 201, answer.text
    assert answer.json()["assignee_email"] == f"supervisor@{world.tenant.name}.test"
    assert answer.json()["id"] in _queue(world, world.tenant.supervisor, status="open")


def test_a_second_open_dispute_of_a_field_an_unknown_field_and_an_empty_note_are_refused(world: World) -> None:
    sid = world.sam_reviewed
    assert _dispute(world, sid, "action_items", "First dispute of these items", world.sam).status_code == 201
    assert _dispute(world, sid, "action_items", "The same field again", world.sam).status_code == 409
    assert _dispute(world, sid, "speaker.S1", "Not a reviewed result", world.sam).status_code == 400
    assert _dispute(world, sid, "nonsense", "Not a field", world.sam).status_code == 400
    assert _dispute(world, sid, "risk_level", "  ", world.sam).status_code in (400, 422)


def _open_one(w: World, field: str, note: str) -> dict[str, Any]:
    sid = _analysed(w.ctx, w.tenant, "Dana Ruiz")
    _review(w.client, w.tenant.supervisor, sid, "risk_level", "low", "Reviewed for the dispute tests")
    answer = _dispute(w, sid, field, note)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_upholding_needs_a_reason_keeps_the_value_and_the_counselor_sees_why(world: World) -> None:
    dispute = _open_one(world, "risk_level", "I think it was higher than low")
    assert _resolve(world, dispute["id"], world.tenant.supervisor, outcome="upheld", reason="").status_code == 422
    assert _resolve(world, dispute["id"], world.tenant.supervisor, outcome="upheld",
                    reason="   ").status_code == 400
    answer = _resolve(world, dispute["id"], world.tenant.supervisor, outcome="upheld",
                      reason="No plan, no means: low stands")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["resolved_value"]) == ("upheld", "low")
    mine = _mine(world, dispute["session_id"]).json()
    [seen] = mine["disputes"]
    assert (seen["status"], seen["reason"], seen["resolved_by_email"]) == (
        "upheld", "No plan, no means: low stands", f"supervisor@{world.tenant.name}.test")
    assert next(f for f in mine["fields"] if f["field"] == "risk_level")["value"] == "low"
    assert _resolve(world, dispute["id"], world.tenant.supervisor, outcome="upheld",
                    reason="Twice").status_code == 409
    assert dispute["id"] in _queue(world, world.tenant.supervisor, status="upheld")
    assert dispute["id"] not in _queue(world, world.tenant.supervisor, status="open")


def test_changing_makes_the_new_value_canonical_for_the_counselor_and_in_the_analysis(world: World) -> None:
    dispute = _open_one(world, "risk_level", "The client described a plan")
    sid = dispute["session_id"]
    acknowledged = world.post(f"/api/v1/me/sessions/{sid}/acknowledge", world.tenant.counselor).json()
    assert _resolve(world, dispute["id"], world.tenant.supervisor, outcome="changed",
                    reason="Listened again").status_code == 400, "a change needs its value"
    assert _resolve(world, dispute["id"], world.tenant.supervisor, outcome="changed", value="extreme",
                    reason="Listened again").status_code == 400
    assert _resolve(world, dispute["id"], world.tenant.supervisor, outcome="upheld", value="high",
                    reason="Listened again").status_code == 400
    answer = _resolve(world, dispute["id"], world.tenant.supervisor, outcome="changed", value="high",
                      reason="Listened again: a plan was described")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["resolved_value"]) == ("changed", "high")
    analysis = world.client.get(f"/api/v1/sessions/{sid}/analysis", headers=world.tenant.headers()).json()
    assert analysis["effective"]["risk_level"] == "high"
    assert analysis["overrides"]["risk_level"]["reason"] == "Listened again: a plan was described"
    mine = _mine(world, sid).json()
    risk = next(f for f in mine["fields"] if f["field"] == "risk_level")
    assert (risk["value"], risk["source"], risk["comment"]) == ("high", "reviewer",
                                                                "Listened again: a plan was described")
    assert mine["risk_level"] == "high" and mine["acknowledgement"]["changed_since"] is True
    assert mine["acknowledgement"]["acknowledged_at"] == acknowledged["acknowledged_at"]
    with world.ctx.system_db() as db:
        assert db.scalar(sa.select(Dispute.review_id).where(Dispute.id == uuid.UUID(dispute["id"]))) is not None


def test_only_the_supervisor_whose_queue_it_is_in_or_an_admin_resolves(world: World) -> None:
    dispute = _open_one(world, "summary", "Missing the part about sleep")
    body = {"outcome": "upheld", "reason": "Sleep was not discussed"}
    for token in (world.second_supervisor, world.tenant.lead, world.tenant.uploader, world.tenant.counselor):
        assert _resolve(world, dispute["id"], token, **body).status_code == 403
    for token in (world.other.admin, world.other.supervisor):
        assert _resolve(world, dispute["id"], token, **body).status_code == 404
    assert _resolve(world, str(uuid.uuid4()), world.tenant.admin, **body).status_code == 404
    assert _resolve(world, dispute["id"], world.tenant.admin, **body).status_code == 200


def test_disputes_are_audited_on_the_session_with_digests_only(world: World) -> None:
    note, reason = "Quarrelsome wording about the narwhal", "Upheld: the narwhal anecdote was the client's"
    dispute = _open_one(world, "summary", note)
    assert _resolve(world, dispute["id"], world.tenant.supervisor, outcome="upheld", reason=reason).status_code == 200
    custody = world.client.get(f"/api/v1/sessions/{dispute['session_id']}/custody",
                               headers=world.tenant.headers("lead")).json()
    assert {"dispute.opened", "dispute.resolved"} <= {e["what"] for e in custody["events"]}
    with world.ctx.system_db() as db:
        entries = {e.action: e.detail for e in db.scalars(sa.select(AuditEntry).where(
            AuditEntry.entity_id == dispute["session_id"], AuditEntry.action.like("dispute.%")))}
        every_detail = " ".join(str(d) for d in db.scalars(sa.select(AuditEntry.detail)))
    assert entries["dispute.opened"]["note"] == digest(note)
    assert entries["dispute.opened"]["disputed_value"] == digest(dispute["disputed_value"])  # a text field: a digest
    assert (entries["dispute.resolved"]["outcome"], entries["dispute.resolved"]["reason"]) == ("upheld",
                                                                                               digest(reason))
    assert "narwhal" not in every_detail.lower()


def test_an_admin_links_only_counselor_accounts_one_per_name(world: World) -> None:
    tenant_id = tenant_id_of(world.ctx, world.tenant)
    with world.ctx.system_db() as db:
        users = {u.email.split("@")[0]: u.id for u in db.scalars(sa.select(User).where(User.tenant_id == tenant_id))}
    path = f"/api/v1/tenants/{tenant_id}/users/{{}}/counselor"
    admin = world.tenant.headers("admin")
    assert world.client.put(path.format(users["lead"]), headers=admin, json={"label": "Lee"}).status_code == 400
    assert world.client.put(path.format(users["sam"]), headers=admin, json={"label": " dana ruiz"}).status_code == 409
    assert world.client.put(path.format(users["sam"]), headers=admin, json={"label": ""}).status_code == 400
    assert world.client.put(path.format(uuid.uuid4()), headers=admin, json={"label": "X"}).status_code == 404
    for role in ("supervisor", "lead", "uploader", "counselor"):
        assert world.client.put(path.format(users["sam"]), headers=world.tenant.headers(role),
                                json={"label": "Sam"}).status_code == 403
    other_path = f"/api/v1/tenants/{tenant_id_of(world.ctx, world.other)}/users/{users['sam']}/counselor"
    assert world.client.put(other_path, headers=admin, json={"label": "X"}).status_code == 404
    assert world.client.put(path.format(users["sam"]), headers=world.other.headers("admin"),
                            json={"label": "X"}).status_code == 404
    listed = world.client.get(f"/api/v1/tenants/{tenant_id}/users", headers=admin).json()
    assert {u["email"].split("@")[0]: u["counselor_label"] for u in listed}["counselor"] == "Dana Ruiz"
    assert world.client.get(f"/api/v1/tenants/{tenant_id}/users", headers=world.tenant.headers()).status_code == 403
    with world.ctx.system_db() as db:
        linked = db.scalars(sa.select(AuditEntry.detail).where(AuditEntry.tenant_id == tenant_id,
                                                               AuditEntry.action == "user.counselor_linked")).all()
    assert {"before": None, "after": "Sam Okafor"} in [{k: d[k] for k in ("before", "after")} for d in linked]


def test_a_dump_of_the_database_holds_no_dispute_note_or_reason(world: World) -> None:
    from tests.integration.test_database_holds_no_text import PG_DUMP, _dump

    if not PG_DUMP.exists():
        pytest.skip("the embedded server's pg_dump is not installed")
    note, reason = "Flabbergasted perihelion xylophonist", "Stands: quinquennial marmalade"
    dispute = _open_one(world, "summary", note)
    assert _resolve(world, dispute["id"], world.tenant.supervisor, outcome="upheld", reason=reason).status_code == 200
    dump = _dump(world.ctx)
    words = set(re.findall(r"[a-z]{5,}", (note + " " + reason).lower()))
    assert sorted(w for w in words if w in dump) == []
    assert _mine(world, dispute["session_id"]).json()["disputes"][0]["note"] == note, "the API still shows it"


def test_rewrapping_keeps_dispute_text_readable(world: World) -> None:
    from vigil.services.disputes import rewrap_sealed_disputes

    dispute = _open_one(world, "summary", "Rewrap me please")
    done, unknown = rewrap_sealed_disputes(world.ctx, tenant_id_of(world.ctx, world.tenant))
    assert done >= 1 and unknown == 0
    assert _mine(world, dispute["session_id"]).json()["disputes"][0]["note"] == "Rewrap me please"


def test_disputes_and_their_resolutions_export_with_the_other_human_scores(world: World) -> None:
    import io

    import polars as pl

    dispute = _open_one(world, "risk_level", "Exported: the client named a date")
    assert _resolve(world, dispute["id"], world.tenant.supervisor, outcome="upheld",
                    reason="Exported: the date was a past one").status_code == 200
    answer = world.get("/api/v1/analytics/human-scores", world.tenant.lead)
    assert answer.status_code == 200, answer.text
    rows = pl.read_csv(io.BytesIO(answer.content)).filter(pl.col("ref_id") == dispute["id"])
    by_kind = {r["kind"]: r for r in rows.iter_rows(named=True)}
    assert by_kind["dispute"]["comment"] == "Exported: the client named a date"
    assert by_kind["dispute"]["reviewer_email"] == f"counselor@{world.tenant.name}.test"
    assert by_kind["dispute_upheld"]["comment"] == "Exported: the date was a past one"
    assert by_kind["dispute_upheld"]["value"] == "low"
    assert by_kind["dispute_upheld"]["reviewer_email"] == f"supervisor@{world.tenant.name}.test"
