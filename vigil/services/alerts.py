"""Alerts: a flagged session reaches a person without anyone opening the dashboard.

A tenant's admin sets rules (which categories at what minimum severity alert, through which webhooks). When an
analysis flags a session, `enqueue` writes one outbox row per matching channel in the same transaction as the
analysis, so an alert exists exactly when its analysis does. The dispatcher runs `deliver_due` every
ALERT_INTERVAL_SECONDS as a Ray task: each due row is leased (SKIP LOCKED), posted, and marked delivered, or retried
with doubling backoff and jitter until ALERT_MAX_ATTEMPTS, then dead with its reason. The row's id is the delivery id
(`X-Vigil-Delivery`): it stays the same across retries, so a receiver can drop a duplicate (a crash between the post
and the mark sends one again). Payloads carry no transcript text and no personal data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.context import Context
from vigil.db.models import Alert, Tenant, utcnow
from vigil.errors import ValidationFailure
from vigil.schemas.analysis import AnalysisResult
from vigil.schemas.api import AlertChannel, AlertConfig, AlertRule
from vigil.schemas.enums import RiskCategory, RiskLevel
from vigil.services import audit
from vigil.services.access import Principal, own_tenant
from vigil.services.jobs import backoff_seconds
from vigil.storage.base import ObjectStore
from vigil.storage.encrypted import open_value, seal_value

log = logging.getLogger(__name__)
UNKNOWN = "unknown"  # the risk task failed: no one has read the session for risk, so it always alerts
SIGNATURE_HEADER = "X-Vigil-Signature"
DELIVERY_HEADER = "X-Vigil-Delivery"


def _secret_place(tenant_id: uuid.UUID, url: str) -> str:
    return f"alert-secret/{tenant_id}/{hashlib.sha256(url.encode()).hexdigest()[:16]}"


# ------------------------------------------------------------------ rules
def alert_config(db: DbSession, principal: Principal, tenant_id: uuid.UUID) -> AlertConfig:
    tenant = own_tenant(db, principal, tenant_id)
    return _shown(tenant.alert_config)


def _shown(stored: dict[str, Any] | None) -> AlertConfig:
    """The stored rules as the API shows them: secrets never, only whether there is one."""
    rules = []
    for rule in (stored or {}).get("rules", []):
        channels = [AlertChannel(type=c["type"], url=c["url"], has_secret=bool(c.get("secret_sealed")))
                    for c in rule["channels"]]
        rules.append(AlertRule(categories=rule["categories"], min_severity=rule["min_severity"], channels=channels))
    return AlertConfig(rules=rules)


def set_alert_config(store: ObjectStore, db: DbSession, principal: Principal, tenant_id: uuid.UUID,
                     config: AlertConfig) -> AlertConfig:
    """Replace the tenant's rules (admin, own tenant; audited without URLs or secrets). A channel sent without a
    secret keeps the one stored for its URL."""
    tenant = own_tenant(db, principal, tenant_id)
    kept = {c["url"]: c.get("secret_sealed") for r in (tenant.alert_config or {}).get("rules", [])
            for c in r["channels"]}
    known = {c.value for c in RiskCategory} | {UNKNOWN}
    rules = []
    for rule in config.rules:
        if unknown := sorted(set(rule.categories) - known):
            raise ValidationFailure(f"unknown categories: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        channels = []
        for channel in rule.channels:
            sealed = (base64.b64encode(seal_value(store, channel.secret.encode(),
                                                  _secret_place(tenant.id, channel.url))).decode()
                      if channel.secret else kept.get(channel.url))
            channels.append({"type": channel.type, "url": channel.url, "secret_sealed": sealed})
        rules.append({"categories": sorted(set(rule.categories)), "min_severity": rule.min_severity,
                      "channels": channels})
    tenant.alert_config = {"rules": rules} if rules else None
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.alerts", entity_type="tenant",
                 entity_id=tenant.id, detail={"rules": len(rules), "channels": sum(len(r["channels"]) for r in rules)})
    db.commit()
    return _shown(tenant.alert_config)


# ------------------------------------------------------------------ the outbox
def _matches(result: AnalysisResult, rule: dict[str, Any]) -> list[tuple[str, str]]:
    """(category, severity) of the result's flags this rule alerts on; the failed risk task as ("unknown", …)."""
    if result.risk_status == "failed":
        return [(UNKNOWN, UNKNOWN)]
    floor = RiskLevel(rule["min_severity"]).rank
    return [(f.category.value, f.severity.value) for f in result.flags
            if f.category.value in rule["categories"] and f.severity.rank >= floor]


