from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from serve.deps import ContextDep, DbDep, PrincipalDep
from vigil.schemas import JobStatusOut, TranscriptionConfig
from vigil.services import tenants
from vigil.services.jobs import list_jobs

router = APIRouter(prefix="/api/v1/tenants", tags=["jobs"])


@router.get("/{tenant_id}/jobs", response_model=list[JobStatusOut],
            description="The tenant's jobs, newest first (admin role, own tenant only).")
def tenant_jobs(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep, status: str | None = None,
                stage: str | None = None, since: datetime | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> list[JobStatusOut]:
    return list_jobs(db, principal, tenant_id, status=status, stage=stage, since=since, limit=limit, offset=offset)


@router.get("/{tenant_id}/transcription", response_model=TranscriptionConfig, tags=["tenants"])
def get_transcription(tenant_id: uuid.UUID, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> TranscriptionConfig:
    return tenants.transcription_config(db, principal, tenant_id, ctx.settings)


@router.put("/{tenant_id}/transcription", response_model=TranscriptionConfig, tags=["tenants"],
            description="Choose this tenant's speech providers (admin, own tenant). Providers the deployment "
                        "cannot call (no key) are refused with 400.")
def put_transcription(tenant_id: uuid.UUID, body: TranscriptionConfig, ctx: ContextDep, db: DbDep,
                      principal: PrincipalDep) -> TranscriptionConfig:
    return tenants.set_transcribers(db, principal, tenant_id, body.transcribers, ctx.settings)
