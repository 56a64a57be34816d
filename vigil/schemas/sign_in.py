"""A tenant's sign-in mapping, as admins read and set it (PUT /api/v1/tenants/{id}/sign-in)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vigil.schemas.enums import Role


class SignInMapping(BaseModel):
    issuer: str | None = Field(None, max_length=500, description="An OpenID Connect provider this deployment trusts "
                               "(OIDC_ISSUER or one of OIDC_OTHER_ISSUERS): its people reach this tenant. Null: "
                               "any trusted provider, by email domain.")
    email_domains: list[str] = Field(default_factory=list, max_length=100, description="Domains of verified email "
                                     "addresses that reach this tenant (e.g. clinic.org). With an issuer, both must "
                                     "match.")
    groups_claim: str = Field("groups", min_length=1, max_length=100, description="The token claim listing the "
                              "person's groups at the provider.")
    group_roles: dict[str, Role] = Field(default_factory=dict, description="Provider group → role here. Someone in "
                                         "several gets the first in the order admin, supervisor, lead, uploader, "
                                         "counselor.")
    default_role: Role | None = Field(None, description="The role of someone no group names (e.g. for Google, "
                                      "which sends no groups); null: they may not sign in.")
    enabled: bool = Field(False, description="Read only: whether anyone can reach this tenant through it.")
