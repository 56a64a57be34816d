from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from serve.deps import ContextDep, DbDep, PrincipalDep, tenant_read
from vigil.schemas.api import JobCountOut, JobStatusOut
from vigil.services.jobs import job_counts, job_status, work_jobs

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get("/{job_id}/status", response_model=JobStatusOut)
async def get_job_status(job_id: uuid.UUID, ctx: ContextDep, principal: PrincipalDep) -> JobStatusOut:
    return await tenant_read(ctx, principal, job_status, job_id)


@router.get("", response_model=list[JobStatusOut],
            description="The caller's tenant's jobs, newest first; `status=dead` lists work that gave up, with its "
                        "reason. Supervisors and admins (who can retry with POST /sessions/{id}/reprocess).")
def list_work(db: DbDep, principal: PrincipalDep, status: str | None = None, stage: str | None = None,
              since: datetime | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0)] = 0) -> list[JobStatusOut]:
    return work_jobs(db, principal, status=status, stage=stage, since=since, limit=limit, offset=offset)


@router.get("/counts", response_model=list[JobCountOut], description="Jobs per status and stage.")
def count_work(db: DbDep, principal: PrincipalDep) -> list[JobCountOut]:
    return job_counts(db, principal)
