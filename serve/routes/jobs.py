from __future__ import annotations

import uuid

from fastapi import APIRouter

from serve.deps import DbDep, PrincipalDep
from vigil.schemas import JobStatusOut
from vigil.services.jobs import job_status

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get("/{job_id}/status", response_model=JobStatusOut)
def get_job_status(job_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> JobStatusOut:
    return job_status(db, principal, job_id)
