from __future__ import annotations

from fastapi import APIRouter

from serve.deps import DbDep, PrincipalDep
from vigil.db.models import Tenant
from vigil.schemas import MeOut
from vigil.services.auth import Action

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get("/me", response_model=MeOut, description="Who the token belongs to and what the role may do.")
def me(db: DbDep, principal: PrincipalDep) -> MeOut:
    tenant = db.get(Tenant, principal.tenant_id)
    return MeOut(email=principal.email, role=principal.role, tenant=tenant.name if tenant else "",
                 tenant_id=principal.tenant_id,
                 permissions=sorted(a.value for a in Action if principal.can(a)))
