"""Retention: each tenant's recordings are kept only as long as its policy says.

Two periods, in days after upload, per tenant (NULL → the deployment's default; no period → keep):
- **media**: the original upload is deleted once its audio has been extracted and the period has passed;
- **content**: the audio and every transcript artifact are deleted (transcript text lives only in the store).
  A session that is flagged and still awaiting review is *held*: its content stays until a supervisor
  has reviewed it, because deleting what a reviewer must read would defeat the review.

What stays: the session row, analyses (the AI's verdict), reviews and the audit trail, so the record of what was
decided survives the content it was decided on. Every purge is audited, in the same transaction that marks the
session purged; objects are deleted first, so a crash between the two leaves a session that the next sweep
purges again (deleting what is already gone is a no-op) and audits once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.context import Context
from vigil.db.models import Artifact, Session, Tenant, utcnow
from vigil.errors import ValidationFailure
from vigil.schemas.api import RetentionPolicy
from vigil.services import audit
from vigil.services.access import Principal, own_tenant
from vigil.services.sessions import AWAITING
from vigil.settings import Settings
from vigil.storage.base import AUDIO_NAME, artifact_key, original_name

log = logging.getLogger(__name__)

CONTENT_PREFIX = "transcript/"  # every transcript artifact of a session lives under it
MAX_DAYS = 36_500


@dataclass
class RetentionReport:
    tenants: int = 0
    media_purged: int = 0
    content_purged: int = 0
    held_for_review: int = 0
    objects_deleted: int = 0
    sessions: list[str] = field(default_factory=list, repr=False)

    def add(self, other: RetentionReport) -> None:
        for name in ("tenants", "media_purged", "content_purged", "held_for_review", "objects_deleted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.sessions.extend(other.sessions)

    def as_json(self) -> dict[str, int]:
        return {"tenants": self.tenants, "media_purged": self.media_purged, "content_purged": self.content_purged,
                "held_for_review": self.held_for_review, "objects_deleted": self.objects_deleted}


def effective_policy(tenant: Tenant, settings: Settings) -> RetentionPolicy:
    media = tenant.retention_media_days if tenant.retention_media_days is not None else settings.retention_media_days
    content = (tenant.retention_content_days if tenant.retention_content_days is not None
               else settings.retention_content_days)
    source = "tenant" if (tenant.retention_media_days, tenant.retention_content_days) != (None, None) else "deployment"
    return RetentionPolicy(media_days=media, content_days=content, source=source)


def retention_policy(db: DbSession, principal: Principal, tenant_id: uuid.UUID, settings: Settings) -> RetentionPolicy:
    return effective_policy(own_tenant(db, principal, tenant_id), settings)


def set_retention_policy(db: DbSession, principal: Principal | None, tenant_id: uuid.UUID, media_days: int | None,
                         content_days: int | None, settings: Settings) -> RetentionPolicy:
    """Set a tenant's periods (None → follow the deployment). Media may not be kept longer than content: the
    audio is made from the media, so such a policy is a mistake rather than an intention."""
    tenant = own_tenant(db, principal, tenant_id) if principal else db.get(Tenant, tenant_id)
    if tenant is None:
        raise ValidationFailure("no such tenant")
    for days in (media_days, content_days):
        if days is not None and not 1 <= days <= MAX_DAYS:
            raise ValidationFailure(f"retention periods are whole days from 1 to {MAX_DAYS}")
    if media_days is not None and content_days is not None and media_days > content_days:
        raise ValidationFailure("media cannot be kept longer than the audio and transcripts made from it")
    before = {"media_days": tenant.retention_media_days, "content_days": tenant.retention_content_days}
    tenant.retention_media_days, tenant.retention_content_days = media_days, content_days
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.retention", entity_type="tenant",
                 entity_id=tenant.id, detail={"before": before,
                                              "after": {"media_days": media_days, "content_days": content_days}})
    db.commit()
    return effective_policy(tenant, settings)


def apply_retention(ctx: Context, now: datetime | None = None) -> RetentionReport:
    """One sweep over every tenant. Listing tenants is the only cross-tenant step; each tenant's purge runs in
    its own tenant-scoped sessions, so the database's row-level security bounds what one tenant's sweep can touch."""
    now = now or utcnow()
    with ctx.system_db() as db:
        tenants = db.scalars(sa.select(Tenant)).all()
    report = RetentionReport()
    for tenant in tenants:
        policy = effective_policy(tenant, ctx.settings)
        if policy.media_days is None and policy.content_days is None:
            continue
        report.add(purge_tenant(ctx, tenant.id, policy, now))
    log.info("retention sweep", extra=report.as_json())
    return report


def purge_tenant(ctx: Context, tenant_id: uuid.UUID, policy: RetentionPolicy, now: datetime) -> RetentionReport:
    report = RetentionReport(tenants=1)
    if policy.media_days is not None:
        cutoff = now - timedelta(days=policy.media_days)
        with ctx.tenant_db(tenant_id) as db:
            due = db.scalars(sa.select(Session).where(
                Session.media_purged_at.is_(None), Session.created_at < cutoff,
                sa.exists().where(Artifact.session_id == Session.id, Artifact.kind == "audio"))).all()
        for session in due:
            original = artifact_key(tenant_id, session.id, original_name(session.media_ext))
            report.objects_deleted += _purge(ctx, session, now, "media", policy.media_days, keys=[original],
                                             kinds=["original"])
            report.media_purged += 1
            report.sessions.append(str(session.id))
    if policy.content_days is not None:
        cutoff = now - timedelta(days=policy.content_days)
        with ctx.tenant_db(tenant_id) as db:
            past = (Session.content_purged_at.is_(None), Session.created_at < cutoff,
                    Session.status.in_(("ready", "failed")))
            due = db.scalars(sa.select(Session).where(*past, ~AWAITING)).all()
            report.held_for_review += db.scalar(sa.select(sa.func.count()).where(*past, AWAITING)) or 0
        for session in due:
            keys = [artifact_key(tenant_id, session.id, name) for name in (original_name(session.media_ext),
                                                                            AUDIO_NAME)]
            report.objects_deleted += _purge(ctx, session, now, "content", policy.content_days, keys=keys,
                                             kinds=["original", "audio", "transcript%"],
                                             prefix=artifact_key(tenant_id, session.id, CONTENT_PREFIX))
            report.content_purged += 1
            report.sessions.append(str(session.id))
    return report


def _purge(ctx: Context, session: Session, now: datetime, what: str, days: int, *, keys: list[str],
           kinds: list[str], prefix: str | None = None) -> int:
    deleted = 0
    for key in keys:
        if ctx.store.exists(key):
            ctx.store.delete(key)
            deleted += 1
    if prefix:
        deleted += ctx.store.delete_prefix(prefix)
    with ctx.tenant_db(session.tenant_id) as db:
        db.execute(sa.delete(Artifact).where(Artifact.session_id == session.id,
                                             sa.or_(*(Artifact.kind.like(kind) for kind in kinds))))
        if what == "media":
            values = {"media_purged_at": now}
        else:  # content goes with whatever media was still there
            values = {"content_purged_at": now, "media_purged_at": sa.func.coalesce(Session.media_purged_at, now)}
        db.execute(sa.update(Session).where(Session.id == session.id).values(**values))
        audit.record(db, tenant_id=session.tenant_id, actor=None, action=f"retention.{what}_purged",
                     entity_type="session", entity_id=session.id,
                     detail={"policy_days": days, "objects_deleted": deleted,
                             "uploaded_at": session.created_at.isoformat()})
        db.commit()
    return deleted
