"""Alerts beyond the first webhook: email through a real SMTP server on loopback (aiosmtpd), escalation to the next
rule when nobody acknowledges in time, acknowledgement from the API and through the signed one-time link, retrying
a dead delivery, the session's custody, and a deliverer process killed mid-delivery (SIGKILL, not a patched
function): the alert still arrives, with the same delivery id."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import Tenant, isolated_context, make_tenant, tenant_id_of
from tests.integration.test_alerts import SECRET, _flagged
from tests.integration.test_analysis_tasks import SEGMENTS
from tests.standins.smtp import Mailbox, smtp_server
from tests.standins.webhook import Receiver, webhook_receiver
from vigil.context import Context
from vigil.db.models import Alert, AuditEntry, Event, utcnow
from vigil.services import alert_delivery

SPOKEN = {w for s in SEGMENTS for w in re.findall(r"[a-z]{5,}", s.text.lower())} - {"session", "suicidal"}


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def first() -> Iterator[Receiver]:
    with webhook_receiver() as seen:
        yield seen


@pytest.fixture
def second() -> Iterator[Receiver]:
    with webhook_receiver() as seen:
        yield seen


def _context(pg_admin_url: str, tmp_path, **overrides) -> Context:  # type: ignore[no-untyped-def]
    return isolated_context(pg_admin_url, tmp_path, alert_retry_base_seconds=1.0, alert_max_attempts=3,
                            **overrides)


def _put(client: TestClient, ctx: Context, tenant: Tenant, rules: list[dict], minutes: int | None = None):  # type: ignore[no-untyped-def,type-arg]
    answer = client.put(f"/api/v1/tenants/{tenant_id_of(ctx, tenant)}/alerts", headers=tenant.headers("admin"),
                        json={"rules": rules, "escalate_after_minutes": minutes})
    assert answer.status_code == 200, answer.text
    return answer


def _hook(url: str) -> dict[str, object]:
    return {"categories": ["suicidal_ideation"], "min_severity": "medium",
            "channels": [{"type": "webhook", "url": url, "secret": SECRET}]}


def _chain(client: TestClient, ctx: Context, tenant: Tenant, first: Receiver, second: Receiver) -> None:
    _put(client, ctx, tenant, [_hook(first.url), _hook(second.url)], minutes=15)


def test_email_goes_through_a_real_smtp_server_and_a_refused_one_is_retried_with_the_same_message_id(
        pg_admin_url: str, tmp_path, mailbox: Mailbox) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(pg_admin_url, tmp_path, smtp_url=mailbox.url, alert_email_from="alerts@vigil.test")
    tenant = make_tenant(ctx)
    with TestClient(configure(create_app(), ctx)) as client:
        _put(client, ctx, tenant, [{"categories": ["suicidal_ideation"], "channels": [
            {"type": "email", "to": ["oncall@clinic.test", "lead@clinic.test"]}]}])
        shown = client.get(f"/api/v1/tenants/{tenant_id_of(ctx, tenant)}/alerts", headers=tenant.headers("admin"))
        assert shown.json()["rules"][0]["channels"][0]["to"] == ["oncall@clinic.test", "lead@clinic.test"]
    session_id = _flagged(ctx, tenant)
    mailbox.replies = ["451 4.3.0 try again later"]  # the relay refuses once
    assert alert_delivery.deliver_due(ctx).as_json() == {"delivered": 0, "retried": 1, "dead": 0}
    assert alert_delivery.deliver_due(ctx, now=utcnow() + timedelta(minutes=5)).delivered == 1
    [(recipients, message)] = mailbox.messages
    with ctx.system_db() as db:
        alert = db.scalar(sa.select(Alert))
    assert sorted(recipients) == ["lead@clinic.test", "oncall@clinic.test"]
    assert message["Message-ID"] == f"<{alert.id}@vigil-alerts>" and message["X-Vigil-Delivery"] == str(alert.id)
    assert message["From"] == "alerts@vigil.test" and "suicidal ideation" in message["Subject"]
    body = message.get_content()
    assert f"session_id={session_id}" in body and "/acknowledge-link?token=" in body
    assert not SPOKEN & set(re.findall(r"[a-z]{5,}", (body + message["Subject"]).lower())), "no transcript words"
    assert (alert.status, alert.attempts, alert.channel_type) == ("delivered", 2, "email")
    assert "451" not in (alert.last_error or "")


def test_an_unacknowledged_alert_escalates_to_the_next_rule_after_the_deadline_once(
        pg_admin_url: str, tmp_path, first: Receiver, second: Receiver) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(pg_admin_url, tmp_path)
    tenant = make_tenant(ctx)
    with TestClient(configure(create_app(), ctx)) as client:
        _chain(client, ctx, tenant, first, second)
    session_id = _flagged(ctx, tenant)
    assert alert_delivery.deliver_due(ctx).delivered == 1
    assert len(first.received) == 1 and not second.received, "only the first matching rule alerts at once"

    assert alert_delivery.deliver_due(ctx, now=utcnow() + timedelta(minutes=14)).escalated == 0, "not yet"
    late = alert_delivery.deliver_due(ctx, now=utcnow() + timedelta(minutes=16))
    assert (late.escalated, late.delivered) == (1, 1)
    [(headers, body)] = second.received
    sent = json.loads(body)
    assert sent["escalation"] is True and sent["text"].startswith("Vigil: ESCALATED")
    assert headers["x-vigil-delivery"] != first.received[0][0]["x-vigil-delivery"]
    assert alert_delivery.deliver_due(ctx, now=utcnow() + timedelta(minutes=60)).escalated == 0, "no rule left"
    assert len(second.received) == 1

    with ctx.system_db() as db:
        escalations = db.scalars(sa.select(AuditEntry.detail).where(AuditEntry.action == "alert.escalated")).all()
        kinds = db.scalars(sa.select(Event.kind).where(Event.session_id == session_id)).all()
    assert escalations == [{"category": "suicidal_ideation", "severity": sent["severity"], "rule": 1,
                            "after_minutes": 15}]
    assert "alert.escalated" in kinds
    with TestClient(configure(create_app(), ctx)) as client:
        custody = client.get(f"/api/v1/sessions/{session_id}/custody", headers=tenant.headers("lead")).json()
    whats = [e["what"] for e in custody["events"] if e["kind"] == "alert"]
    assert sorted(whats) == ["alert delivered", "alert delivered", "alert escalated", "alert raised"]


def test_acknowledging_stops_the_escalation_and_is_walled_by_tenant_and_role(
        pg_admin_url: str, tmp_path, first: Receiver, second: Receiver) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(pg_admin_url, tmp_path)
    tenant, other = make_tenant(ctx), make_tenant(ctx)
    with TestClient(configure(create_app(), ctx)) as client:
        _chain(client, ctx, tenant, first, second)
        session_id = _flagged(ctx, tenant)
        alert_delivery.deliver_due(ctx)
        [listed] = client.get("/api/v1/alerts", headers=tenant.headers("lead")).json()
        path = f"/api/v1/alerts/{listed['id']}/acknowledge"
        assert listed["channel"] == "webhook 127.0.0.1" and listed["acknowledged_at"] is None
        assert client.get("/api/v1/alerts", headers=other.headers("admin")).json() == [], "another tenant's: none"
        assert client.get("/api/v1/alerts", headers=tenant.headers("uploader")).status_code == 403
        assert client.post(path, headers=other.headers("supervisor")).status_code == 404
        assert client.post(path, headers=tenant.headers("lead")).status_code == 403
        assert client.post(path, headers=tenant.headers("uploader")).status_code == 403
        done = client.post(path, headers=tenant.headers("supervisor"))
        assert done.status_code == 200 and done.json()["acknowledged_via"] == "dashboard"
        again = client.post(path, headers=tenant.headers("admin")).json()
        assert again["acknowledged_at"] == done.json()["acknowledged_at"], "the first acknowledgement stands"
        assert again["acknowledged_by"] == done.json()["acknowledged_by"] is not None
    assert alert_delivery.deliver_due(ctx, now=utcnow() + timedelta(minutes=30)).escalated == 0
    assert not second.received
    with ctx.system_db() as db:
        acks = db.scalars(sa.select(AuditEntry).where(AuditEntry.action == "alert.acknowledged")).all()
        kinds = db.scalars(sa.select(Event.kind).where(Event.session_id == session_id)).all()
    assert len(acks) == 1 and acks[0].entity_id == str(session_id) and kinds.count("alert.acknowledged") == 1


def test_the_one_time_link_shows_then_acknowledges_once_and_refuses_forgeries(
        pg_admin_url: str, tmp_path, first: Receiver, second: Receiver) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(pg_admin_url, tmp_path)
    tenant = make_tenant(ctx)
    with TestClient(configure(create_app(), ctx)) as client:
        _chain(client, ctx, tenant, first, second)
        _flagged(ctx, tenant)
        second.statuses = [500] * 5  # the escalation target is down: its delivery waits, pending
        alert_delivery.deliver_due(ctx)
        alert_delivery.deliver_due(ctx, now=utcnow() + timedelta(minutes=16))
        link = json.loads(first.received[0][1])["acknowledge_url"]
        path, token = link.removeprefix(ctx.settings.base_url).split("?token=")
        alert_id = path.split("/")[4]

        preview = client.get(path, params={"token": token})  # what a chat app's link preview does
        assert preview.status_code == 200 and "<form method='post'>" in preview.text
        assert client.get("/api/v1/alerts", headers=tenant.headers("lead")).json()[0]["acknowledged_at"] is None
        forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
        assert client.post(path, params={"token": forged}).status_code == 403
        assert client.post(f"/api/v1/alerts/{uuid.uuid4()}/acknowledge-link", params={"token": token}
                           ).status_code == 403, "a token signs one alert only"
        expired_at = int((utcnow() - timedelta(minutes=1)).timestamp())
        from vigil.services.alerts import link_token
        stale = link_token(ctx.settings.signing_key or "", uuid.UUID(alert_id), expired_at)
        assert client.post(path, params={"token": stale}).status_code == 403, "expired"

        done = client.post(path, params={"token": token})
        assert done.status_code == 200 and "was acknowledged" in done.text and "through its link" in done.text
        assert client.post(path, params={"token": token}).text.count("was acknowledged") == 1, "shows, not again"
        rows = client.get("/api/v1/alerts", headers=tenant.headers("lead")).json()
    assert {r["acknowledged_via"] for r in rows} == {"link"}
    assert {r["status"] for r in rows if r["escalation"]} == {"cancelled"}, "its pending escalation is not sent"
    before = len(second.received)
    alert_delivery.deliver_due(ctx, now=utcnow() + timedelta(hours=1))
    assert len(second.received) == before
    with ctx.system_db() as db:
        [ack] = db.scalars(sa.select(AuditEntry).where(AuditEntry.action == "alert.acknowledged")).all()
    assert ack.actor_id is None and ack.detail["via"] == "link"


def test_a_dead_delivery_is_listed_and_retried_with_the_same_delivery_id(
        pg_admin_url: str, tmp_path, first: Receiver) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(pg_admin_url, tmp_path)
    tenant, other = make_tenant(ctx), make_tenant(ctx)
    with TestClient(configure(create_app(), ctx)) as client:
        _put(client, ctx, tenant, [_hook(first.url)])
        _flagged(ctx, tenant)
        first.statuses = [500] * 3
        later = utcnow()
        for _ in range(3):
            later += timedelta(minutes=5)
            alert_delivery.deliver_due(ctx, now=later)
        [dead] = client.get("/api/v1/alerts", params={"status": "dead"}, headers=tenant.headers("lead")).json()
        assert "500" in dead["last_error"] and first.url not in dead["last_error"]
        path = f"/api/v1/alerts/{dead['id']}/retry"
        assert client.post(path, headers=other.headers("admin")).status_code == 404
        assert client.post(path, headers=tenant.headers("lead")).status_code == 403
        retried = client.post(path, headers=tenant.headers("supervisor"))
        assert retried.status_code == 200 and (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
        assert alert_delivery.deliver_due(ctx).delivered == 1
        assert client.post(path, headers=tenant.headers("supervisor")).status_code == 400, "only a dead one"
    assert {h["x-vigil-delivery"] for h, _ in first.received} == {dead["id"]} and len(first.received) == 4
    with ctx.system_db() as db:
        assert db.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "alert.retry")) == 1


DELIVERER = """
import sys
from vigil.context import Context
from vigil.services.alert_delivery import deliver_due
from vigil.settings import Settings
settings = Settings.model_validate_json(sys.stdin.read())
deliver_due(Context.build(settings, settings.database_url))
"""


def test_a_deliverer_killed_mid_delivery_is_followed_by_one_that_delivers_the_same_id(
        pg_admin_url: str, tmp_path, first: Receiver) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(pg_admin_url, tmp_path, alert_timeout_seconds=30.0)
    tenant = make_tenant(ctx)
    with TestClient(configure(create_app(), ctx)) as client:
        _put(client, ctx, tenant, [_hook(first.url)])
    _flagged(ctx, tenant)
    first.hold = True  # the receiver reads the request, then keeps the deliverer waiting for its answer
    process = subprocess.Popen([sys.executable, "-c", DELIVERER], stdin=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(ctx.settings.model_dump_json().encode())
    process.stdin.close()
    deadline = time.monotonic() + 60
    while not first.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.received, "the deliverer posted"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    first.hold = False
    with ctx.system_db() as db:
        alert = db.scalar(sa.select(Alert))
    assert (alert.status, alert.attempts) == ("pending", 0), "the killed process recorded nothing"
    assert alert_delivery.deliver_due(ctx).delivered == 0, "still leased to the dead process"
    after_lease = alert_delivery.deliver_due(ctx, now=utcnow() + timedelta(seconds=61))
    assert after_lease.delivered == 1
    ids = [h["x-vigil-delivery"] for h, _ in first.received]
    assert ids == [str(alert.id)] * 2, "delivered again with the same id, so the receiver can drop the duplicate"
