"""Typed FastAPI dependencies: the process context, a DB session, the signed-in principal."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session as DbSession
from starlette.concurrency import run_in_threadpool

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


async def get_context(request: Request) -> Context:
    # async, as every dependency that does no I/O here: FastAPI runs a plain `def` one on its threadpool, and the
    # hops cost more than the work
    ctx = getattr(request.app.state, "ctx", None) or _process_context
    if ctx is None:
        raise HTTPException(503, "the API is starting")
    return ctx


ContextDep = Annotated[Context, Depends(get_context)]


def principal_of(ctx: Context, token: str) -> Principal | None:
    """Who a bearer token signs in as, if anyone; remembered for AUTH_CACHE_SECONDS (ctx.principals). A provider's
    token is checked (signature, issuer, audience, expiry) on every request, and one that is refused raises
    Unauthenticated (401) or Forbidden (403), with a code saying why."""
    key = hash_token(token)
    if ctx.token_verifier.audiences and looks_like_jwt(token):
        identity = ctx.token_verifier.verify(token)
        principal = ctx.principals.get(key)
        if principal is None:
            # This person's standing is read afresh: their other tokens' entries in this process follow it.
            ctx.principals.forget((identity.issuer, identity.subject))
            with ctx.system_db() as db:  # a token names its tenant: finding it cannot be scoped to one
                principal = principal_for(db, identity)
            ctx.principals.put(key, principal, identity=(identity.issuer, identity.subject))
        return principal
    principal = ctx.principals.get(key)
    if principal is None:
        with ctx.system_db() as db:
            principal = authenticate(db, token)
        if principal is not None:
            ctx.principals.put(key, principal)
    return principal


async def get_principal(request: Request, ctx: ContextDep,
                        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    token = credentials.credentials
    key = hash_token(token)
    # The Idempotency-Key middleware has already resolved this request's own token when the header was sent. An API
    # token this process remembers is answered here, on the event loop; anything else needs the database or a
    # signature check, on the threadpool.
    principal = (getattr(request.state, "principal", None)
                 or (None if looks_like_jwt(token) else ctx.principals.get(key))
                 or await run_in_threadpool(principal_of, ctx, token))
    if principal is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    request.state.tenant_id = principal.tenant_id  # the request's timing is recorded under this tenant
    if ctx.settings.api_rate_limit:
        wait = limiter_for(ctx.settings.api_rate_limit).retry_after(key)
        if wait is not None:
            raise HTTPException(429, f"too many requests for this token (limit {ctx.settings.api_rate_limit})",
                                headers={"Retry-After": str(wait)})
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_db(ctx: Context, principal: Principal) -> Iterator[DbSession]:
    """The signed-in caller's tenant-scoped session: the database itself refuses other tenants' rows."""
    with ctx.tenant_db(principal.tenant_id) as db:
        yield db


async def tenant_session(ctx: ContextDep, principal: PrincipalDep) -> AsyncIterator[DbSession]:
    """`get_db` as a route's dependency. Opening the session does no I/O (its first statement connects), so it
    opens here on the event loop; closing ends the transaction and returns the connection, on the threadpool."""
    sessions = get_db(ctx, principal)
    db = next(sessions)
    try:
        yield db
    finally:
        await run_in_threadpool(sessions.close)


DbDep = Annotated[DbSession, Depends(tenant_session)]

T = TypeVar("T")


@functools.cache
def _read_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="vigil-read")


async def off_loop(ctx: Context, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`work(*args, **kwargs)` on the process's read threads (API_READ_THREADS of them), in the request's context
    (its request id). One hop for the whole read, on few threads: Starlette's threadpool has 40, and under load
    a replica's threads spent their time handing Python's lock to each other (bench/api.py: 4 threads gave about
    15 % more reads/s than 40 on 2 cores)."""
    call = functools.partial(contextvars.copy_context().run, work, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_read_pool(ctx.settings.api_read_threads), call)


async def tenant_read(ctx: Context, principal: Principal, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`work(db, principal, *args, **kwargs)` in the caller's tenant-scoped session, opened, used and closed in one
    hop off the event loop (`off_loop`). A `def` route with DbDep takes three (the route, FastAPI's check of its
    response model, the session's close), each costing more than a small read. Used by the reads a client polls
    (job status, a session, the queue)."""
    def run() -> T:
        with ctx.tenant_db(principal.tenant_id) as db:
            return work(db, principal, *args, **kwargs)

    return await off_loop(ctx, run)
