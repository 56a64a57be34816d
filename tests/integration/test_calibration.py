"""Calibration through the API on real PostgreSQL and the real store: a lead marks a reviewed session gold, a round
sends each chosen reviewer a copy of their own that shows no review, their sheets are scored against gold per field
and per reviewer, gold never moves, and copies stay out of the production queue, facts and agreement."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import Tenant, isolated_context, make_tenant
from tests.integration.test_double_review import _analysed, _auth, supervisors
from vigil.context import Context
from vigil.db.models import AuditEntry, GoldStandard, Review


@pytest.fixture
def ctx(pg_admin_url: str, tmp_path) -> Context:  # type: ignore[no-untyped-def]
    return isolated_context(pg_admin_url, tmp_path)


def test_gold_rounds_and_scores_against_gold(ctx: Context) -> None:
    tenant, other = make_tenant(ctx), make_tenant(ctx)
    [second] = supervisors(ctx, tenant, 1)
    lead = tenant.headers("lead")
    with TestClient(configure(create_app(), ctx)) as client:
        gold_id, unreviewed = _analysed(ctx, tenant), _analysed(ctx, tenant)
        assert client.post(f"/api/v1/sessions/{gold_id}/reviews", headers=tenant.headers(), json={
            "field": "risk_level", "value": "low", "reason": "protective factors, no plan"}).status_code == 201
        gold_path = f"/api/v1/sessions/{gold_id}/gold"
        assert client.post(gold_path, headers=tenant.headers(), json={}).status_code == 403
        assert client.post(gold_path, headers=other.headers("lead"), json={}).status_code == 404
        assert client.post(f"/api/v1/sessions/{unreviewed}/gold", headers=lead, json={}).status_code == 409
        marked = client.post(gold_path, headers=lead, json={"note": "agreed at the March case conference"})
        assert marked.status_code == 201, marked.text
        gold = marked.json()["answers"]
        assert gold["risk_level"] == "low" and gold["flag.suicidal_ideation"] == "confirmed"
        assert client.post(gold_path, headers=lead, json={}).status_code == 409
        assert [g["note"] for g in client.get("/api/v1/gold", headers=lead).json()] == [
            "agreed at the March case conference"]

        supervisor_email = client.get("/api/v1/me", headers=tenant.headers()).json()["email"]
        second_email = client.get("/api/v1/me", headers=_auth(second)).json()["email"]
        body = {"name": "March", "session_ids": [gold_id], "reviewer_emails": [supervisor_email, second_email]}
        assert client.post("/api/v1/calibration-rounds", headers=tenant.headers(), json=body).status_code == 403
        assert client.post("/api/v1/calibration-rounds", headers=lead, json={
            **body, "session_ids": [unreviewed]}).status_code == 400, "only gold sessions"
        assert client.post("/api/v1/calibration-rounds", headers=lead, json={
            **body, "reviewer_emails": [f"lead@{tenant.name}.test"]}).status_code == 400, "only reviewers"
        created = client.post("/api/v1/calibration-rounds", headers=lead, json=body)
        assert created.status_code == 201, created.text
        round_id = created.json()["id"]

        copies = {}
        for token in (tenant.supervisor, second):
            queue = client.get("/api/v1/sessions", params={"order": "queue"}, headers=_auth(token)).json()
            [copy] = [s for s in queue if s["purpose"] == "calibration"]
            assert copy["double_review"] == "calibration" and copy["title"].startswith("Calibration session")
            copies[token] = copy["id"]
            shown = client.get(f"/api/v1/sessions/{copy['id']}/analysis", headers=_auth(token)).json()
            assert shown["overrides"] == {} and shown["effective"]["risk_level"] == "medium", "no review shows"
            transcript = client.get(f"/api/v1/sessions/{copy['id']}/transcript", headers=_auth(token))
            assert transcript.status_code == 200 and "killing myself" in transcript.text
        assert len(set(copies.values())) == 2, "a copy each"
        lead_queue = client.get("/api/v1/sessions", headers=lead).json()
        assert not [s for s in lead_queue if s["purpose"] == "calibration"], "copies stay out of others' lists"
        facts = client.get("/api/v1/analytics/review-facts", headers=lead).json()
        assert {f["id"] for f in facts} == {gold_id, unreviewed}, "and out of the facts"
        assert client.post(f"/api/v1/sessions/{copies[second]}/reviews", headers=_auth(second), json={
            "field": "risk_level", "value": "high", "reason": "answered here"}).status_code == 409

        sheet = f"/api/v1/sessions/{copies[tenant.supervisor]}/calibration"
        assert client.put(sheet, headers=_auth(second), json={"answers": {}}).status_code == 404, "not theirs"
        assert client.put(sheet, headers=tenant.headers(), json={"answers": gold, "submit": True}).status_code == 200
        off = {**gold, "risk_level": "high", "flag.self_harm": "confirmed"}
        assert client.put(f"/api/v1/sessions/{copies[second]}/calibration", headers=_auth(second),
                          json={"answers": off, "submit": True}).status_code == 200

        scored = client.get(f"/api/v1/calibration-rounds/{round_id}", headers=lead).json()
        accuracy = {r["reviewer_email"]: r["accuracy"] for r in scored["reviewers"]}
        fields = len(gold)
        assert accuracy == {supervisor_email: 1.0, second_email: pytest.approx((fields - 2) / fields)}
        risk = next(f for f in scored["fields"] if f["field"] == "risk_level")
        assert (risk["answers"], risk["accuracy"], risk["mean_distance"]) == (2, 0.5, 1.0), "low vs high: 2 steps"
        assert client.get(f"/api/v1/calibration-rounds/{round_id}", headers=tenant.headers()).status_code == 403
        assert client.get(f"/api/v1/calibration-rounds/{round_id}", headers=other.headers("lead")).status_code == 404
        assert client.get("/api/v1/analytics/agreement", headers=lead).json()["sessions"] == 0, "not production"
        assert client.get(gold_path.replace("/gold", ""), headers=lead).json()["risk_level"] == "low"
    with ctx.system_db() as db:
        stored = db.get(GoldStandard, uuid.UUID(gold_id))
        reviews = db.scalar(sa.select(sa.func.count()).select_from(Review))
        actions = set(db.scalars(sa.select(AuditEntry.action)).all())
    assert stored is not None and stored.answers == gold, "gold never changes through calibration"
    assert reviews == 1, "calibration sheets write no reviews"
    assert {"calibration.gold", "calibration.round", "calibration.submitted"} <= actions


def _gold_with_a_sheet(ctx: Context, client: TestClient, tenant: Tenant, reviewer: str, gold_note: str,
                       sheet: dict[str, object]) -> tuple[str, str]:
    """A reviewed session the lead marks gold, sent in a round to `reviewer`, who fills in `sheet` on their copy:
    (the gold session's id, the reviewer's email)."""
    gold_id = _analysed(ctx, tenant)
    client.post(f"/api/v1/sessions/{gold_id}/reviews", headers=tenant.headers(), json={
        "field": "risk_level", "value": "low", "reason": "safety plan agreed"})
    client.post(f"/api/v1/sessions/{gold_id}/gold", headers=tenant.headers("lead"), json={"note": gold_note})
    email = client.get("/api/v1/me", headers=_auth(reviewer)).json()["email"]
    client.post("/api/v1/calibration-rounds", headers=tenant.headers("lead"), json={
        "name": "June", "session_ids": [gold_id], "reviewer_emails": [email]})
    [copy] = [s for s in client.get("/api/v1/sessions", headers=_auth(reviewer)).json()
              if s["purpose"] == "calibration"]
    client.put(f"/api/v1/sessions/{copy['id']}/calibration", headers=_auth(reviewer), json=sheet)
    return gold_id, email


def test_every_human_score_and_comment_exports_with_reviewer_ids(ctx: Context) -> None:
    """Reviews, sheets and gold, in CSV and Parquet, leads and admins only (disputes: test_counselors.py,
    test_disputes_and_their_resolutions_export_with_the_other_human_scores)."""
    import io

    import polars as pl

    tenant, other = make_tenant(ctx), make_tenant(ctx)
    [second] = supervisors(ctx, tenant, 1)
    lead = tenant.headers("lead")
    with TestClient(configure(create_app(), ctx)) as client:
        _, second_email = _gold_with_a_sheet(ctx, client, tenant, second, "conference consensus", {
            "answers": {"risk_level": "medium"}, "note": "hesitant", "submit": True})

        csv = client.get("/api/v1/analytics/human-scores", headers=lead)
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        rows = pl.read_csv(io.BytesIO(csv.content))
        parquet = client.get("/api/v1/analytics/human-scores", params={"format": "parquet"},
                             headers=tenant.headers("admin"))
        assert pl.read_parquet(io.BytesIO(parquet.content)).height == rows.height
        assert client.get("/api/v1/analytics/human-scores", headers=tenant.headers()).status_code == 403
        assert client.get("/api/v1/analytics/human-scores", headers=other.headers("lead")).content.count(b"\n") == 1
    review = rows.filter(pl.col("kind") == "review").row(0, named=True)
    assert (review["field"], review["value"], review["ai_value"], review["comment"]) == (
        "risk_level", "low", "medium", "safety plan agreed")
    assert review["reviewer_email"] == f"supervisor@{tenant.name}.test" and review["reviewer_id"]
    sheet = rows.filter((pl.col("kind") == "calibration_sheet") & (pl.col("field") == "risk_level")).row(0, named=True)
    assert (sheet["value"], sheet["comment"], sheet["reviewer_email"]) == ("medium", "hesitant", second_email)
    gold = rows.filter((pl.col("kind") == "gold") & (pl.col("field") == "risk_level")).row(0, named=True)
    assert (gold["value"], gold["comment"]) == ("low", "conference consensus")
    with ctx.system_db() as db:
        exported = db.scalars(sa.select(AuditEntry.detail).where(AuditEntry.action == "export.human_scores")).all()
    assert {"rows": rows.height, "since": None} in exported


def test_sheet_and_gold_notes_and_alert_secrets_rewrap_under_a_new_key(ctx: Context) -> None:
    """After a rotation, `vigil keys rewrap`'s pass over these values leaves them readable with the new key alone."""
    import base64
    import json

    from tests.conftest import TEST_KEYS, tenant_id_of
    from vigil.crypto import Keyring
    from vigil.db.models import Alert, ReviewAssignment
    from vigil.db.models import Tenant as TenantRow
    from vigil.services.alerts import secret_place
    from vigil.services.sealed_notes import rewrap_sealed_notes
    from vigil.storage.encrypted import open_value

    tenant = make_tenant(ctx)
    [second] = supervisors(ctx, tenant, 1)
    with TestClient(configure(create_app(), ctx)) as client:
        gold_id, _ = _gold_with_a_sheet(ctx, client, tenant, second, "gold note", {"answers": {}, "note": "sheet note"})
        url = "https://hooks.example.test/rotate"
        assert client.put(f"/api/v1/tenants/{tenant_id_of(ctx, tenant)}/alerts", headers=tenant.headers("admin"),
                          json={"rules": [{"categories": ["suicidal_ideation"], "channels": [
                              {"type": "webhook", "url": url, "secret": "whsec-rotate-0123456789"}]}]}
                          ).status_code == 200
    _analysed(ctx, tenant)  # flagged: a pending delivery holding the sealed secret

    new_key = Keyring.generate_key()
    both = Context.build(ctx.settings.model_copy(update={"encryption_keys": f"{TEST_KEYS},test2:{new_key}",
                                                         "encryption_active_key": "test2"}), ctx.database_url)
    done, unknown = rewrap_sealed_notes(both, tenant_id_of(ctx, tenant))
    assert unknown == 0 and done == 4, "a sheet note, a gold note, the rule's secret and the pending delivery's"
    only_new = Context.build(ctx.settings.model_copy(update={"encryption_keys": f"test2:{new_key}",
                                                             "encryption_active_key": "test2"}), ctx.database_url)
    with ctx.system_db() as db:
        sheet = db.scalar(sa.select(ReviewAssignment).where(ReviewAssignment.note_sealed.is_not(None)))
        stored_gold = db.get(GoldStandard, uuid.UUID(gold_id))
        alert = db.scalar(sa.select(Alert))
        config = db.scalar(sa.select(TenantRow.alert_config).where(TenantRow.name == tenant.name))
    tid = tenant_id_of(ctx, tenant)
    assert json.loads(open_value(only_new.store, sheet.note_sealed, f"review-assignment/{sheet.id}")) == {
        "note": "sheet note"}
    assert json.loads(open_value(only_new.store, stored_gold.note_sealed, f"gold/{gold_id}")) == {"note": "gold note"}
    assert open_value(only_new.store, alert.channel_secret, secret_place(tid, url)) == b"whsec-rotate-0123456789"
    sealed = base64.b64decode(config["rules"][0]["channels"][0]["secret_sealed"])
    assert open_value(only_new.store, sealed, secret_place(tid, url)) == b"whsec-rotate-0123456789"
