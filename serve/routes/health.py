from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serve.deps import ContextDep

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get("/ping", description="Liveness of the API process alone: no token, no database, no object store. "
                                  "`bench/api.py` reads it as the cost of a request through Serve and the middleware.")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health", description="Liveness of the API and its database and object store.")
def health(ctx: ContextDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with ctx.system_db() as db:
            db.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # reported, not raised: health must answer even when a part is down
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        ctx.store.exists("health/probe")
        checks["object_store"] = "ok"
    except Exception as exc:
        checks["object_store"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503)
