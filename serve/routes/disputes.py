"""Disputes of reviewed fields: a supervisor's queue, and resolving one (uphold or change, with a reason)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from serve.deps import ContextDep, DbDep, PrincipalDep
from vigil.schemas.counseling import DisputeOut, DisputeResolutionIn
from vigil.services import disputes

router = APIRouter(prefix="/api/v1/disputes", tags=["disputes"])


@router.get("", response_model=list[DisputeOut])
def list_disputes(ctx: ContextDep, db: DbDep, principal: PrincipalDep,
                  status: Literal["open", "upheld", "changed"] | None = None, session_id: uuid.UUID | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[DisputeOut]:
    """Disputes for the caller (a supervisor: of values they made canonical; admins and leads: all of the tenant's),
    open first."""
    return disputes.list_disputes(ctx.store, db, principal, status=status, session_id=session_id, limit=limit)


@router.post("/{dispute_id}/resolve", response_model=DisputeOut,
             responses={409: {"description": "already resolved"}})
def resolve(dispute_id: uuid.UUID, body: DisputeResolutionIn, ctx: ContextDep, db: DbDep,
            principal: PrincipalDep) -> DisputeOut:
    """Uphold (the value stays) or change (a new review of the field makes `value` canonical), with a reason: the
    supervisor whose queue it is in, or an admin. Audited (the reason as a digest)."""
    return disputes.resolve_dispute(ctx.store, db, principal, dispute_id, body)
