"""Where a session's double review stands, read from its answer sheets (review_assignments) and adjudications: the
low layer both ordinary reviews (which wait while judged fields are in double review) and the double review itself
read. Of the services it imports only `access`."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Review, ReviewAssignment
from vigil.services.access import Principal

DOUBLE = "double"
CALIBRATION = "calibration"
JUDGED_PREFIXES = ("flag.", "rubric.")


def is_judged(field: str) -> bool:
    """Fields a double review judges: the risk level, each risk category, each rubric item and MI quality."""
    return field in ("risk_level", "mi_quality") or field.startswith(JUDGED_PREFIXES)


def sheets_of(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID,
              purpose: str = DOUBLE) -> list[ReviewAssignment]:
    return list(db.scalars(sa.select(ReviewAssignment).where(
        ReviewAssignment.tenant_id == tenant_id, ReviewAssignment.session_id == session_id,
        ReviewAssignment.purpose == purpose).order_by(ReviewAssignment.slot)))


def disagreements(sheets: list[ReviewAssignment]) -> list[str]:
    """The fields two submitted sheets answer differently ([] until both are in)."""
    if len(sheets) != 2 or any(s.status != "submitted" for s in sheets):
        return []
    first, second = (s.answers or {} for s in sheets)
    return sorted(f for f in first.keys() | second.keys() if first.get(f) != second.get(f))


def adjudicated(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, Any]:
    """Field → the value a lead or admin settled it at."""
    rows = db.execute(sa.select(Review.field, Review.human_value).where(
        Review.tenant_id == tenant_id, Review.session_id == session_id, Review.kind == "adjudication")).all()
    return {field: human["value"] for field, human in rows}


def state(sheets: list[ReviewAssignment], settled: set[str]) -> str:
    """none | open (a sheet is still open) | disagreement (some not adjudicated yet) | settled."""
    if not sheets:
        return "none"
    if any(s.status == "open" for s in sheets):
        return "open"
    return "disagreement" if set(disagreements(sheets)) - settled else "settled"


def waiting(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """Whether the session's judged fields wait for its double review to settle."""
    sheets = sheets_of(db, tenant_id, session_id)
    if not sheets:
        return False
    return state(sheets, set(adjudicated(db, tenant_id, session_id))) in ("open", "disagreement")


def label_for(db: DbSession, principal: Principal, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """What the queue says about each session's double review, for the caller: "your review", "second review",
    "waiting for the other reviewer", "disagreement", "double review" (someone else's, open); "calibration" for a
    calibration copy."""
    if not session_ids:
        return {}
    rows = db.scalars(sa.select(ReviewAssignment).where(ReviewAssignment.tenant_id == principal.tenant_id,
                                                        ReviewAssignment.session_id.in_(session_ids),
                                                        ReviewAssignment.purpose.in_((DOUBLE, CALIBRATION)))).all()
    by_session: dict[uuid.UUID, list[ReviewAssignment]] = {}
    for row in rows:
        by_session.setdefault(row.session_id, []).append(row)
    if not by_session:  # most sessions: no double review, nothing settled to look up
        return {}
    settled: dict[uuid.UUID, set[str]] = {}
    for session_id, field in db.execute(sa.select(Review.session_id, Review.field).where(
            Review.tenant_id == principal.tenant_id, Review.session_id.in_(list(by_session)),
            Review.kind == "adjudication")):
        settled.setdefault(session_id, set()).add(field)
    labels = {}
    for session_id, assignments in by_session.items():
        assignments.sort(key=lambda a: a.slot)
        mine = next((a for a in assignments if a.reviewer_id == principal.user_id), None)
        if assignments[0].purpose == CALIBRATION:
            labels[session_id] = "calibration" if mine is None or mine.status == "open" else "calibration, submitted"
        elif mine is not None and mine.status == "open":
            labels[session_id] = "your review" if mine.slot == 1 else "second review"
        elif any(a.status == "open" for a in assignments):
            labels[session_id] = "waiting for the other reviewer" if mine else "double review"
        elif set(disagreements(assignments)) - settled.get(session_id, set()):
            labels[session_id] = "disagreement"
    return labels
