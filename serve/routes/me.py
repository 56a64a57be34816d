from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session as DbSession

from serve.deps import DbDep, PrincipalDep
from vigil.db.models import Tenant
from vigil.schemas import ExportIn, MeOut
from vigil.services import audit
from vigil.services.access import Action, Principal

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get("/me", response_model=MeOut, description="Who the token belongs to and what the role may do.")
def me(db: DbDep, principal: PrincipalDep) -> MeOut:
    return _me(db, principal)


@router.post("/sign-in", response_model=MeOut, description="Like GET /me, and audited as a sign-in (the dashboard "
                                                             "calls it when someone signs in).")
def sign_in(db: DbDep, principal: PrincipalDep, client: Annotated[str, Query(max_length=50)] = "api") -> MeOut:
    audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="user.sign_in", entity_type="user",
                 entity_id=principal.user_id, detail={"client": client})
    db.commit()
    return _me(db, principal)


@router.post("/exports", status_code=204, description="Record that the caller exported a table (the dashboard "
                                                        "calls it from each download button); audited.")
def record_export(body: ExportIn, db: DbDep, principal: PrincipalDep) -> None:
    principal.require(Action.read_content)
    audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="data.export", entity_type="table",
                 entity_id=body.table, detail={"rows": body.rows, "format": body.format})
    db.commit()


def _me(db: DbSession, principal: Principal) -> MeOut:
    tenant = db.get(Tenant, principal.tenant_id)
    return MeOut(email=principal.email, role=principal.role, tenant=tenant.name if tenant else "",
                 tenant_id=principal.tenant_id,
                 permissions=sorted(a.value for a in Action if principal.can(a)))
