from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from serve.deps import DbDep, PrincipalDep
from vigil.schemas import JobStatusOut
from vigil.services.jobs import list_jobs

router = APIRouter(prefix="/api/v1/tenants", tags=["jobs"])


@router.get("/{tenant_id}/jobs", response_model=list[JobStatusOut],
            description="The tenant's jobs, newest first (admin role, own tenant only).")
def tenant_jobs(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep, status: str | None = None,
                stage: str | None = None, since: datetime | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> list[JobStatusOut]:
    return list_jobs(db, principal, tenant_id, status=status, stage=stage, since=since, limit=limit, offset=offset)
