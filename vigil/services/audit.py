"""Append-only audit entries, written in the same transaction as the change they record."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import AuditEntry, User
from vigil.schemas import AuditOut
from vigil.services.auth import Principal


def record(db: DbSession, *, tenant_id: uuid.UUID, actor: Principal | None, action: str,
           entity_type: str, entity_id: uuid.UUID | str, detail: dict[str, Any] | None = None) -> None:
    db.add(AuditEntry(tenant_id=tenant_id, actor_id=actor.user_id if actor else None, action=action,
                      entity_type=entity_type, entity_id=str(entity_id), detail=detail or {}))


def session_audit(db: DbSession, principal: Principal, session_id: uuid.UUID) -> list[AuditOut]:
    rows = db.execute(
        sa.select(AuditEntry, User.email)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.tenant_id == principal.tenant_id, AuditEntry.entity_id == str(session_id))
        .order_by(AuditEntry.created_at)
    ).all()
    return [
        AuditOut(id=e.id, action=e.action, actor_email=email, entity_type=e.entity_type,
                 entity_id=e.entity_id, detail=e.detail, created_at=e.created_at)
        for e, email in rows
    ]
