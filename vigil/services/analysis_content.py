"""The text of analyses and reviews, kept out of the database's clear columns (see vigil.sealed_text).

An analysis's whole result is read from the object store (sealed there like transcripts); the database row holds
the same result with its text emptied, which is all queries need. A review's reason and values are sealed into its
`sealed` column; a text field's values are kept in the clear columns only as digests."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from vigil.context import Context
from vigil.crypto import DecryptionError
from vigil.db.models import Analysis, Review
from vigil.schemas.analysis import AnalysisResult
from vigil.sealed_text import TEXT_REVIEW_FIELDS, digest
from vigil.storage.base import ObjectStore, analysis_name, artifact_key
from vigil.storage.encrypted import open_value, rewrap_value, seal_value

log = logging.getLogger(__name__)


def full_result(store: ObjectStore, analysis: Analysis) -> tuple[AnalysisResult, bool]:
    """The analysis with its text, from the store; (the database's copy without text, False) when the store has
    lost it, so a reviewer still sees the risk level, flags and scores."""
    key = artifact_key(analysis.tenant_id, analysis.session_id, analysis_name(analysis.analysis_version))
    if store.exists(key):
        return AnalysisResult.model_validate_json(store.get_bytes(key)), True
    log.warning("an analysis's content is missing from the object store", extra={"analysis_id": str(analysis.id)})
    return AnalysisResult.model_validate(analysis.result), False


@dataclass(frozen=True)
class ReviewText:
    ai: Any
    human: Any
    reason: str


def _place(review_id: uuid.UUID) -> str:
    return f"review/{review_id}"


def clear_value(field: str, value: Any) -> dict[str, Any]:
    """What a review's ai_value or human_value column keeps: a digest for a text field, else the value."""
    return {"value": digest(value) if field in TEXT_REVIEW_FIELDS else value}


def seal_review(store: ObjectStore, review: Review, text: ReviewText) -> None:
    """Set the review's columns: its text sealed, digests or values in the clear columns, no reason in the clear."""
    review.id = review.id or uuid.uuid4()
    review.sealed = seal_value(store, json.dumps({"ai": text.ai, "human": text.human, "reason": text.reason})
                               .encode(), _place(review.id))
    review.ai_value, review.human_value = clear_value(review.field, text.ai), clear_value(review.field, text.human)
    review.reason = ""


def review_text(store: ObjectStore, review: Review) -> ReviewText:
    if review.sealed is None:  # written before reviews were sealed, and not yet sealed by `vigil migrate`
        return ReviewText(review.ai_value.get("value"), review.human_value.get("value"), review.reason)
    opened = json.loads(open_value(store, review.sealed, _place(review.id)))
    return ReviewText(opened["ai"], opened["human"], opened["reason"])


def seal_existing_reviews(ctx: Context, tenant_id: uuid.UUID) -> int:
    """Seal the tenant's reviews written before reviews were sealed; returns how many."""
    with ctx.tenant_db(tenant_id) as db:
        legacy = db.scalars(sa.select(Review).where(Review.tenant_id == tenant_id, Review.sealed.is_(None))).all()
        for review in legacy:
            seal_review(ctx.store, review, ReviewText(review.ai_value.get("value"), review.human_value.get("value"),
                                                      review.reason))
        db.commit()
    return len(legacy)


def rewrap_sealed_reviews(ctx: Context, tenant_id: uuid.UUID) -> tuple[int, int]:
    """Re-wrap the tenant's sealed review text under the active key (after `vigil keys rotate`). Returns (re-wrapped,
    sealed under a key the keyring does not hold: left as they are, for the operator to find that key). Kept answers
    to Idempotency-Key requests live a day and are left to expire."""
    done = unknown = 0
    with ctx.tenant_db(tenant_id) as db:
        for review in db.scalars(sa.select(Review).where(Review.tenant_id == tenant_id, Review.sealed.is_not(None))):
            try:
                review.sealed = rewrap_value(ctx.store, review.sealed, _place(review.id))  # type: ignore[arg-type]
            except DecryptionError:
                unknown += 1
                continue
            done += 1
        db.commit()
    return done, unknown
