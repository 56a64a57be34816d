"""Sending alerts: the dispatcher runs `deliver_due` every ALERT_INTERVAL_SECONDS as a Ray task.

First it escalates what nobody acknowledged in time (`alerts.escalate_due`), then each due row is leased (SKIP
LOCKED), sent, and marked delivered, or retried with doubling backoff (at most ALERT_RETRY_MAX_SECONDS) and jitter
until ALERT_MAX_ATTEMPTS, then dead with its reason. The row's id is the delivery id (`X-Vigil-Delivery` on a
webhook, the `Message-ID` of an email): it stays the same across retries, so a receiver can drop a duplicate (a
crash between the send and the mark sends one again). A webhook gets a JSON body signed with its channel's secret
and a Slack-compatible `text`; an email goes through the standard library's SMTP client to SMTP_URL. Neither carries
transcript text or personal data."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import sqlalchemy as sa

from vigil.context import Context
from vigil.db.models import Alert, Tenant, utcnow
from vigil.services.alerts import MAILTO, UNKNOWN, acknowledge_link, escalate_due, secret_place
from vigil.services.jobs import backoff_seconds
from vigil.settings import Settings
from vigil.storage.encrypted import open_value

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Vigil-Signature"
DELIVERY_HEADER = "X-Vigil-Delivery"


def payload(alert: Alert, tenant_name: str, settings: Settings) -> dict[str, Any]:
    """What a receiver gets: ids, category, severity, time and links; never transcript text or personal data."""
    dashboard = settings.dashboard_url or f"http://{settings.api_host}:{settings.dashboard_port}"
    link = f"{dashboard.rstrip('/')}/session?session_id={alert.session_id}"
    what = "risk analysis failed: review by hand" if alert.category == UNKNOWN else \
        f"{alert.severity} {alert.category.replace('_', ' ')}"
    if alert.escalation:
        what = f"ESCALATED, not acknowledged yet: {what}"
    acknowledge = acknowledge_link(settings, alert)
    text = f"Vigil: {what} in session {str(alert.session_id)[:8]}: {link}"
    return {"delivery_id": str(alert.id), "tenant": tenant_name, "session_id": str(alert.session_id),
            "category": alert.category, "severity": alert.severity, "flagged_at": alert.created_at.isoformat(),
            "escalation": alert.escalation, "link": link, "acknowledge_url": acknowledge,
            "text": text + (f" (acknowledge: {acknowledge})" if acknowledge else "")}


def signature(body: bytes, secret: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _post(ctx: Context, alert: Alert, sent: dict[str, Any]) -> None:
    body = json.dumps(sent, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(alert.id)}
    if alert.channel_secret:
        secret = open_value(ctx.store, alert.channel_secret, secret_place(alert.tenant_id, alert.channel_url))
        headers[SIGNATURE_HEADER] = signature(body, secret)
    answer = httpx.post(alert.channel_url, content=body, headers=headers, timeout=ctx.settings.alert_timeout_seconds)
    answer.raise_for_status()


def email_message(alert: Alert, sent: dict[str, Any], settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.alert_email_from
    message["To"] = ", ".join(alert.channel_url.removeprefix(MAILTO).split(","))
    message["Subject"] = sent["text"].split(": http")[0]
    message["Message-ID"] = f"<{alert.id}@vigil-alerts>"  # the same on a resend, so mail systems can drop it
    message[DELIVERY_HEADER] = str(alert.id)
    lines = [sent["text"].split(" (acknowledge:")[0], "", f"Open the session: {sent['link']}"]
    if sent["acknowledge_url"]:
        lines.append(f"Acknowledge (one click, once): {sent['acknowledge_url']}")
    lines += ["", f"Delivery {alert.id} for {sent['tenant']}, flagged at {sent['flagged_at']}."]
    message.set_content("\n".join(lines))
    return message


def _send_email(ctx: Context, alert: Alert, sent: dict[str, Any]) -> None:
    """SMTP_URL: smtp://[user:pass@]host[:port] (STARTTLS when offered) or smtps://… (TLS from the start)."""
    if not ctx.settings.smtp_url:
        raise RuntimeError("SMTP_URL is not set")
    url = urlsplit(ctx.settings.smtp_url)
    timeout = ctx.settings.alert_timeout_seconds
    client = (smtplib.SMTP_SSL(url.hostname or "", url.port or 465, timeout=timeout,
                               context=ssl.create_default_context()) if url.scheme == "smtps"
              else smtplib.SMTP(url.hostname or "", url.port or 25, timeout=timeout))
    with client:
        if url.scheme != "smtps" and client.has_extn("starttls"):
            client.starttls(context=ssl.create_default_context())
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(email_message(alert, sent, ctx.settings))


