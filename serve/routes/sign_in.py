"""A tenant's sign-in mapping: which OpenID Connect provider's people reach it, and with which role."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from serve.deps import ContextDep, DbDep, PrincipalDep
from vigil.schemas.sign_in import SignInMapping
from vigil.services import sign_in_mappings

router = APIRouter(prefix="/api/v1/tenants", tags=["tenants"])


@router.get("/{tenant_id}/sign-in", response_model=SignInMapping,
            description="How people of an OpenID Connect provider reach this tenant (admin, own tenant).")
def get_sign_in(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> SignInMapping:
    return sign_in_mappings.sign_in_mapping(db, principal, tenant_id)


@router.put("/{tenant_id}/sign-in", response_model=SignInMapping,
            description="Set how people of an OpenID Connect provider reach this tenant: a trusted issuer and/or "
                        "email domains, provider groups → roles, a default role. People appear on first sign-in with "
                        "the role their groups give; a newer token without such a group takes their access away. "
                        "Admin, own tenant; audited. An issuer this deployment does not trust is refused with 400.")
def put_sign_in(tenant_id: uuid.UUID, body: SignInMapping, ctx: ContextDep, db: DbDep,
                principal: PrincipalDep) -> SignInMapping:
    return sign_in_mappings.set_sign_in_mapping(db, principal, tenant_id, body,
                                                list(ctx.settings.oidc_trusted_issuers))
