"""Alerts: a flagged session reaches a person without anyone opening the dashboard.

A tenant's admin sets rules, in order (which categories at what minimum severity alert, through which webhooks or
email addresses). When an analysis flags a session, `enqueue` writes one outbox row per matching channel in the same
transaction as the analysis, so an alert exists exactly when its analysis does; `vigil.services.alert_delivery` sends
them. Without an escalation deadline every matching rule alerts at once. With one, the first matching rule alerts,
and `escalate_due` gives the next matching rule's channels any alert nobody acknowledged in time, marked as an
escalation. A supervisor acknowledges from the dashboard or through the signed one-time link each alert carries;
acknowledging covers every alert of that analysis. Rules, acknowledgements, escalations and retries are audited."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session as DbSession

from vigil.context import Context
from vigil.db.models import Alert, Tenant, User, utcnow
from vigil.errors import Forbidden, NotFound, ValidationFailure
from vigil.schemas.analysis import AnalysisResult
from vigil.schemas.api import AlertChannel, AlertConfig, AlertOut, AlertRule
from vigil.schemas.enums import RiskCategory, RiskLevel
from vigil.services import audit, events
from vigil.services.access import Action, Principal, own_tenant, owned_session
from vigil.settings import Settings
from vigil.storage.base import ObjectStore
from vigil.storage.encrypted import seal_value

UNKNOWN = "unknown"  # the risk task failed: no one has read the session for risk, so it always alerts
ESCALATION_HORIZON = timedelta(days=1)  # alerts older than this are not escalated any more
MAILTO = "mailto:"


def secret_place(tenant_id: uuid.UUID, url: str) -> str:
    """Where a webhook secret is bound when sealed (its AAD): the tenant and the URL it signs for."""
    return f"alert-secret/{tenant_id}/{hashlib.sha256(url.encode()).hexdigest()[:16]}"


# ------------------------------------------------------------------ rules
def alert_config(db: DbSession, principal: Principal, tenant_id: uuid.UUID) -> AlertConfig:
    tenant = own_tenant(db, principal, tenant_id)
    return _shown(tenant.alert_config)


def _channel_shown(stored: dict[str, Any]) -> AlertChannel:
    if stored["type"] == "email":
        return AlertChannel(type="email", to=stored["url"].removeprefix(MAILTO).split(","))
    return AlertChannel(type="webhook", url=stored["url"], has_secret=bool(stored.get("secret_sealed")))


def _shown(stored: dict[str, Any] | None) -> AlertConfig:
    """The stored rules as the API shows them: secrets never, only whether there is one."""
    stored = stored or {}
    rules = [AlertRule(categories=rule["categories"], min_severity=rule["min_severity"],
                       channels=[_channel_shown(c) for c in rule["channels"]]) for rule in stored.get("rules", [])]
    return AlertConfig(rules=rules, escalate_after_minutes=stored.get("escalate_after_minutes"))


def set_alert_config(store: ObjectStore, settings: Settings, db: DbSession, principal: Principal,
                     tenant_id: uuid.UUID, config: AlertConfig) -> AlertConfig:
    """Replace the tenant's rules (admin, own tenant; audited without URLs, addresses or secrets). A webhook sent
    without a secret keeps the one stored for its URL."""
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
            if channel.type == "email":
                if not settings.smtp_url:
                    raise ValidationFailure("email channels need the deployment's SMTP_URL; it is not set",
                                            code="no_smtp")
                channels.append({"type": "email", "url": MAILTO + ",".join(channel.to or [])})
                continue
            url = channel.url or ""
            sealed = (base64.b64encode(seal_value(store, channel.secret.encode(), secret_place(tenant.id, url)))
                      .decode() if channel.secret else kept.get(url))
            channels.append({"type": "webhook", "url": url, "secret_sealed": sealed})
        rules.append({"categories": sorted(set(rule.categories)), "min_severity": rule.min_severity,
                      "channels": channels})
    tenant.alert_config = ({"rules": rules, "escalate_after_minutes": config.escalate_after_minutes}
                           if rules else None)
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.alerts", entity_type="tenant",
                 entity_id=tenant.id, detail={"rules": len(rules), "channels": sum(len(r["channels"]) for r in rules),
                                              "escalate_after_minutes": config.escalate_after_minutes})
    db.commit()
    return _shown(tenant.alert_config)


# ------------------------------------------------------------------ the outbox
def _rule_matches(rule: dict[str, Any], category: str, severity: str) -> bool:
    if category == UNKNOWN:
        return True
    return category in rule["categories"] and RiskLevel(severity).rank >= RiskLevel(rule["min_severity"]).rank


def _flags(result: AnalysisResult) -> list[tuple[str, str]]:
    """(category, highest severity) of each flagged category; a failed risk task as ("unknown", "unknown")."""
    if result.risk_status == "failed":
        return [(UNKNOWN, UNKNOWN)]
    highest: dict[str, RiskLevel] = {}
    for flag in result.flags:
        if flag.category.value not in highest or flag.severity.rank > highest[flag.category.value].rank:
            highest[flag.category.value] = flag.severity
    return [(category, level.value) for category, level in highest.items()]


def _rows(tenant_id: uuid.UUID, session_id: uuid.UUID, analysis_id: uuid.UUID, category: str, severity: str,
          index: int, rule: dict[str, Any], escalation: bool = False) -> list[dict[str, Any]]:
    now = utcnow()
    return [{"id": uuid.uuid4(), "tenant_id": tenant_id, "session_id": session_id, "analysis_id": analysis_id,
             "category": category, "severity": severity, "channel_type": channel["type"],
             "channel_url": channel["url"], "status": "pending", "attempts": 0, "next_attempt_at": now,
             "created_at": now, "rule_index": index, "escalation": escalation,
             "channel_secret": base64.b64decode(channel["secret_sealed"]) if channel.get("secret_sealed") else None}
            for channel in rule["channels"]]


def enqueue(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID, analysis_id: uuid.UUID,
            result: AnalysisResult) -> int:
    """Add the alert rows an analysis calls for to `db`'s transaction (the caller commits them with the analysis):
    every matching rule's channels, or only the first matching rule's when the tenant escalates."""
    config = db.scalar(sa.select(Tenant.alert_config).where(Tenant.id == tenant_id)) or {}
    escalates = config.get("escalate_after_minutes") is not None
    rows: dict[tuple[str, int, str], dict[str, Any]] = {}
    for category, severity in _flags(result):
        for index, rule in enumerate(config.get("rules", [])):
            if not _rule_matches(rule, category, severity):
                continue
            for row in _rows(tenant_id, session_id, analysis_id, category, severity, index, rule):
                rows.setdefault((category, index, row["channel_url"]), row)
            if escalates:
                break
    db.add_all(Alert(**row) for row in rows.values())
    return len(rows)


# ------------------------------------------------------------------ escalation
def escalate_due(ctx: Context, now: datetime | None = None) -> int:
    """Give the next matching rule's channels every alert whose latest rule alerted more than the tenant's
    `escalate_after_minutes` ago and that nobody acknowledged. The unique (analysis, category, rule, channel)
    constraint makes a second escalator's insert a no-op. Returns how many deliveries it added."""
    now = now or utcnow()
    latest = (sa.select(Alert.tenant_id, Alert.session_id, Alert.analysis_id, Alert.category,
                        sa.func.max(Alert.severity).label("severity"), sa.func.max(Alert.rule_index).label("rule"),
                        sa.func.max(Alert.created_at).label("since"))
              .where(Alert.created_at > now - ESCALATION_HORIZON)
              .group_by(Alert.tenant_id, Alert.session_id, Alert.analysis_id, Alert.category).subquery())
    acknowledged = sa.exists().where(Alert.analysis_id == latest.c.analysis_id, Alert.acknowledged_at.is_not(None))
    added = 0
    with ctx.system_db() as db:  # the dispatcher's periodic task escalates for every tenant
        candidates = db.execute(sa.select(latest, Tenant.alert_config).join(Tenant, Tenant.id == latest.c.tenant_id)
                                .where(~acknowledged)).all()
        for row in candidates:
            config = row.alert_config or {}
            minutes = config.get("escalate_after_minutes")
            if minutes is None or row.since > now - timedelta(minutes=minutes):
                continue
            following = [(i, r) for i, r in enumerate(config.get("rules", []))
                         if i > row.rule and _rule_matches(r, row.category, row.severity)]
            if not following:
                continue
            index, rule = following[0]
            values = _rows(row.tenant_id, row.session_id, row.analysis_id, row.category, row.severity, index, rule,
                           escalation=True)
            inserted = db.execute(insert(Alert).values(values).on_conflict_do_nothing().returning(Alert.id)).all()
            if not inserted:
                continue
            added += len(inserted)
            detail = {"category": row.category, "severity": row.severity, "rule": index, "after_minutes": minutes}
            audit.record(db, tenant_id=row.tenant_id, actor=None, action="alert.escalated", entity_type="session",
                         entity_id=row.session_id, detail=detail)
            events.emit(db, row.tenant_id, "alert.escalated", row.session_id, **detail)
        db.commit()
    return added


