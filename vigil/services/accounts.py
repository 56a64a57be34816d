"""The signed-in caller's own account: who they are, their sign-ins and exports (both audited)."""

from __future__ import annotations

from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Tenant
from vigil.schemas.api import ExportIn, MeOut
from vigil.services import audit
from vigil.services.access import Action, Principal


def me(db: DbSession, principal: Principal) -> MeOut:
    tenant = db.get(Tenant, principal.tenant_id)
    return MeOut(email=principal.email, role=principal.role, tenant=tenant.name if tenant else "",
                 tenant_id=principal.tenant_id,
                 permissions=sorted(a.value for a in Action if principal.can(a)))


def sign_in(db: DbSession, principal: Principal, client: str) -> MeOut:
    audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="user.sign_in", entity_type="user",
                 entity_id=principal.user_id, detail={"client": client})
    db.commit()
    return me(db, principal)


def record_export(db: DbSession, principal: Principal, export: ExportIn) -> None:
    principal.require(Action.read_content)
    audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="data.export", entity_type="table",
                 entity_id=export.table, detail={"rows": export.rows, "format": export.format})
    db.commit()
