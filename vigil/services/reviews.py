"""Supervisor overrides. The newest review of a field is canonical; every review is audited. A session in double
review (vigil.services.double_review) takes its judged fields from the two reviewers' sheets instead."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session as DbSession

from vigil.analysis.text.roles import assign_roles
from vigil.db.models import Analysis, Review, Session, User, utcnow
from vigil.errors import Conflict, NotFound, ValidationFailure
from vigil.schemas.analysis import AnalysisResult
from vigil.schemas.api import AnalysisOut, AnalysisVersionOut, ReviewIn, ReviewOut
from vigil.schemas.enums import RiskCategory, RiskLevel
from vigil.schemas.transcripts import AgentTranscript
from vigil.sealed_text import digest
from vigil.services import audit
from vigil.services.access import Action, Principal, owned_session
from vigil.services.analysis_content import ReviewText, full_result, review_text, seal_review
from vigil.services.review_sheets import is_judged, waiting
from vigil.storage.base import ObjectStore
from vigil.transcription.agent import transcript_text

FLAG_DECISIONS = ("confirmed", "dismissed")
REDACTION_DECISIONS = ("redacted", "restored")  # restored: a false positive, shown as spoken


def latest_analysis(db: DbSession, principal: Principal, session_id: uuid.UUID) -> Analysis:
    owned_session(db, principal, session_id)
    analysis = db.scalar(sa.select(Analysis).where(Analysis.session_id == session_id,
                                                   Analysis.tenant_id == principal.tenant_id)
                         .order_by(Analysis.analysis_version.desc()).limit(1))
    if analysis is None:
        raise NotFound("the analysis is not ready yet")
    return analysis


def ai_values(result: AnalysisResult) -> dict[str, Any]:
    """The AI's value of every reviewable field, by field name."""
    # A failed risk task read nothing: its level is "unknown", never the placeholder "none" the result carries.
    risk = "unknown" if result.risk_status == "failed" else result.risk_level.value
    values: dict[str, Any] = {"risk_level": risk, "summary": result.summary,
                              "action_items": list(result.action_items)}
    values.update({f"rubric.{r.key}": r.score for r in result.rubric})
    if result.miti is not None and result.miti.mi_quality is not None:
        values["mi_quality"] = result.miti.mi_quality
    flagged = {f.category.value for f in result.flags}
    values.update({f"flag.{c.value}": ("flagged" if c.value in flagged else "not_flagged") for c in RiskCategory})
    return values


SPEAKER_FIELD_PREFIXES = ("speaker.", "segment.")


def is_speaker_field(field: str) -> bool:
    return field.startswith(SPEAKER_FIELD_PREFIXES)


def transcript_values(transcript: AgentTranscript | None) -> dict[str, Any]:
    """Speaker fields a supervisor may correct: a whole label (`speaker.S1`) or one segment's speaker
    (`segment.<index>.speaker`, for transcripts whose provider gave no speakers)."""
    if transcript is None:
        return {}
    values: dict[str, Any] = {f"speaker.{label}": label
                              for label in sorted({s.speaker for s in transcript.segments if s.speaker})}
    values.update({f"segment.{s.index}.speaker": s.speaker or "" for s in transcript.segments})
    return values


def relabel_speakers(transcript: AgentTranscript, overrides: dict[str, Any]) -> AgentTranscript:
    """The transcript as the supervisor corrected it: label renames first, then single segments."""
    segments = []
    for seg in transcript.segments:
        speaker = overrides.get(f"speaker.{seg.speaker}", seg.speaker) if seg.speaker else None
        speaker = overrides.get(f"segment.{seg.index}.speaker", speaker)
        segments.append(seg.model_copy(update={"speaker": speaker}))
    return transcript.model_copy(update={"segments": segments, "text": transcript_text(segments)})


def transcript_with_roles(transcript: AgentTranscript, corrections: dict[str, Any],
                          first_speaker: str | None) -> AgentTranscript:
    """The transcript as analysis reads it: the supervisors' speaker corrections applied (they win over anything
    inferred, and every later analysis of the session applies them again), then a role for every speaker."""
    corrected = relabel_speakers(transcript, corrections) if corrections else transcript
    roles = assign_roles(corrected.segments, transcript.speakers_source,
                         first_speaker if first_speaker in ("counselor", "client") else None,  # type: ignore[arg-type]
                         corrected=bool(corrections))
    return corrected.model_copy(update={"roles": roles})


