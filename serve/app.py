"""The FastAPI application: routes plus one place that turns typed errors into HTTP answers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from serve.deps import process_context
from serve.idempotency import IdempotencyMiddleware
from serve.request_id import RequestIdMiddleware
from serve.routes import (
    alerts,
    analytics,
    calibration,
    counselors,
    disputes,
    double_review,
    events,
    health,
    jobs,
    me,
    replays,
    sessions,
    sign_in,
    tenants,
    uploads,
)
from serve.timing import TimingMiddleware, TimingRecorder
from vigil.context import Context
from vigil.errors import Conflict, Forbidden, Gone, NotFound, Unauthenticated, ValidationFailure, VigilError
from vigil.oidc.provider_keys import ProviderUnreachable
from vigil.services.ingest import UnsupportedMedia, UploadTooLarge

log = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[VigilError], int]] = [
    (Unauthenticated, 401), (NotFound, 404), (Forbidden, 403), (Conflict, 409), (Gone, 410),
    (UploadTooLarge, 413), (UnsupportedMedia, 415), (ValidationFailure, 400), (ProviderUnreachable, 503),
]


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.timings.close()

    app = FastAPI(title="Vigil API", version="0.1.0", lifespan=lifespan,
                  description="Upload recorded sessions, read transcripts and analyses, record supervisor reviews.")
    app.include_router(sessions.router)
    app.include_router(jobs.router)
    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(tenants.router)
    app.include_router(uploads.router)
    app.include_router(replays.router)
    app.include_router(analytics.router)
    app.include_router(alerts.router)
    app.include_router(events.router)
    app.include_router(double_review.router)
    app.include_router(calibration.router)
    app.include_router(counselors.router)
    app.include_router(disputes.router)
    app.include_router(sign_in.router)

    app.state.timings = TimingRecorder(lambda: getattr(app.state, "ctx", None) or process_context())
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(TimingMiddleware, recorder=app.state.timings)
    app.add_middleware(RequestIdMiddleware)  # added last, so outermost: the id is bound before anything runs

    @app.exception_handler(sa_exc.DataError)
    async def unstorable_value(request: Request, exc: sa_exc.DataError) -> JSONResponse:
        # Input PostgreSQL cannot take as its type, e.g. a NUL character in a filter or a text field (found by the
        # API fuzz test): the caller's data, so 400, never 500. Nothing was written: the transaction rolls back.
        log.info("refused a value the database cannot store", extra={"path": request.url.path})
        return JSONResponse({"detail": "the request contains a value that cannot be stored or searched for "
                                       "(for example a NUL character)", "code": "invalid_value"}, status_code=400)

    @app.exception_handler(VigilError)
    async def vigil_error(request: Request, exc: VigilError) -> JSONResponse:
        status = next((code for kind, code in STATUS_BY_ERROR if isinstance(exc, kind)), 500)
        if status == 500:
            log.error("unhandled domain error", extra={"code": exc.code, "path": request.url.path})
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=status, headers=headers)

    return app


def configure(app: FastAPI, ctx: Context) -> FastAPI:
    app.state.ctx = ctx
    return app
