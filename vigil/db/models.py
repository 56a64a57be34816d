"""SQLAlchemy 2 tables. The database is the source of truth for sessions and work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: sa.JSON().with_variant(JSONB(), "postgresql")}


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


def _tenant() -> Mapped[uuid.UUID]:
    return mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


def _created() -> Mapped[datetime]:
    return mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    # Comma-separated speech providers for this tenant's sessions; NULL → the deployment's TRANSCRIBERS.
    transcribers: Mapped[str | None] = mapped_column(sa.String(200))
    # The prompt and rubric versions this tenant's analyses use (NULL → the analyzer's built-in ones).
    active_prompt_version: Mapped[str | None] = mapped_column(sa.String(100))
    active_rubric_version: Mapped[str | None] = mapped_column(sa.String(100))
    # Per-day model budget (UTC day); NULL → the deployment's default. Offline analysis costs nothing.
    daily_token_budget: Mapped[int | None] = mapped_column(sa.BigInteger)
    daily_cost_budget_usd: Mapped[float | None] = mapped_column(sa.Float)
    # Retention (days after upload; NULL → the deployment's default, which may be "keep"): raw media once its
    # audio is extracted, then audio and transcripts. Applied by the scheduled sweep in services/retention.py.
    retention_media_days: Mapped[int | None] = mapped_column(sa.Integer)
    retention_content_days: Mapped[int | None] = mapped_column(sa.Integer)
    # Names (clients, staff, places) this tenant wants redacted from transcripts, besides the built-in PII kinds.
    redaction_names: Mapped[list[str]] = mapped_column(ARRAY(sa.String(200)), default=list, server_default="{}")
    # The risk model's operating point (high: recall first, balanced) and a risk model fitted from this tenant's
    # reviews (a config version of kind risk_model); NULL → high and the shipped model.
    risk_sensitivity: Mapped[str | None] = mapped_column(sa.String(20))
    first_speaker: Mapped[str | None] = mapped_column(sa.String(20))  # counselor | client | None: from content
    active_risk_model_version: Mapped[str | None] = mapped_column(sa.String(100))
    # Alert rules (vigil.services.alerts): {"rules": [...], "escalate_after_minutes": n}; channel secrets sealed.
    alert_config: Mapped[dict[str, Any] | None] = mapped_column()
    # Double review (vigil.services.double_review): the share of sessions two supervisors judge, and whether every
    # high-risk one is among them.
    double_review_share: Mapped[float | None] = mapped_column(sa.Float)
    double_review_high_risk: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # Rare terms (programs, medications, places) the speech recognizers are told to expect (services/tenants.py).
    vocabulary: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list, server_default="{}")
    created_at: Mapped[datetime] = _created()


class User(Base):
    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "email"),
                      sa.UniqueConstraint("tenant_id", "oidc_issuer", "oidc_subject", name="uq_users_oidc_identity"))
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    email: Mapped[str] = mapped_column(sa.String(320))
    role: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = _created()
    # A counselor's link to the name sessions carry (Session.counselor, given at upload), set by an admin; a
    # counselor without one sees nothing.
    counselor_label: Mapped[str | None] = mapped_column(sa.String(200))
    # Someone who signs in through an OpenID Connect provider (vigil.services.idp_users): who they are there, the
    # issue time of the newest token of theirs seen (its groups decide the role), and since when those groups give
    # no role in this tenant (NULL: they do). A revoked user's API tokens stop working too.
    oidc_issuer: Mapped[str | None] = mapped_column(sa.String(500))
    oidc_subject: Mapped[str | None] = mapped_column(sa.String(255))
    idp_token_issued_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    access_revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class SignInMapping(Base):
    """How people of an OpenID Connect provider reach this tenant (vigil.services.sign_in_mappings): by the token's
    issuer and/or the domain of their verified email, with the role each of their provider groups gives (the first
    of Role's order wins) and the role of someone no group names (NULL: no access)."""

    __tablename__ = "sign_in_mappings"
    __table_args__ = (sa.Index("ix_sign_in_mappings_email_domains", "email_domains", postgresql_using="gin"),)
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    issuer: Mapped[str | None] = mapped_column(sa.String(500), index=True)
    email_domains: Mapped[list[str]] = mapped_column(ARRAY(sa.String(253)), default=list, server_default="{}")
    groups_claim: Mapped[str] = mapped_column(sa.String(100), default="groups", server_default="groups")
    group_roles: Mapped[dict[str, Any]] = mapped_column(default=dict)
    default_role: Mapped[str | None] = mapped_column(sa.String(20))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ApiToken(Base):
    """Only a SHA-256 of the token is stored; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = _created()
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Session(Base):
    """A recorded session. `status`: [awaiting_upload →] uploaded → processing → ready | failed."""

    __tablename__ = "sessions"
    __table_args__ = (sa.Index("ix_sessions_tenant_created", "tenant_id", "created_at"),
                      sa.Index("ix_sessions_tenant_counselor", "tenant_id", "counselor"))
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    title: Mapped[str | None] = mapped_column(sa.String(500))
    # Who held the session, for queue filters and trends by counselor or team (given at upload).
    counselor: Mapped[str | None] = mapped_column(sa.String(200))
    # production, or calibration: a copy of a gold session one chosen reviewer judges (vigil.services.calibration);
    # copies stay out of the queue (except their reviewer's), KPIs and facts.
    purpose: Mapped[str] = mapped_column(sa.String(20), default="production", server_default="production")
    calibration_of: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"))
    team: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default="uploaded")
    error: Mapped[str | None] = mapped_column(sa.Text)
    original_filename: Mapped[str | None] = mapped_column(sa.String(500))
    media_type: Mapped[str | None] = mapped_column(sa.String(20))
    media_ext: Mapped[str] = mapped_column(sa.String(10))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    duration_seconds: Mapped[float | None] = mapped_column(sa.Float)
    ai_risk_level: Mapped[str | None] = mapped_column(sa.String(10))
    risk_level: Mapped[str | None] = mapped_column(sa.String(10))
    flagged: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    analysis_ready_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Direct uploads: the session exists (status `awaiting_upload`) before its media; unsubmitted
    # ones are removed after this time.
    upload_expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), index=True)
    # Why a person must look regardless of the AI's verdict, e.g. "risk analysis failed — review manually".
    attention: Mapped[str | None] = mapped_column(sa.String(200))
    # The newest analysis's flag categories (the AI's), for filtering the queue without reading analyses.
    risk_categories: Mapped[list[str]] = mapped_column(ARRAY(sa.String(50)), default=list, server_default="{}")
    # Retention: when the original upload, and later the audio and transcripts, were deleted by policy.
    media_purged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    content_purged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Spans of personal data redacted from the transcript analysis and display use (NULL: not redacted yet).
    redaction_count: Mapped[int | None] = mapped_column(sa.Integer)


class Artifact(Base):
    """An object in the store, at a deterministic key under `{tenant_id}/{session_id}/`."""

    __tablename__ = "artifacts"
    __table_args__ = (sa.UniqueConstraint("session_id", "kind"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(100))
    key: Mapped[str] = mapped_column(sa.String(1000))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = _created()


class Job(Base):
    """Work for one session. It walks the pipeline stages; each stage is claimed, leased and
    retried on its own (`attempt` counts tries of the current stage)."""

    __tablename__ = "jobs"
    __table_args__ = (
        sa.Index("ix_jobs_claimable", "status", "not_before"),
        # At most one active job per session, enforced by the database, not by a lock in one process.
        sa.Index("uq_jobs_active_session", "session_id", unique=True,
                 postgresql_where=sa.text("status IN ('queued', 'running')")),
    )
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="pipeline")
    stage: Mapped[str] = mapped_column(sa.String(30))
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")
    attempt: Mapped[int] = mapped_column(sa.Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(sa.Integer, default=3)
    claim_token: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    lease_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    not_before: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    error_code: Mapped[str | None] = mapped_column(sa.String(100))
    error_detail: Mapped[str | None] = mapped_column(sa.Text)
    # The API request that created the job (X-Request-ID): its stages log under the same id.
    request_id: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class StageEvent(Base):
    """started / ready / failed per stage attempt: progress and latency analytics."""

    __tablename__ = "stage_events"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    job_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(30))
    event: Mapped[str] = mapped_column(sa.String(20))
    attempt: Mapped[int] = mapped_column(sa.Integer)
    duration_seconds: Mapped[float | None] = mapped_column(sa.Float)
    # Of duration_seconds (dispatch to done), the stage's own work: ffmpeg, the recognizers and diarization, the
    # analysis. The rest is the pipeline's overhead (scheduling, worker start, storage, database).
    work_seconds: Mapped[float | None] = mapped_column(sa.Float)
    detail: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = _created()


class Transcript(Base):
    """Metrics of one provider's transcript. Its text lives only in the object store (sealed at rest)."""

    __tablename__ = "transcripts"
    __table_args__ = (sa.UniqueConstraint("session_id", "provider"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(sa.String(50))
    model: Mapped[str] = mapped_column(sa.String(200))
    language: Mapped[str | None] = mapped_column(sa.String(20))
    word_count: Mapped[int] = mapped_column(sa.Integer)
    duration_seconds: Mapped[float] = mapped_column(sa.Float)
    mean_confidence: Mapped[float | None] = mapped_column(sa.Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()


class Analysis(Base):
    """One analysis run of a session; reprocessing adds a version, the old ones stay."""

    __tablename__ = "analyses"
    __table_args__ = (sa.UniqueConstraint("session_id", "analysis_version"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"), unique=True)
    analysis_version: Mapped[int] = mapped_column(sa.Integer)
    prompt_version: Mapped[str] = mapped_column(sa.String(100))
    model: Mapped[str] = mapped_column(sa.String(200))
    risk_level: Mapped[str] = mapped_column(sa.String(10))
    result: Mapped[dict[str, Any]] = mapped_column()
    tokens_in: Mapped[int] = mapped_column(sa.Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(sa.Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(sa.Float, default=0.0)
    latency_seconds: Mapped[float | None] = mapped_column(sa.Float)
    rubric_version: Mapped[str | None] = mapped_column(sa.String(100))
    # {item key: AI score}, a small copy of result.rubric for trend queries over every session.
    rubric_scores: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # sha256 of what the analysis was made from (vigil.services.analysis_inputs): equal keys, equal work.
    inputs_key: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = _created()


class Review(Base):
    """A supervisor's override of one AI field. The newest review of a field is canonical."""

    __tablename__ = "reviews"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    analysis_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("analyses.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(sa.String(100))
    ai_value: Mapped[dict[str, Any]] = mapped_column()
    human_value: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str] = mapped_column(sa.Text)  # "" once sealed: the reason is in `sealed`
    reviewer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    # override: a supervisor's own; double: what two reviewers agreed on; adjudication: a settled disagreement.
    kind: Mapped[str] = mapped_column(sa.String(20), default="override", server_default="override")
    # {"ai", "human", "reason"} sealed under the keyring (vigil.services.analysis_content); ai_value and human_value
    # then keep a digest for a text field (summary, action items), the value itself for the others.
    sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = _created()


class AuditEntry(Base):
    """Append-only record of who did what to which object. Each tenant's entries are numbered (`seq`) and
    hash-chained (`entry_hash`, an HMAC under the audit key `key_id` names, covers the entry and `prev_hash`;
    entries from before the key have no `key_id` and a plain SHA-256); a trigger refuses UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_entity", "tenant_id", "entity_type", "entity_id"),
                      sa.UniqueConstraint("tenant_id", "seq", name="uq_audit_log_tenant_seq"))
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    entry_hash: Mapped[str] = mapped_column(sa.String(64))
    key_id: Mapped[str | None] = mapped_column(sa.String(8))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(50))
    entity_type: Mapped[str] = mapped_column(sa.String(50))
    entity_id: Mapped[str] = mapped_column(sa.String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()


class AuditHead(Base):
    """The newest entry of a tenant's audit chain, so that removing entries from its end is detected too."""

    __tablename__ = "audit_heads"
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    entry_hash: Mapped[str] = mapped_column(sa.String(64))


class ConfigVersion(Base):
    """An analysis prompt or rubric, stored once per content: `version` is its content hash, and the row can
    never be changed (a database trigger refuses UPDATE). A tenant points at one active version of each kind."""

    __tablename__ = "config_versions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "kind", "version"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    kind: Mapped[str] = mapped_column(sa.String(20))  # prompt | rubric | risk_model
    version: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(200))
    content: Mapped[dict[str, Any]] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()


class ModelFailure(Base):
    """One failed model call during analysis, kept apart by kind ("invalid_output" vs "transport") so parse-error
    rates per model can be analysed."""

    __tablename__ = "model_failures"
    __table_args__ = (sa.Index("ix_model_failures_tenant_created", "tenant_id", "created_at"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    task: Mapped[str] = mapped_column(sa.String(30))
    model: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(30))
    detail: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = _created()


class ReplayRun(Base):
    """A candidate analyzer or prompt re-run against history or a labelled set, never touching production results."""

    __tablename__ = "replay_runs"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    candidate: Mapped[str] = mapped_column(sa.String(200))
    baseline: Mapped[str] = mapped_column(sa.String(200))
    source: Mapped[str] = mapped_column(sa.String(1000))
    session_count: Mapped[int] = mapped_column(sa.Integer)
    duration_seconds: Mapped[float] = mapped_column(sa.Float)
    metrics: Mapped[dict[str, Any]] = mapped_column()
    predictions: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = _created()


class RequestTiming(Base):
    """How long one API request took, by route template; written in batches, read by the Latency page."""

    __tablename__ = "request_timings"
    __table_args__ = (sa.Index("ix_request_timings_tenant_created", "tenant_id", "created_at"),)
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    # None when the caller was not signed in (health checks, refused tokens).
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(sa.String(10))
    route: Mapped[str] = mapped_column(sa.String(200))
    status_code: Mapped[int] = mapped_column(sa.Integer)
    duration_ms: Mapped[float] = mapped_column(sa.Float)
    created_at: Mapped[datetime] = _created()


class IdempotencyKey(Base):
    """A POST sent with an `Idempotency-Key`: what it asked (fingerprint) and, once answered, the answer (sealed),
    so the same key from the same caller gets the same answer for a day instead of doing the work twice."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "user_id", "key", name="uq_idempotency_keys_caller_key"),
                      sa.Index("ix_idempotency_keys_created_at", "created_at"))
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int | None] = mapped_column(sa.Integer)  # None while the first request is being answered
    content_type: Mapped[str | None] = mapped_column(sa.String(200))
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = _created()


class Alert(Base):
    """One delivery of one alert to one channel: written with the analysis that flagged (an outbox row), then
    delivered by the dispatcher's periodic task with retries; its id is the delivery id receivers deduplicate on."""

    __tablename__ = "alerts"
    __table_args__ = (sa.UniqueConstraint("analysis_id", "category", "rule_index", "channel_url",
                                          name="uq_alerts_analysis_category_rule_channel"),
                      sa.Index("ix_alerts_due", "status", "next_attempt_at"))
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    analysis_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(sa.String(50))
    severity: Mapped[str] = mapped_column(sa.String(10))
    channel_type: Mapped[str] = mapped_column(sa.String(10), default="webhook")  # webhook | email
    channel_url: Mapped[str] = mapped_column(sa.String(2000))  # the webhook's URL, or mailto:a@x,b@y
    channel_secret: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # sealed like review text
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    delivered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Which rule (by order) this delivery is for; an escalation is a later rule's delivery of an alert nobody
    # acknowledged in time. Acknowledging an alert marks every delivery of its analysis.
    rule_index: Mapped[int] = mapped_column(sa.Integer, default=0)
    escalation: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_via: Mapped[str | None] = mapped_column(sa.String(20))  # dashboard | link
    created_at: Mapped[datetime] = _created()


class Event(Base):
    """Something a live screen shows (vigil.services.events), written in the transaction that made it true. `xid`
    is the writer's transaction id: readers take rows below the oldest running transaction, in xid order."""

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_tenant_xid", "tenant_id", "xid"),)
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    xid: Mapped[int] = mapped_column(sa.BigInteger, server_default=sa.text("(pg_current_xact_id()::text)::bigint"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    session_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)


class ReviewAssignment(Base):
    """One reviewer's place in a double review of a session (slot 1 or 2) and their answer sheet, blind to the
    other slot until both are submitted (vigil.services.double_review). The note is sealed like review text."""

    __tablename__ = "review_assignments"
    __table_args__ = (sa.UniqueConstraint("session_id", "purpose", "slot", name="uq_review_assignments_slot"),
                      sa.UniqueConstraint("session_id", "purpose", "reviewer_id",
                                          name="uq_review_assignments_reviewer"),
                      sa.Index("ix_review_assignments_reviewer_status", "reviewer_id", "status"))
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(sa.Integer)
    purpose: Mapped[str] = mapped_column(sa.String(20))  # double
    status: Mapped[str] = mapped_column(sa.String(20))  # open | submitted
    answers: Mapped[dict[str, Any] | None] = mapped_column()  # field → value; no free text
    ai_answers: Mapped[dict[str, Any]] = mapped_column()  # the AI's answers the sheet started from
    round_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("calibration_rounds.id", ondelete="CASCADE"),
                                                       index=True)  # calibration sheets only
    note_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = _created()
    submitted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class ReviewAcknowledgement(Base):
    """A counselor saw the review of a session they held. Once per counselor and session; the first stands."""

    __tablename__ = "review_acknowledgements"
    __table_args__ = (sa.UniqueConstraint("session_id", "user_id", name="uq_review_acknowledgements_session_user"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    acknowledged_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Dispute(Base):
    """A counselor disputes one reviewed field of a session they held; the supervisor who reviewed it upholds the
    value or changes it (a new review), with a reason. At most one open dispute per session and field. The note,
    the disputed value and the resolution's reason are sealed in `sealed` like a review's text."""

    __tablename__ = "disputes"
    __table_args__ = (sa.Index("uq_disputes_open_field", "session_id", "field", unique=True,
                               postgresql_where=sa.text("status = 'open'")),
                      sa.Index("ix_disputes_tenant_assignee_status", "tenant_id", "assignee_id", "status"))
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(sa.String(100))
    # The value disputed, as a review's clear columns keep it: a digest for a text field, else the value.
    disputed_value: Mapped[dict[str, Any]] = mapped_column()
    opened_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # The supervisor whose queue it is in: who made the field's canonical review, else who reviewed the session.
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(20), default="open")  # open | upheld | changed
    # {"note", "value", "reason", "resolved_value"} sealed under the keyring (vigil.services.disputes).
    sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    review_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("reviews.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()


class GoldStandard(Base):
    """The consensus answer of a reviewed session, marked by a lead: what calibration sheets are scored against.
    Calibration never changes it. The note is sealed like review text."""

    __tablename__ = "gold_standards"
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = _tenant()
    answers: Mapped[dict[str, Any]] = mapped_column()  # field → value, in the answer sheets' words
    note_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()


class CalibrationRound(Base):
    """Gold sessions sent to chosen reviewers, each as a copy of their own to judge (vigil.services.calibration)."""

    __tablename__ = "calibration_rounds"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    name: Mapped[str] = mapped_column(sa.String(200))
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