SPEAKER_FIELD_PREFIXES = ("speaker.", "segment.")


@functools.cache
def _newest_values_statement(prefixes: tuple[str, ...]) -> sa.Select[tuple[str, Any]]:
    return sa.select(Review.field, Review.human_value).where(
        Review.session_id == sa.bindparam("session_id"), Review.tenant_id == sa.bindparam("tenant_id"),
        sa.or_(*(Review.field.like(f"{prefix}%") for prefix in prefixes))).order_by(Review.created_at)


def newest_values(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID,
                  prefixes: tuple[str, ...]) -> dict[str, Any]:
    """The newest human value of each reviewed field of a session that starts with one of `prefixes`. The
    statement is built once per set of prefixes and run on the session's connection: every transcript read
    asks."""
    rows = db.connection().execute(_newest_values_statement(prefixes), {"session_id": session_id,
                                                                         "tenant_id": tenant_id}).all()
    return {field: human["value"] for field, human in rows}


def session_speaker_overrides(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, Any]:
    """The supervisors' speaker corrections of a session, newest per field: every analysis of it applies them."""
    return newest_values(db, tenant_id, session_id, SPEAKER_FIELD_PREFIXES)


def validate_value(field: str, value: Any, ai: dict[str, Any], scales: dict[str, int] | None = None) -> Any:
    """Check a human value against the field's type; raise ValidationFailure with what was expected.
    `scales`: rubric field → its scale's maximum (5 when not given)."""
    try:
        if field == "risk_level":
            return RiskLevel(value).value
        if field == "summary":
            text = TypeAdapter(str).validate_python(value).strip()
            if not text:
                raise ValueError("empty")
            return text
        if field == "action_items":
            return TypeAdapter(list[str]).validate_python(value)
        if field.startswith("rubric.") and field in ai:
            score = TypeAdapter(int).validate_python(value)
            if not 1 <= score <= (scales or {}).get(field, 5):
                raise ValueError("out of range")
            return score
        if field == "mi_quality" and field in ai:
            if value not in ("high", "low"):
                raise ValueError("high or low")
            return value
        if field.startswith("flag.") and field in ai:
            if value not in FLAG_DECISIONS:
                raise ValueError("not a decision")
            return value
        if field.startswith("redaction.") and field in ai:
            if value not in REDACTION_DECISIONS:
                raise ValueError("redacted or restored")
            return value
        if is_speaker_field(field) and field in ai:
            name = TypeAdapter(str).validate_python(value).strip()
            if not 1 <= len(name) <= 100:
                raise ValueError("a speaker name has 1 to 100 characters")
            return name
    except (ValueError, ValidationError) as exc:
        raise ValidationFailure(f"invalid value for {field!r}: {value!r}") from exc
    known = ", ".join(sorted(ai))
    raise ValidationFailure(f"unknown field {field!r}; reviewable fields: {known}")


def _review_out(store: ObjectStore, review: Review, email: str) -> ReviewOut:
    text = review_text(store, review)
    return ReviewOut(id=review.id, session_id=review.session_id, analysis_id=review.analysis_id,
                     field=review.field, ai_value=text.ai, human_value=text.human, reason=text.reason,
                     reviewer_email=email, created_at=review.created_at)


def create_review(store: ObjectStore, db: DbSession, principal: Principal, session_id: uuid.UUID, body: ReviewIn,
                  transcript: AgentTranscript | None = None, redactions: dict[str, Any] | None = None) -> ReviewOut:
    """Record one override, its text sealed (`store`'s keyring). `transcript` makes its speaker fields reviewable,
    `redactions` its redaction findings (field → the AI's value); a decision on a redaction is not a review of the
    session's risk, so it leaves the session's place in the review queue alone. While the session is in double
    review, its judged fields are answered on the reviewers' sheets instead (409)."""
    principal.require(Action.review)
    session = owned_session(db, principal, session_id)
    if session.purpose != "production":
        raise Conflict("a calibration copy is answered on its calibration sheet, not reviewed")
    if is_judged(body.field) and waiting(db, principal.tenant_id, session_id):
        raise Conflict(f"{body.field!r} is in double review: the two assigned reviewers answer it on their sheets, "
                       "and a lead or admin settles a disagreement")
    analysis = latest_analysis(db, principal, session_id)
    result, _ = full_result(store, analysis)
    ai = ai_values(result) | transcript_values(transcript) | (redactions or {})
    human = validate_value(body.field, body.value, ai, {f"rubric.{r.key}": r.scale_max for r in result.rubric})
    review = record_review(store, db, session, analysis, body.field, ai[body.field], human, body.reason.strip(),
                           reviewer_id=principal.user_id, actor=principal)
    db.commit()
    return _review_out(store, review, principal.email)