def enqueue(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID, analysis_id: uuid.UUID,
            result: AnalysisResult) -> int:
    """Add the alert rows an analysis calls for to `db`'s transaction (the caller commits them with the analysis)."""
    config = db.scalar(sa.select(Tenant.alert_config).where(Tenant.id == tenant_id))
    rows: dict[tuple[str, str], Alert] = {}
    for rule in (config or {}).get("rules", []):
        for category, severity in _matches(result, rule):
            for channel in rule["channels"]:
                secret = channel.get("secret_sealed")
                rows.setdefault((category, channel["url"]), Alert(
                    id=uuid.uuid4(), tenant_id=tenant_id, session_id=session_id, analysis_id=analysis_id,
                    category=category, severity=severity, channel_url=channel["url"],
                    channel_secret=base64.b64decode(secret) if secret else None, status="pending", attempts=0,
                    next_attempt_at=utcnow(), created_at=utcnow()))
    db.add_all(rows.values())
    return len(rows)


# ------------------------------------------------------------------ delivery
def payload(alert: Alert, tenant_name: str, dashboard_url: str) -> dict[str, Any]:
    """What a receiver gets: ids, category, severity, time and a link; never transcript text or personal data."""
    link = f"{dashboard_url.rstrip('/')}/session?session_id={alert.session_id}"
    what = "risk analysis failed: review by hand" if alert.category == UNKNOWN else \
        f"{alert.severity} {alert.category.replace('_', ' ')}"
    return {"delivery_id": str(alert.id), "tenant": tenant_name, "session_id": str(alert.session_id),
            "category": alert.category, "severity": alert.severity, "flagged_at": alert.created_at.isoformat(),
            "link": link, "text": f"Vigil: {what} in session {str(alert.session_id)[:8]}: {link}"}


def signature(body: bytes, secret: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass
class DeliveryRun:
    delivered: int = 0
    retried: int = 0
    dead: int = 0

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


def _post(ctx: Context, alert: Alert, tenant_name: str) -> None:
    body = json.dumps(payload(alert, tenant_name, ctx.settings.dashboard_url or
                              f"http://{ctx.settings.api_host}:{ctx.settings.dashboard_port}"),
                      sort_keys=True).encode()
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(alert.id)}
    if alert.channel_secret:
        secret = open_value(ctx.store, alert.channel_secret, _secret_place(alert.tenant_id, alert.channel_url))
        headers[SIGNATURE_HEADER] = signature(body, secret)
    answer = httpx.post(alert.channel_url, content=body, headers=headers, timeout=ctx.settings.alert_timeout_seconds)
    answer.raise_for_status()


def deliver_due(ctx: Context, now: datetime | None = None, limit: int = 100) -> DeliveryRun:
    """Post every due alert once; record each outcome (delivered, retry later, or dead with its reason)."""
    run = DeliveryRun()
    now = now or utcnow()
    for alert, tenant_name in _lease(ctx, now, limit):
        try:
            _post(ctx, alert, tenant_name)
        except Exception as exc:  # the receiver's problem or the network's: try again later, then give up
            error = f"{type(exc).__name__}: {exc}"[:500].replace(alert.channel_url, "<webhook>")
            attempts = alert.attempts + 1
            dead = attempts >= ctx.settings.alert_max_attempts
            backoff = backoff_seconds(ctx.settings.alert_retry_base_seconds, attempts, jitter=0.2)
            _record(ctx, alert, status="dead" if dead else "pending", attempts=attempts, last_error=error,
                    next_attempt_at=utcnow() + timedelta(seconds=backoff))
            run.dead += dead
            run.retried += not dead
            log.warning("alert delivery failed", extra={"alert_id": str(alert.id), "attempt": attempts,
                                                        "dead": dead, "error": type(exc).__name__})
            continue
        _record(ctx, alert, status="delivered", attempts=alert.attempts + 1, delivered_at=utcnow(), last_error=None)
        run.delivered += 1
    return run


def _record(ctx: Context, alert: Alert, **values: Any) -> None:
    with ctx.tenant_db(alert.tenant_id) as db:
        db.execute(sa.update(Alert).where(Alert.id == alert.id).values(**values))
        db.commit()
