"""Which provider's people reach a tenant, and with which role (admins set it; audited). Resolving a signed-in
person to their tenant and role through these mappings is vigil.services.idp_users."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import SignInMapping as MappingRow
from vigil.errors import ValidationFailure
from vigil.schemas.enums import Role
from vigil.schemas.sign_in import SignInMapping
from vigil.services import audit
from vigil.services.access import Principal, own_tenant

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def as_schema(row: MappingRow | None) -> SignInMapping:
    if row is None:
        return SignInMapping()
    return SignInMapping(issuer=row.issuer, email_domains=list(row.email_domains or []),
                         groups_claim=row.groups_claim, group_roles={g: Role(r) for g, r in row.group_roles.items()},
                         default_role=Role(row.default_role) if row.default_role else None,
                         enabled=bool(row.issuer or row.email_domains) and bool(row.group_roles or row.default_role))


def sign_in_mapping(db: DbSession, principal: Principal, tenant_id: uuid.UUID) -> SignInMapping:
    tenant = own_tenant(db, principal, tenant_id)
    return as_schema(db.get(MappingRow, tenant.id))


def set_sign_in_mapping(db: DbSession, principal: Principal, tenant_id: uuid.UUID, mapping: SignInMapping,
                        trusted_issuers: list[str]) -> SignInMapping:
    """Replace the tenant's mapping (admin, own tenant; audited with before and after). Only a provider this
    deployment trusts can be named: the API fetches keys from no address a tenant chose."""
    tenant = own_tenant(db, principal, tenant_id)
    if mapping.issuer is not None and mapping.issuer not in trusted_issuers:
        raise ValidationFailure(f"{mapping.issuer!r} is not a provider this deployment trusts (OIDC_ISSUER, "
                                f"OIDC_OTHER_ISSUERS): {', '.join(trusted_issuers) or 'none is set'}")
    domains = sorted({d.strip().lower().removeprefix("@") for d in mapping.email_domains if d.strip()})
    if bad := [d for d in domains if not DOMAIN.match(d)]:
        raise ValidationFailure(f"not email domains: {', '.join(bad)}")
    row = db.get(MappingRow, tenant.id)
    before = as_schema(row).model_dump(mode="json", exclude={"enabled"})
    if row is None:
        row = MappingRow(tenant_id=tenant.id)
        db.add(row)
    row.issuer, row.email_domains, row.groups_claim = mapping.issuer, domains, mapping.groups_claim
    row.group_roles = {group: role.value for group, role in mapping.group_roles.items()}
    row.default_role = mapping.default_role.value if mapping.default_role else None
    db.flush()
    after = as_schema(row)
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.sign_in", entity_type="tenant",
                 entity_id=tenant.id, detail={"before": before, "after": after.model_dump(mode="json",
                                                                                          exclude={"enabled"})})
    db.commit()
    return after


def mappings_for(db: DbSession, issuer: str, email: str | None) -> list[MappingRow]:
    """Every tenant's mapping a person of `issuer` with `email` (verified, or None) matches: a mapping's issuer, if
    it names one, must be the token's; its domains, if it lists any, must hold the email's. A mapping naming
    neither matches nobody. (Across tenants: run on the owner's session, before there is a tenant.)"""
    domain = email.rpartition("@")[2] if email else None
    issuer_ok = sa.or_(MappingRow.issuer.is_(None), MappingRow.issuer == issuer)
    no_domains = sa.func.cardinality(MappingRow.email_domains) == 0
    domain_ok = sa.or_(no_domains, MappingRow.email_domains.any(domain)) if domain else no_domains
    named = sa.or_(MappingRow.issuer.is_not(None), sa.not_(no_domains))
    return list(db.scalars(sa.select(MappingRow).where(issuer_ok, domain_ok, named)))