# ------------------------------------------------------------------ acknowledgement
def link_token(key: str, alert_id: uuid.UUID, expires: int) -> str:
    digest = hmac.new(key.encode(), f"alert-ack:{alert_id}:{expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{digest}"


def acknowledge_link(settings: Settings, alert: Alert) -> str | None:
    """The signed one-time link an alert carries (None without a SIGNING_KEY): it opens a page whose button
    acknowledges, so a chat app previewing the link does not acknowledge for anyone."""
    if not settings.signing_key:
        return None
    expires = int((alert.created_at + timedelta(hours=settings.alert_link_hours)).timestamp())
    return (f"{settings.base_url}/api/v1/alerts/{alert.id}/acknowledge-link"
            f"?token={link_token(settings.signing_key, alert.id, expires)}")


def _acknowledge(db: DbSession, alert: Alert, actor: Principal | None, via: str) -> Alert:
    """Mark every alert of `alert`'s analysis acknowledged (the first acknowledgement stands) and cancel its
    escalations not yet sent."""
    db.execute(sa.select(Alert.id).where(Alert.analysis_id == alert.analysis_id).with_for_update())  # one at a time
    first = db.scalar(sa.select(Alert).where(Alert.analysis_id == alert.analysis_id,
                                             Alert.acknowledged_at.is_not(None)).limit(1))
    if first is not None:
        return first
    now = utcnow()
    db.execute(sa.update(Alert).where(Alert.analysis_id == alert.analysis_id, Alert.acknowledged_at.is_(None))
               .values(acknowledged_at=now, acknowledged_by=actor.user_id if actor else None, acknowledged_via=via))
    db.execute(sa.update(Alert).where(Alert.analysis_id == alert.analysis_id, Alert.escalation.is_(True),
                                      Alert.status == "pending")
               .values(status="cancelled", last_error="acknowledged before it was sent", next_attempt_at=now))
    detail = {"alert_id": str(alert.id), "via": via, "category": alert.category}
    audit.record(db, tenant_id=alert.tenant_id, actor=actor, action="alert.acknowledged", entity_type="session",
                 entity_id=alert.session_id, detail=detail)
    events.emit(db, alert.tenant_id, "alert.acknowledged", alert.session_id, via=via, alert_id=str(alert.id))
    db.commit()
    db.refresh(alert)
    return alert


def acknowledge(db: DbSession, principal: Principal, alert_id: uuid.UUID) -> AlertOut:
    """A supervisor (or admin) of the alert's tenant acknowledges it: someone is on it, so it escalates no further."""
    principal.require(Action.review)
    alert = _owned(db, principal, alert_id)
    return _out(db, _acknowledge(db, alert, principal, "dashboard"))


def acknowledge_by_link(ctx: Context, alert_id: uuid.UUID, token: str, *, confirm: bool) -> AlertOut:
    """The one-time link: a valid, unexpired token for this alert shows it (`confirm=False`) or acknowledges it.
    Once the alert is acknowledged the link only shows who did, and when."""
    if not ctx.settings.signing_key:
        raise NotFound("acknowledge links are off: the deployment has no SIGNING_KEY")
    expires, _, _ = token.partition(".")
    expected = link_token(ctx.settings.signing_key, alert_id, int(expires) if expires.isdigit() else 0)
    if not hmac.compare_digest(expected.encode(), token.encode()):
        raise Forbidden("this acknowledge link is not valid")
    if utcnow().timestamp() > int(expires):
        raise Forbidden("this acknowledge link has expired; acknowledge from the dashboard")
    with ctx.system_db() as db:  # the link names an alert, not a caller
        tenant_id = db.scalar(sa.select(Alert.tenant_id).where(Alert.id == alert_id))
    if tenant_id is None:
        raise NotFound("alert not found")
    with ctx.tenant_db(tenant_id) as db:
        alert = db.get(Alert, alert_id)
        assert alert is not None
        if confirm:
            alert = _acknowledge(db, alert, None, "link")
        return _out(db, alert)


# ------------------------------------------------------------------ reading and retrying
def _owned(db: DbSession, principal: Principal, alert_id: uuid.UUID) -> Alert:
    alert = db.scalar(sa.select(Alert).where(Alert.id == alert_id, Alert.tenant_id == principal.tenant_id))
    if alert is None:
        raise NotFound("alert not found")
    return alert


def _channel_label(alert: Alert) -> str:
    if alert.channel_type == "email":
        count = len(alert.channel_url.removeprefix(MAILTO).split(","))
        return f"email {count} recipient{'s' if count != 1 else ''}"
    return f"webhook {urlsplit(alert.channel_url).hostname}"


def _out(db: DbSession, alert: Alert) -> AlertOut:
    by = db.scalar(sa.select(User.email).where(User.id == alert.acknowledged_by)) if alert.acknowledged_by else None
    return AlertOut(id=alert.id, session_id=alert.session_id, analysis_id=alert.analysis_id, category=alert.category,
                    severity=alert.severity, channel=_channel_label(alert), status=alert.status,
                    attempts=alert.attempts, last_error=alert.last_error, rule_index=alert.rule_index,
                    escalation=alert.escalation, created_at=alert.created_at, delivered_at=alert.delivered_at,
                    acknowledged_at=alert.acknowledged_at, acknowledged_by=by, acknowledged_via=alert.acknowledged_via)


def list_alerts(db: DbSession, principal: Principal, *, status: str | None = None,
                session_id: uuid.UUID | None = None, limit: int = 100) -> list[AlertOut]:
    """The tenant's alert deliveries, newest first (content readers: an alert names a flag)."""
    principal.require(Action.read_content)
    query = sa.select(Alert).where(Alert.tenant_id == principal.tenant_id)
    if session_id is not None:
        owned_session(db, principal, session_id)
        query = query.where(Alert.session_id == session_id)
    if status:
        query = query.where(Alert.status == status)
    return [_out(db, a) for a in db.scalars(query.order_by(Alert.created_at.desc(), Alert.id).limit(limit))]


def retry(db: DbSession, principal: Principal, alert_id: uuid.UUID) -> AlertOut:
    """Send a dead delivery again, with a fresh set of tries and the same delivery id (audited)."""
    principal.require(Action.reprocess)
    alert = _owned(db, principal, alert_id)
    if alert.status != "dead":
        raise ValidationFailure(f"only a dead alert can be retried; this one is {alert.status}", code="not_dead")
    alert.status, alert.attempts, alert.next_attempt_at = "pending", 0, utcnow()
    audit.record(db, tenant_id=alert.tenant_id, actor=principal, action="alert.retry", entity_type="session",
                 entity_id=alert.session_id, detail={"alert_id": str(alert.id), "last_error": alert.last_error})
    db.commit()
    return _out(db, alert)
