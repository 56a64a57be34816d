"""Alerts: rules per tenant (admin, audited, secrets write-only), an outbox row written with the analysis that
flagged, and webhook delivery to a real HTTP receiver on loopback that checks the signature itself: retried with the
same delivery id until it succeeds, dead after the last try, delivered again (same id) after a crash between the
post and the mark; no transcript words in any payload."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import Tenant, isolated_context, make_tenant, tenant_id_of
from tests.integration.test_analysis_tasks import SEGMENTS, transcribed_session
from tests.standins.webhook import Receiver, webhook_receiver
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.context import Context
from vigil.db.models import Alert, Analysis, AuditEntry, utcnow
from vigil.services import alert_delivery
from vigil.services.pipeline import run_analyze

SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as seen:
        yield seen


@pytest.fixture
def own(pg_admin_url: str, tmp_path) -> Context:  # type: ignore[no-untyped-def]
    """A database of its own: deliver_due takes due alerts of every tenant in it."""
    return isolated_context(pg_admin_url, tmp_path, alert_retry_base_seconds=1.0, alert_max_attempts=3)


def _rules(client: TestClient, ctx: Context, tenant: Tenant, url: str, secret: str | None = SECRET):  # type: ignore[no-untyped-def]
    channel = {"type": "webhook", "url": url, **({"secret": secret} if secret else {})}
    return client.put(f"/api/v1/tenants/{tenant_id_of(ctx, tenant)}/alerts", headers=tenant.headers("admin"),
                      json={"rules": [{"categories": ["suicidal_ideation", "self_harm"], "min_severity": "medium",
                                       "channels": [channel]}]})


def _flagged(ctx: Context, tenant: Tenant) -> uuid.UUID:
    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, OfflineAnalyzer())
    return claim.session_id


def test_rules_are_an_admins_of_their_own_tenant_and_secrets_never_come_back(own: Context) -> None:
    tenant, other = make_tenant(own), make_tenant(own)
    with TestClient(configure(create_app(), own)) as client:
        saved = _rules(client, own, tenant, "https://hooks.example.test/abc")
        assert saved.status_code == 200, saved.text
        path = f"/api/v1/tenants/{tenant_id_of(own, tenant)}/alerts"
        shown = client.get(path, headers=tenant.headers("admin"))
        assert shown.json()["rules"][0]["channels"] == [{"type": "webhook", "url": "https://hooks.example.test/abc",
                                                         "secret": None, "has_secret": True, "to": None}]
        assert SECRET not in saved.text + shown.text
        kept = _rules(client, own, tenant, "https://hooks.example.test/abc", secret=None)  # rules changed, no secret
        assert kept.json()["rules"][0]["channels"][0]["has_secret"] is True
        assert client.get(path, headers=tenant.headers("supervisor")).status_code == 403
        assert client.get(path, headers=other.headers("admin")).status_code == 404
        assert client.put(path, headers=other.headers("admin"), json={"rules": []}).status_code == 404
        bad = client.put(path, headers=tenant.headers("admin"), json={"rules": [
            {"categories": ["boredom"], "channels": [{"type": "webhook", "url": "https://x.test"}]}]})
        assert bad.status_code == 400 and "boredom" in bad.json()["detail"]
        assert client.put(path, headers=tenant.headers("admin"), json={"rules": [], "escalate_after_minutes": 0,
                                                                        }).status_code == 422, "at least a minute"
        mixed = {"type": "email", "to": ["a@clinic.test"], "url": "https://x.test"}
        assert client.put(path, headers=tenant.headers("admin"), json={"rules": [
            {"categories": ["self_harm"], "channels": [mixed]}]}).status_code == 422, "one target per channel"
        email = {"type": "email", "to": ["oncall@clinic.test"]}
        no_smtp = client.put(path, headers=tenant.headers("admin"), json={"rules": [
            {"categories": ["self_harm"], "channels": [email]}]})
        assert (no_smtp.status_code, no_smtp.json()["code"]) == (400, "no_smtp"), "no relay: refused, not dropped"
    with own.system_db() as db:
        details = db.scalars(sa.select(AuditEntry.detail).where(AuditEntry.action == "tenant.alerts")).all()
    assert details and all(d == {"rules": 1, "channels": 1, "escalate_after_minutes": None} for d in details)
    assert "hooks.example" not in json.dumps(details) and SECRET not in json.dumps(details)


def test_a_flag_is_delivered_once_signed_with_no_transcript_words(own: Context, receiver: Receiver) -> None:
    tenant = make_tenant(own)
    with TestClient(configure(create_app(), own)) as client:
        assert _rules(client, own, tenant, receiver.url).status_code == 200
    session_id = _flagged(own, tenant)
    with own.system_db() as db:  # written with the analysis, before any delivery
        analysis_id = db.scalar(sa.select(Analysis.id).where(Analysis.session_id == session_id))
        [alert] = db.scalars(sa.select(Alert).where(Alert.analysis_id == analysis_id)).all()
    assert (alert.category, alert.status, alert.channel_url) == ("suicidal_ideation", "pending", receiver.url)
    assert SECRET.encode() not in (alert.channel_secret or b""), "the secret is sealed at rest"

    assert alert_delivery.deliver_due(own).as_json() == {"delivered": 1, "retried": 0, "dead": 0}
    assert alert_delivery.deliver_due(own).delivered == 0, "delivered once"
    [(headers, body)] = receiver.received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()  # the receiver's own check
    assert hmac.compare_digest(headers["x-vigil-signature"], expected)
    assert headers["x-vigil-delivery"] == str(alert.id)
    sent = json.loads(body)
    assert (sent["session_id"], sent["category"], sent["delivery_id"]) == (str(session_id), "suicidal_ideation",
                                                                           str(alert.id))
    assert sent["text"].startswith("Vigil: ") and sent["link"].endswith(f"session_id={session_id}")
    spoken = {w for s in SEGMENTS for w in re.findall(r"[a-z]{5,}", s.text.lower())} - {"session", "suicidal"}
    assert spoken and not spoken & set(re.findall(r"[a-z]{5,}", body.decode().lower())), "no transcript words"


def test_a_failing_receiver_gets_the_same_delivery_until_it_answers(own: Context, receiver: Receiver) -> None:
    tenant = make_tenant(own)
    with TestClient(configure(create_app(), own)) as client:
        assert _rules(client, own, tenant, receiver.url).status_code == 200
    _flagged(own, tenant)
    receiver.statuses = [500, 503]
    later = utcnow()
    outcomes = []
    for _ in range(3):
        later += timedelta(minutes=5)  # past the backoff
        outcomes.append(alert_delivery.deliver_due(own, now=later).as_json())
    assert outcomes == [{"delivered": 0, "retried": 1, "dead": 0}, {"delivered": 0, "retried": 1, "dead": 0},
                        {"delivered": 1, "retried": 0, "dead": 0}]
    assert len({h["x-vigil-delivery"] for h, _ in receiver.received}) == 1 and len(receiver.received) == 3
    with own.system_db() as db:
        alert = db.scalar(sa.select(Alert))
    assert (alert.status, alert.attempts, alert.last_error) == ("delivered", 3, None)


def test_a_receiver_that_never_answers_ends_dead_with_its_reason(own: Context, receiver: Receiver) -> None:
    tenant = make_tenant(own)
    with TestClient(configure(create_app(), own)) as client:
        assert _rules(client, own, tenant, receiver.url).status_code == 200
    _flagged(own, tenant)
    receiver.statuses = [500] * 10
    later = utcnow()
    for _ in range(4):
        later += timedelta(minutes=5)
        alert_delivery.deliver_due(own, now=later)
    with own.system_db() as db:
        alert = db.scalar(sa.select(Alert))
    assert (alert.status, alert.attempts) == ("dead", 3) and len(receiver.received) == 3
    assert "500" in alert.last_error and receiver.url not in alert.last_error


def test_a_crash_between_the_post_and_its_record_delivers_again_with_the_same_id(
        own: Context, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = make_tenant(own)
    with TestClient(configure(create_app(), own)) as client:
        assert _rules(client, own, tenant, receiver.url).status_code == 200
    _flagged(own, tenant)
    record = alert_delivery.record

    def crash(*args, **values):  # type: ignore[no-untyped-def]
        raise SystemExit("killed after the post, before the mark")

    monkeypatch.setattr(alert_delivery, "record", crash)
    with pytest.raises(SystemExit):
        alert_delivery.deliver_due(own)
    monkeypatch.setattr(alert_delivery, "record", record)
    assert alert_delivery.deliver_due(own).delivered == 0, "still leased: another deliverer leaves it alone"
    assert alert_delivery.deliver_due(own, now=utcnow() + timedelta(minutes=1)).delivered == 1
    assert [h["x-vigil-delivery"] for h, _ in receiver.received] == [receiver.received[0][0]["x-vigil-delivery"]] * 2


def test_a_failed_risk_analysis_always_alerts(own: Context, receiver: Receiver) -> None:
    from tests.integration.test_analysis_tasks import RiskDown

    tenant = make_tenant(own)
    with TestClient(configure(create_app(), own)) as client:
        assert _rules(client, own, tenant, receiver.url).status_code == 200
    claim = transcribed_session(own, tenant)
    run_analyze(own, claim, RiskDown())
    assert alert_delivery.deliver_due(own).delivered == 1
    sent = json.loads(receiver.received[0][1])
    assert (sent["category"], sent["severity"]) == ("unknown", "unknown") and "review by hand" in sent["text"]
