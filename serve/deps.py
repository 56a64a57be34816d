"""Typed FastAPI dependencies: the process context, a DB session, the signed-in principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session as DbSession

from serve.ratelimit import limiter_for
from vigil.context import Context
from vigil.oidc.tokens import looks_like_jwt
from vigil.services.access import Principal
from vigil.services.auth import authenticate, hash_token
from vigil.services.idp_users import principal_for

bearer = HTTPBearer(auto_error=False, description="An API token from `vigil token create`, or an ID token (or JWT "
                                                  "access token) of a trusted OpenID Connect provider.")


_process_context: Context | None = None


def set_process_context(ctx: Context | None) -> None:
    """Used by the Serve replica: `serve.ingress` serves a copy of the FastAPI app, so the context is
    kept per process rather than on the app object the replica's constructor could reach."""
    global _process_context
    _process_context = ctx


def process_context() -> Context | None:
    return _process_context


def get_context(request: Request) -> Context:
    ctx = getattr(request.app.state, "ctx", None) or _process_context
    if ctx is None:
        raise HTTPException(503, "the API is starting")
    return ctx


ContextDep = Annotated[Context, Depends(get_context)]


def principal_of(ctx: Context, token: str) -> Principal | None:
    """Who a bearer token signs in as, if anyone. A provider's token that is refused raises Unauthenticated (401) or
    Forbidden (403), with a code saying why."""
    with ctx.system_db() as db:  # a token names its tenant: finding it cannot be scoped to one
        if ctx.settings.oidc_trusted_issuers and looks_like_jwt(token):
            return principal_for(db, ctx.token_verifier.verify(token))
        return authenticate(db, token)


def get_principal(request: Request, ctx: ContextDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    # The Idempotency-Key middleware has already resolved this request's own token when the header was sent.
    principal = getattr(request.state, "principal", None) or principal_of(ctx, credentials.credentials)
    if principal is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    request.state.tenant_id = principal.tenant_id  # the request's timing is recorded under this tenant
    if ctx.settings.api_rate_limit:
        wait = limiter_for(ctx.settings.api_rate_limit).retry_after(hash_token(credentials.credentials))
        if wait is not None:
            raise HTTPException(429, f"too many requests for this token (limit {ctx.settings.api_rate_limit})",
                                headers={"Retry-After": str(wait)})
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_db(ctx: ContextDep, principal: PrincipalDep) -> Iterator[DbSession]:
    """The signed-in caller's tenant-scoped session: the database itself refuses other tenants' rows."""
    with ctx.tenant_db(principal.tenant_id) as db:
        yield db


DbDep = Annotated[DbSession, Depends(get_db)]
