from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from serve.deps import DbDep, PrincipalDep
from vigil.schemas.api import ReplayRunDetail, ReplayRunOut
from vigil.services import replay

router = APIRouter(prefix="/api/v1/replay-runs", tags=["governance"])


@router.get("", response_model=list[ReplayRunOut],
            description="Replay runs (`vigil replay`) of the caller's tenant, newest first, with their metrics.")
def list_runs(db: DbDep, principal: PrincipalDep,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[ReplayRunOut]:
    return replay.list_runs(db, principal, limit)


@router.get("/{run_id}", response_model=ReplayRunDetail, description="One run, with every prediction.")
def get_run(run_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> ReplayRunDetail:
    return replay.get_run(db, principal, run_id)
