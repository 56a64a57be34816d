"""Stored replay runs, read by the tenant's readers (leads, supervisors, admins)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import ReplayRun
from vigil.errors import NotFound
from vigil.schemas.api import ReplayRunDetail, ReplayRunOut
from vigil.services.access import Action, Principal


def _out(run: ReplayRun) -> ReplayRunOut:
    return ReplayRunOut(id=run.id, candidate=run.candidate, baseline=run.baseline, source=run.source,
                        session_count=run.session_count, duration_seconds=run.duration_seconds, metrics=run.metrics,
                        created_at=run.created_at)


def list_runs(db: DbSession, principal: Principal, limit: int = 50) -> list[ReplayRunOut]:
    principal.require(Action.read_content)
    runs = db.scalars(sa.select(ReplayRun).where(ReplayRun.tenant_id == principal.tenant_id)
                      .order_by(ReplayRun.created_at.desc()).limit(limit))
    return [_out(run) for run in runs]


def get_run(db: DbSession, principal: Principal, run_id: uuid.UUID) -> ReplayRunDetail:
    principal.require(Action.read_content)
    run = db.scalar(sa.select(ReplayRun).where(ReplayRun.id == run_id, ReplayRun.tenant_id == principal.tenant_id))
    if run is None:
        raise NotFound("replay run not found")
    return ReplayRunDetail(**_out(run).model_dump(), predictions=run.predictions)