@dataclass
class DeliveryRun:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    escalated: int = 0

    def as_json(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retried": self.retried, "dead": self.dead}


def _lease(ctx: Context, now: datetime, limit: int) -> list[tuple[Alert, str]]:
    """Take due rows across tenants (SKIP LOCKED), pushing their next try past one call's time so that another
    deliverer leaves them alone meanwhile; returns them with their tenant's name."""
    lease = timedelta(seconds=ctx.settings.alert_timeout_seconds * 2)
    with ctx.system_db() as db:  # the dispatcher's periodic task delivers for every tenant
        rows = db.execute(sa.select(Alert, Tenant.name).join(Tenant, Tenant.id == Alert.tenant_id)
                          .where(Alert.status == "pending", Alert.next_attempt_at <= now)
                          .order_by(Alert.next_attempt_at).limit(limit)
                          .with_for_update(skip_locked=True, of=Alert)).all()
        for alert, _ in rows:
            alert.next_attempt_at = now + lease
        db.commit()
        db.expunge_all()
    return [(alert, name) for alert, name in rows]


def deliver_due(ctx: Context, now: datetime | None = None, limit: int = 100) -> DeliveryRun:
    """Escalate what is overdue, then send every due alert once; record each outcome (delivered, retry later, or
    dead with its reason)."""
    run = DeliveryRun()
    now = now or utcnow()
    run.escalated = escalate_due(ctx, now)
    for alert, tenant_name in _lease(ctx, now, limit):
        sent = payload(alert, tenant_name, ctx.settings)
        try:
            (_send_email if alert.channel_type == "email" else _post)(ctx, alert, sent)
        except Exception as exc:  # the receiver's problem or the network's: try again later, then give up
            error = f"{type(exc).__name__}: {exc}"[:500]
            for target in [alert.channel_url, *alert.channel_url.removeprefix(MAILTO).split(",")]:
                error = error.replace(target, "<channel>")  # no URL token or address in the error shown
            attempts = alert.attempts + 1
            dead = attempts >= ctx.settings.alert_max_attempts
            backoff = min(backoff_seconds(ctx.settings.alert_retry_base_seconds, attempts, jitter=0.2),
                          ctx.settings.alert_retry_max_seconds)  # a receiver back up hears soon
            record(ctx, alert, status="dead" if dead else "pending", attempts=attempts, last_error=error,
                   next_attempt_at=utcnow() + timedelta(seconds=0 if dead else backoff))  # dead: when it died
            run.dead += dead
            run.retried += not dead
            log.warning("alert delivery failed", extra={"alert_id": str(alert.id), "attempt": attempts,
                                                        "dead": dead, "error": type(exc).__name__})
            continue
        record(ctx, alert, status="delivered", attempts=alert.attempts + 1, delivered_at=utcnow(), last_error=None)
        run.delivered += 1
    return run


def record(ctx: Context, alert: Alert, **values: Any) -> None:
    """Write one delivery's outcome, unless it was cancelled meanwhile (an escalation acknowledged first)."""
    with ctx.tenant_db(alert.tenant_id) as db:
        db.execute(sa.update(Alert).where(Alert.id == alert.id, Alert.status == "pending").values(**values))
        db.commit()
