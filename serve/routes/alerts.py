"""Alert deliveries: list them, acknowledge one (or through its signed one-time link), retry a dead one."""

from __future__ import annotations

import html
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from serve.deps import ContextDep, DbDep, PrincipalDep
from vigil.errors import Forbidden, NotFound
from vigil.schemas.api import AlertOut
from vigil.services import alerts

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", response_model=list[AlertOut])
def list_alerts(db: DbDep, principal: PrincipalDep, status: str | None = None, session_id: uuid.UUID | None = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[AlertOut]:
    """The tenant's alert deliveries, newest first (content readers), e.g. `?status=dead` for the Jobs page."""
    return alerts.list_alerts(db, principal, status=status, session_id=session_id, limit=limit)


@router.post("/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(alert_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> AlertOut:
    """Someone is on it (supervisor or admin): every alert of that analysis is acknowledged and escalates no further;
    audited. Acknowledging again returns the first acknowledgement."""
    return alerts.acknowledge(db, principal, alert_id)


@router.post("/{alert_id}/retry", response_model=AlertOut)
def retry(alert_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> AlertOut:
    """Send a dead delivery again with a fresh set of tries and the same delivery id (supervisor or admin; audited)."""
    return alerts.retry(db, principal, alert_id)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
                        f"<body style='font-family:sans-serif;max-width:36em;margin:3em auto'><h1>"
                        f"{html.escape(title)}</h1>{body}</body></html>", status_code=status)


def _link_page(ctx: ContextDep, alert_id: uuid.UUID, token: str, confirm: bool) -> HTMLResponse:
    try:
        alert = alerts.acknowledge_by_link(ctx, alert_id, token, confirm=confirm)
    except (Forbidden, NotFound) as exc:
        return _page("Vigil alert", f"<p>{html.escape(exc.message)}</p>", status=403 if isinstance(exc, Forbidden)
                     else 404)
    what = f"{html.escape(alert.severity)} {html.escape(alert.category.replace('_', ' '))}"
    if alert.acknowledged_at is not None:
        return _page("Acknowledged", f"<p>The {what} alert of session {str(alert.session_id)[:8]} was acknowledged "
                                     f"at {alert.acknowledged_at:%Y-%m-%d %H:%M} UTC "
                                     f"({html.escape(alert.acknowledged_by or 'through its link')}).</p>")
    return _page("Acknowledge this alert?",
                 f"<p>A {what} flag in session {str(alert.session_id)[:8]}. Acknowledging tells your team someone is "
                 "on it, and stops its escalation.</p><form method='post'><button type='submit'>Acknowledge"
                 "</button></form>")


@router.get("/{alert_id}/acknowledge-link", response_class=HTMLResponse, include_in_schema=True)
def acknowledge_link_page(alert_id: uuid.UUID, ctx: ContextDep, token: str) -> HTMLResponse:
    """The one-time link in an alert (no bearer token: its signature is it). Opening it changes nothing, so a chat
    app's link preview cannot acknowledge; its button does."""
    return _link_page(ctx, alert_id, token, confirm=False)


@router.post("/{alert_id}/acknowledge-link", response_class=HTMLResponse)
def acknowledge_by_link(alert_id: uuid.UUID, ctx: ContextDep, token: str) -> HTMLResponse:
    """The link's button: acknowledges once (audited, without a user); afterwards it shows who did, and when."""
    return _link_page(ctx, alert_id, token, confirm=True)