def record_review(store: ObjectStore, db: DbSession, session: Session, analysis: Analysis, field: str, ai: Any,
                  human: Any, reason: str, *, reviewer_id: uuid.UUID, actor: Principal | None,
                  kind: str = "override", action: str = "review.override") -> Review:
    """Add one canonical review of a checked value to `db`'s transaction, sealed and audited (the caller commits):
    the session's risk level follows a review of it, and any review but a redaction decision marks it reviewed."""
    review = Review(id=uuid.uuid4(), tenant_id=session.tenant_id, session_id=session.id, analysis_id=analysis.id,
                    field=field, reviewer_id=reviewer_id, kind=kind)
    seal_review(store, review, ReviewText(ai=ai, human=human, reason=reason))
    db.add(review)
    if not field.startswith("redaction.") and kind == "override":
        session.reviewed_at = session.reviewed_at or utcnow()
    if field == "risk_level":
        session.risk_level = human
        session.flagged = human != "none"
    audit.record(db, tenant_id=session.tenant_id, actor=actor, action=action, entity_type="session",
                 entity_id=session.id,
                 detail={"field": field, "review_id": str(review.id),  # text fields: digests only
                         "ai_value": review.ai_value["value"], "human_value": review.human_value["value"],
                         "reason": digest(reason), "analysis_version": analysis.analysis_version})
    return review


def analysis_view(store: ObjectStore, db: DbSession, principal: Principal, session_id: uuid.UUID) -> AnalysisOut:
    principal.require(Action.read_content)
    analysis = latest_analysis(db, principal, session_id)
    result, content_available = full_result(store, analysis)
    rows = db.execute(sa.select(Review, User.email).join(User, User.id == Review.reviewer_id)
                      .where(Review.session_id == session_id, Review.tenant_id == principal.tenant_id)
                      .order_by(Review.created_at)).all()
    overrides = {review.field: _review_out(store, review, email) for review, email in rows}
    effective = ai_values(result)
    effective.update({field: r.human_value for field, r in overrides.items()})
    return AnalysisOut(id=analysis.id, session_id=session_id, analysis_version=analysis.analysis_version,
                       prompt_version=analysis.prompt_version, model=analysis.model,
                       created_at=analysis.created_at, ai=result, effective=effective, overrides=overrides,
                       content_available=content_available)


def analysis_versions(db: DbSession, principal: Principal, session_id: uuid.UUID) -> list[AnalysisVersionOut]:
    """Every analysis of the caller's session, newest first: which model, prompt, rubric and sensitivity made it,
    what it found, what it cost. No text (it is in the store)."""
    principal.require(Action.read_content)
    owned_session(db, principal, session_id)
    rows = db.scalars(sa.select(Analysis).where(Analysis.session_id == session_id,
                                                 Analysis.tenant_id == principal.tenant_id)
                      .order_by(Analysis.analysis_version.desc())).all()
    return [AnalysisVersionOut(
        analysis_version=a.analysis_version, job_id=a.job_id, created_at=a.created_at, model=a.model,
        prompt_version=a.prompt_version, rubric_version=a.rubric_version, sensitivity=a.result.get("sensitivity"),
        risk_level=a.risk_level, risk_status=a.result.get("risk_status", "analysed"),
        categories=sorted({flag["category"] for flag in a.result.get("flags", [])}), inputs_key=a.inputs_key,
        tokens=a.tokens_in + a.tokens_out, cost_usd=a.cost_usd) for a in rows]
