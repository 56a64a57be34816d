"""Every human score and comment of a tenant, one row each, for data leads: reviews (a supervisor's own, agreed in
double review, adjudicated), double-review and calibration sheets once submitted, disputes and their resolutions,
and gold answers. Comments are opened from their seals, so an export is sensitive: it is for leads and admins, and
each one is audited with its row count."""

from __future__ import annotations

import io
import json
import uuid
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Dispute, GoldStandard, Review, ReviewAssignment, User
from vigil.services import audit
from vigil.services.access import Action, Principal
from vigil.services.analysis_content import review_text
from vigil.services.calibration import gold_note
from vigil.services.disputes import opened
from vigil.services.double_review import sheet_note
from vigil.storage.base import ObjectStore

COLUMNS = {"kind": pl.String, "session_id": pl.String, "field": pl.String, "value": pl.String,
           "ai_value": pl.String, "comment": pl.String, "reviewer_id": pl.String, "reviewer_email": pl.String,
           "created_at": pl.Datetime("us", "UTC"), "ref_id": pl.String}


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _row(kind: str, session_id: uuid.UUID, field: str | None, value: Any, ai: Any, comment: str | None,
         reviewer: uuid.UUID | None, emails: dict[uuid.UUID, str], at: datetime | None,
         ref: uuid.UUID) -> dict[str, Any]:
    return {"kind": kind, "session_id": str(session_id), "field": field, "value": _text(value), "ai_value": _text(ai),
            "comment": comment or None, "reviewer_id": str(reviewer) if reviewer else None,
            "reviewer_email": emails.get(reviewer) if reviewer else None, "created_at": at, "ref_id": str(ref)}


def human_scores(store: ObjectStore, db: DbSession, principal: Principal, since: datetime | None = None
                 ) -> pl.DataFrame:
    principal.require(Action.calibrate)
    tenant = principal.tenant_id
    emails = dict(db.execute(sa.select(User.id, User.email).where(User.tenant_id == tenant)).tuples().all())
    rows: list[dict[str, Any]] = []
    reviews = sa.select(Review).where(Review.tenant_id == tenant)
    for review in db.scalars(reviews.where(Review.created_at >= since) if since else reviews):
        text = review_text(store, review)
        kind = {"override": "review", "double": "double_review_agreed"}.get(review.kind, review.kind)
        rows.append(_row(kind, review.session_id, review.field, text.human, text.ai, text.reason, review.reviewer_id,
                         emails, review.created_at, review.id))
    sheets = sa.select(ReviewAssignment).where(ReviewAssignment.tenant_id == tenant,
                                               ReviewAssignment.status == "submitted")  # open sheets are not final
    for sheet in db.scalars(sheets.where(ReviewAssignment.submitted_at >= since) if since else sheets):
        note = sheet_note(store, sheet)
        for field, value in (sheet.answers or {}).items():
            rows.append(_row(f"{sheet.purpose}_sheet", sheet.session_id, field, value, sheet.ai_answers.get(field),
                             note, sheet.reviewer_id, emails, sheet.submitted_at, sheet.id))
    disputes = sa.select(Dispute).where(Dispute.tenant_id == tenant)
    for dispute in db.scalars(disputes.where(Dispute.created_at >= since) if since else disputes):
        text = opened(store, dispute)
        rows.append(_row("dispute", dispute.session_id, dispute.field, text.get("value"), None, text.get("note"),
                         dispute.opened_by, emails, dispute.created_at, dispute.id))
        if dispute.status != "open":
            rows.append(_row(f"dispute_{dispute.status}", dispute.session_id, dispute.field,
                             text.get("resolved_value", text.get("value")), None, text.get("reason"),
                             dispute.resolved_by, emails, dispute.resolved_at, dispute.id))
    golds = sa.select(GoldStandard).where(GoldStandard.tenant_id == tenant)
    for gold in db.scalars(golds.where(GoldStandard.created_at >= since) if since else golds):
        note = gold_note(store, gold)
        for field, value in gold.answers.items():
            rows.append(_row("gold", gold.session_id, field, value, None, note, gold.created_by, emails,
                             gold.created_at, gold.session_id))
    frame = pl.DataFrame(rows, schema=COLUMNS).sort("created_at", "kind", "field", nulls_last=True)
    audit.record(db, tenant_id=tenant, actor=principal, action="export.human_scores", entity_type="tenant",
                 entity_id=tenant, detail={"rows": frame.height, "since": since.isoformat() if since else None})
    db.commit()
    return frame


def encoded(frame: pl.DataFrame, kind: str) -> bytes:
    buffer = io.BytesIO()
    if kind == "parquet":
        frame.write_parquet(buffer)
    elif kind == "csv":
        frame.write_csv(buffer)
    else:
        frame.write_json(buffer)
    return buffer.getvalue()
