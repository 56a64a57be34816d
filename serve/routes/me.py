"""The caller's own account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from serve.deps import DbDep, PrincipalDep
from vigil.schemas.api import ExportIn, MeOut
from vigil.services import accounts

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get("/me", response_model=MeOut, description="Who the token belongs to and what the role may do.")
def me(db: DbDep, principal: PrincipalDep) -> MeOut:
    return accounts.me(db, principal)


@router.post("/sign-in", response_model=MeOut, description="Like GET /me, and audited as a sign-in (the dashboard "
                                                             "calls it when someone signs in).")
def sign_in(db: DbDep, principal: PrincipalDep, client: Annotated[str, Query(max_length=50)] = "api") -> MeOut:
    return accounts.sign_in(db, principal, client)


@router.post("/exports", status_code=204, description="Record that the caller exported a table (the dashboard "
                                                        "calls it from each download button); audited.")
def record_export(body: ExportIn, db: DbDep, principal: PrincipalDep) -> None:
    accounts.record_export(db, principal, body)
