"""HTTP payloads: what the API takes and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from vigil.schemas.analysis import AnalysisResult, Sensitivity
from vigil.schemas.enums import Role


class RiskSettingsIn(BaseModel):
    sensitivity: Sensitivity | None = Field(description="high: recall first, the default; balanced: fewer false flags "
                                                        "at some cost in recall; null: back to the default.")


class RiskSettingsOut(BaseModel):
    sensitivity: Sensitivity
    source: Literal["tenant", "default"]
    model_version: str | None = Field(description="The active risk model fitted from this tenant's reviews "
                                                  "(a config version of kind risk_model); null: the shipped model.")


class SpeakerSettings(BaseModel):
    first_speaker: Literal["counselor", "client"] | None = Field(
        description="Who speaks first in this tenant's sessions: its speaker takes that role; null: roles are "
                    "read from what each speaker says.")


class ConfigVersionIn(BaseModel):
    kind: Literal["prompt", "rubric", "risk_model"]
    name: str = Field(min_length=1, max_length=200)
    content: dict[str, Any] = Field(description="A RubricDefinition (kind rubric), a PromptSet (kind prompt) or a "
                                                "fitted sentence risk model (kind risk_model; made by "
                                                "`vigil fit --from-reviews`).")
    activate: bool = Field(False, description="Make it the tenant's active version of its kind at once.")


class ConfigVersionOut(BaseModel):
    kind: str
    version: str = Field(description="Content hash: the same content always has the same version.")
    name: str
    content: dict[str, Any]
    active: bool
    created_at: datetime


class SessionReviewFacts(BaseModel):
    """One session as the KPI and trend pages need it."""

    id: uuid.UUID
    created_at: datetime
    status: str
    flagged: bool
    ai_risk_level: str | None
    risk_level: str | None
    attention: str | None
    analysis_ready_at: datetime | None
    reviewed_at: datetime | None
    reviewLatencyMinutes: float | None = Field(description="Minutes from the analysis being ready to the first review.")
    reviewed_fields: list[str] = Field(description="Fields a supervisor reviewed.")
    overridden_fields: list[str] = Field(description="Reviewed fields whose human value differs from the AI's.")
    counselor: str | None = None
    team: str | None = None
    risk_categories: list[str] = Field(default_factory=list)
    time_to_ready_seconds: float | None = Field(None, description="Upload to analysis ready.")
    model: str | None = Field(None, description="The newest analysis's model.")
    tokens: int | None = None
    cost_usd: float | None = None
    rubric: dict[str, float] = Field(default_factory=dict, description="The AI's rubric scores by item key.")
    providers: list[str] = Field(default_factory=list)
    transcription_confidence: float | None = Field(None, description="Mean word confidence of the shown transcript.")
    provider_agreement: float | None = Field(None, description="Share of words all providers agreed on (several "
                                                               "providers only).")


class StageTimingOut(BaseModel):
    stage: str
    event: str = Field(description="ready | failed")
    attempt: int
    duration_seconds: float
    created_at: datetime
    session_id: uuid.UUID


class RequestTimingOut(BaseModel):
    method: str
    route: str = Field(description="The route template, e.g. /api/v1/sessions/{session_id}.")
    status_code: int
    duration_ms: float
    created_at: datetime


class ReplayRunOut(BaseModel):
    id: uuid.UUID
    candidate: str
    baseline: str
    source: str
    session_count: int
    duration_seconds: float
    metrics: dict[str, Any] = Field(description="candidate and baseline side by side: risk P/R/F1 per category, "
                                                "mi_quality accuracy/kappa, turns accuracy/kappa/macro_f1, rubric.")
    created_at: datetime


class ReplayRunDetail(ReplayRunOut):
    predictions: dict[str, Any] = Field(description="{'candidate': [...], 'baseline': [...]}, one per session.")


class BudgetIn(BaseModel):
    daily_token_budget: int | None = Field(None, ge=0, description="Tokens per UTC day; null → deployment default.")
    daily_cost_budget_usd: float | None = Field(None, ge=0, description="USD per UTC day; null → deployment default.")


class UsageOut(BaseModel):
    day: str
    tokens: int
    cost_usd: float
    daily_token_budget: int | None
    daily_cost_budget_usd: float | None
    share_used: float | None = Field(description="The larger of tokens/budget and cost/budget; null if unlimited.")
    state: Literal["ok", "alert", "over_budget", "unlimited"]


class ExportIn(BaseModel):
    table: str = Field(min_length=1, max_length=100, description="Which table, e.g. review-facts.")
    rows: int = Field(ge=0)
    format: Literal["csv", "parquet"]


class MeOut(BaseModel):
    email: str
    role: Role
    tenant: str
    tenant_id: uuid.UUID
    permissions: list[str]


class UploadAccepted(BaseModel):
    session_id: uuid.UUID
    job_id: uuid.UUID


class TranscriptionConfig(BaseModel):
    transcribers: list[str] | None = Field(description="Speech providers in order of preference; "
                                                       "null (in a PUT) → follow the deployment's TRANSCRIBERS.")
    source: str = Field("tenant", description="tenant | deployment")


class VocabularySettings(BaseModel):
    terms: list[str] = Field(default_factory=list, max_length=1000,
                             description="Names of programs, medications and places this tenant's sessions mention, "
                                         "each 1–100 characters and at most 6 words: Whisper gets them as hotwords, "
                                         "AssemblyAI as word boost, Google as speech adaptation phrases.")


class RedactionSettings(BaseModel):
    names: list[str] = Field(default_factory=list, max_length=5000,
                             description="Names (clients, staff, places) redacted wherever they are said, besides "
                                         "emails, phone, national ID and card numbers, and addresses.")


class RedactionOut(BaseModel):
    """One redacted span of a transcript. Never the hidden text: a fingerprint tells equal ones apart."""

    index: int
    field: str = Field(description="Review field for this finding: POST a review with value redacted | restored.")
    segment: int
    kind: str
    detail: str
    placeholder: str
    fingerprint: str
    decision: str = Field(description="redacted (as detected, or confirmed) | restored (a false positive)")
    reviewed: bool
    original: str | None = Field(None, description="The hidden words, only with ?reveal=true (reviewers; audited).")


class RetentionPolicy(BaseModel):
    media_days: int | None = Field(None, ge=1, le=36_500, description="Days after upload the original media is "
                                   "kept once its audio is extracted; null → follow the deployment (or keep).")
    content_days: int | None = Field(None, ge=1, le=36_500, description="Days after upload the audio and "
                                     "transcripts are kept (sessions awaiting review are held until reviewed).")
    source: str = Field("tenant", description="tenant | deployment")


class DirectUploadIn(BaseModel):
    filename: str = Field(min_length=1, max_length=500, description="Its extension names the container.")
    title: str | None = Field(None, max_length=500)
    counselor: str | None = Field(None, max_length=200, description="Who held the session.")
    team: str | None = Field(None, max_length=200)


class DirectUploadOut(BaseModel):
    session_id: uuid.UUID
    upload_url: str = Field(description="PUT the file's bytes here, then POST /sessions/{id}/submit.")
    method: str
    expires_at: datetime
    upload_headers: dict[str, str] = Field(default_factory=dict, description="Headers the PUT must send (S3: the "
                                           "server-side encryption the URL was signed with).")


class JobAccepted(BaseModel):
    job_id: uuid.UUID
    status: str
    coalesced: bool = Field(description="True when an existing job was returned instead of a new one: the "
                                        "session's active job, or the job of an analysis with the same inputs.")
    same_inputs_as_version: int | None = Field(None, description="Set when the answer is the job of this analysis "
                                               "version, made from the inputs a new run would use (transcript, "
                                               "analyzer, prompt, rubric, risk model, sensitivity); `force=true` "
                                               "runs again anyway.")


class SessionOut(BaseModel):
    id: uuid.UUID
    title: str | None
    status: str
    error: str | None
    original_filename: str | None
    media_type: str | None
    size_bytes: int
    duration_seconds: float | None
    ai_risk_level: str | None
    risk_level: str | None
    flagged: bool
    reviewed: bool
    attention: str | None = Field(None, description="Why a person must look regardless of the AI verdict, e.g. "
                                                    "'risk analysis failed — review manually'.")
    counselor: str | None = None
    team: str | None = None
    risk_categories: list[str] = Field(default_factory=list, description="The AI's flag categories.")
    providers: list[str] = Field(default_factory=list, description="Speech providers that transcribed it.")
    load_test_transcript: bool = Field(False, description="Transcribed by the `standin` provider (load tests only), "
                                       "which returns the same words for every recording: not this recording's "
                                       "words, so its analysis means nothing.")
    created_at: datetime
    analysis_ready_at: datetime | None
    reviewed_at: datetime | None
    job_id: uuid.UUID | None = None
    media_purged_at: datetime | None = Field(None, description="When retention deleted the original upload.")
    content_purged_at: datetime | None = Field(None, description="When retention deleted audio and transcripts.")
    redaction_count: int | None = Field(None, description="Spans of personal data redacted from the transcript.")
    double_review: str | None = Field(None, description="For the caller: your review | second review | waiting for "
                                      "the other reviewer | double review | disagreement | calibration; None "
                                      "outside one.")
    purpose: str = Field("production", description="production, or calibration (a copy of a gold session sent to "
                         "one reviewer; answered on GET/PUT /sessions/{id}/calibration)")


class SessionSummaryOut(BaseModel):
    """Counts under the queue's filters, and the values each filter can take."""

    total: int
    awaiting_review: int = Field(description="Flagged and not yet reviewed.")
    processing: int
    analysis_failed: int = Field(description="Processing failed, or a task failed (e.g. risk unknown).")
    ready: int
    oldest_awaiting_ready_at: datetime | None
    counselors: list[str]
    teams: list[str]
    providers: list[str]
    categories: list[str]


class JobStatusOut(BaseModel):
    job_id: uuid.UUID
    session_id: uuid.UUID
    kind: str
    stage: str
    status: str = Field(description="queued | waiting (held back, e.g. over the model budget; see error_code) | "
                                    "running | succeeded | failed (permanent error) | dead (gave up)")
    progress_percent: int
    attempt: int
    max_attempts: int
    error_code: str | None
    error_detail: str | None
    updated_at: datetime
    created_at: datetime | None = None
    request_id: str | None = Field(None, description="The API request that created the job (X-Request-ID); "
                                                     "its stages' log lines carry it.")


class JobCountOut(BaseModel):
    status: str
    stage: str
    jobs: int


class ReviewIn(BaseModel):
    field: str = Field(description="risk_level | summary | action_items | rubric.<key> | flag.<category> | "
                                   "speaker.<label> | segment.<index>.speaker")
    value: Any
    reason: str = Field(min_length=3, max_length=4000)


class ReviewOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    analysis_id: uuid.UUID
    field: str
    ai_value: Any
    human_value: Any
    reason: str
    reviewer_email: str
    created_at: datetime


class AnalysisVersionOut(BaseModel):
    """One analysis of a session: what made it and what it found, without its text."""

    analysis_version: int
    job_id: uuid.UUID | None
    created_at: datetime
    model: str
    prompt_version: str
    rubric_version: str | None
    sensitivity: str | None = Field(description="The risk model's operating point it used.")
    risk_level: str
    risk_status: str = Field(description="analysed | failed (the risk task failed: review by hand).")
    categories: list[str]
    inputs_key: str | None = Field(description="Hash of its inputs (transcript, analyzer, prompt, rubric, risk "
                                               "model, sensitivity): equal keys, equal work; null before they "
                                               "were recorded.")
    tokens: int
    cost_usd: float


class AnalysisOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    analysis_version: int
    prompt_version: str
    model: str
    created_at: datetime
    ai: AnalysisResult
    effective: dict[str, Any] = Field(description="AI values with the latest human override applied.")
    overrides: dict[str, ReviewOut] = Field(description="Latest review per field.")
    content_available: bool = Field(True, description="False when the object store has lost the analysis's text "
                                    "(summary, quotes, rationales): `ai` then holds only levels, flags and scores.")


class CustodyEvent(BaseModel):
    at: datetime
    kind: str = Field(description="audit | stage | analysis | alert")
    what: str = Field(description="e.g. session.upload, transcribe ready, analysis v2")
    actor_email: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class CustodyOut(BaseModel):
    """Everything that happened to one session, in time order: who uploaded it, each pipeline stage attempt, each
    analysis (model, prompt and rubric version), each review and reprocess (audit entries, with their place in the
    tenant's hash chain so they can be checked against `vigil audit verify`)."""

    session_id: uuid.UUID
    events: list[CustodyEvent]


class AuditOut(BaseModel):
    id: uuid.UUID
    action: str
    actor_email: str | None
    entity_type: str
    entity_id: str
    detail: dict[str, Any]
    created_at: datetime


EMAIL = r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$"


class AlertChannel(BaseModel):
    type: Literal["webhook", "email"] = Field(description="webhook (a Slack or Teams incoming webhook works) or "
                                                          "email (through the deployment's SMTP_URL).")
    url: str | None = Field(None, pattern=r"^https?://", max_length=2000, description="The webhook's URL.")
    secret: str | None = Field(None, min_length=16, max_length=200, description="Signs each webhook delivery "
                               "(X-Vigil-Signature). Write-only: never returned; omit it to keep the stored one.")
    has_secret: bool = Field(False, description="Whether a secret is stored (read only).")
    to: list[Annotated[str, StringConstraints(pattern=EMAIL, max_length=254)]] | None = Field(
        None, min_length=1, max_length=20, description="The email channel's recipients.")

    @model_validator(mode="after")
    def _one_target(self) -> AlertChannel:
        if self.type == "webhook" and (not self.url or self.to):
            raise ValueError("a webhook channel has a url and no `to`")
        if self.type == "email" and (not self.to or self.url or self.secret):
            raise ValueError("an email channel has `to` (its recipients) and no url or secret")
        return self


class AlertRule(BaseModel):
    categories: list[str] = Field(min_length=1, description="Risk categories that alert; `unknown` (the risk "
                                  "analysis failed) always alerts.")
    min_severity: Literal["low", "medium", "high"] = "medium"
    channels: list[AlertChannel] = Field(min_length=1, max_length=10)


class AlertConfig(BaseModel):
    """A tenant's alert rules, in order. Without `escalate_after_minutes` every rule that matches a flag alerts at
    once. With it, the first matching rule alerts, and if nobody acknowledges within that many minutes the next
    matching rule's channels get it, marked as an escalation (and so on down the list)."""

    model_config = ConfigDict(extra="forbid")
    rules: list[AlertRule] = Field(default_factory=list, max_length=20)
    escalate_after_minutes: int | None = Field(None, ge=1, le=1440)


class AlertOut(BaseModel):
    id: uuid.UUID = Field(description="The delivery id (X-Vigil-Delivery), the same across retries.")
    session_id: uuid.UUID
    analysis_id: uuid.UUID
    category: str
    severity: str
    channel: str = Field(description="`webhook <host>` or `email <n> recipient(s)`; never a secret or full URL.")
    status: str = Field(description="pending | delivered | dead | cancelled (an escalation acknowledged first)")
    attempts: int
    last_error: str | None
    rule_index: int
    escalation: bool
    created_at: datetime
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None = Field(None, description="The acknowledging user's email; None for a link.")
    acknowledged_via: str | None = Field(None, description="dashboard | link")


class DoubleReviewSettings(BaseModel):
    """Which sessions two supervisors judge, blind to each other: a share of all (a stable draw from the session's
    id) and, if `high_risk`, every session the AI rated high or could not rate. 0 and false: single review."""

    model_config = ConfigDict(extra="forbid")
    share: float = Field(0.0, ge=0.0, le=1.0)
    high_risk: bool = False


class AssignmentOut(BaseModel):
    slot: int = Field(description="1: first reviewer, 2: second reviewer")
    reviewer_email: str | None
    status: str = Field(description="open | submitted")
    submitted_at: datetime | None


class ReviewerSheetOut(AssignmentOut):
    answers: dict[str, Any] = Field(description="field → value, e.g. risk_level, flag.self_harm (confirmed | "
                                                "dismissed), rubric.<key>, mi_quality")
    note: str | None = None


class DisagreementOut(BaseModel):
    field: str
    values: dict[str, Any] = Field(description="slot → that reviewer's answer")
    adjudicated: Any = Field(None, description="The value a lead or admin settled it at, once they have.")


class DoubleReviewOut(BaseModel):
    session_id: uuid.UUID
    status: str = Field(description="none | open | disagreement | settled")
    fields: dict[str, Any] = Field(default_factory=dict, description="The judged fields and the AI's answer to "
                                   "each (None: the AI gave none, e.g. its risk task failed)")
    reviewers: list[AssignmentOut] = Field(default_factory=list)
    mine: ReviewerSheetOut | None = Field(None, description="The caller's own sheet, if they are a reviewer.")
    sheets: list[ReviewerSheetOut] = Field(default_factory=list, description="Both sheets, once both are in; "
                                           "empty before (the review is blind).")
    disagreements: list[DisagreementOut] = Field(default_factory=list)


class DoubleReviewAnswersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Any] = Field(default_factory=dict, max_length=200)
    note: str | None = Field(None, max_length=5000, description="Kept sealed; shown to the other reviewer and "
                             "leads once both are in.")
    submit: bool = Field(False, description="Close the sheet: every field answered, no more changes.")


class AdjudicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str = Field(max_length=100)
    value: Any
    reason: str = Field(min_length=1, max_length=5000)


class AgreementFieldOut(BaseModel):
    field: str
    kind: str = Field(description="nominal (Cohen's kappa) | ordinal (Krippendorff's alpha)")
    sessions: int = Field(description="Double-reviewed sessions where both reviewers answered the field.")
    percent_agreement: float | None
    statistic: str = Field(description="cohen_kappa | krippendorff_alpha")
    value: float | None = Field(description="None where undefined (e.g. every answer the same).")
    ci_low: float | None = Field(description="95 % bootstrap interval over sessions.")
    ci_high: float | None
    ai_pairs: int = Field(description="Reviewer answers compared with the AI's on the same sessions (two a session).")
    ai_percent_agreement: float | None
    ai_value: float | None
    ai_ci_low: float | None
    ai_ci_high: float | None


class AgreementMatrixOut(BaseModel):
    field: str
    reviewers: list[str] = Field(description="Reviewer emails, the matrix's rows and columns in this order.")
    percent: list[list[float | None]] = Field(description="Percent agreement of each two reviewers on the "
                                              "sessions both judged; None where they share none.")
    sessions: list[list[int]]


class AgreementWeekOut(BaseModel):
    week: str = Field(description="ISO week of the second submission, e.g. 2026-W49")
    sessions: int
    percent_agreement: float | None
    statistic: str
    value: float | None


class AgreementOut(BaseModel):
    since: datetime | None
    sessions: int = Field(description="Double reviews with both sheets in, in the window.")
    fields: list[AgreementFieldOut]
    matrix: AgreementMatrixOut = Field(description="For `field` (default risk_level).")
    trend: list[AgreementWeekOut] = Field(description="For `field` (default risk_level), by week.")


class GoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=5000, description="Why this is the answer; kept sealed.")


class GoldOut(BaseModel):
    session_id: uuid.UUID
    answers: dict[str, Any] = Field(description="The session's canonical judged values, in the sheets' words.")
    note: str | None
    created_at: datetime


class CalibrationRoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    session_ids: list[uuid.UUID] = Field(min_length=1, max_length=50, description="Gold sessions.")
    reviewer_emails: list[str] = Field(min_length=1, max_length=50)


class CalibrationCellOut(BaseModel):
    reviewer_email: str
    gold_session_id: uuid.UUID
    field: str
    answer: Any
    gold: Any
    match: bool
    distance: float | None = Field(description="Steps from gold for an ordinal field (risk level, rubric).")


class CalibrationReviewerOut(BaseModel):
    reviewer_email: str
    sheets: int
    submitted: int
    fields: int = Field(description="Field answers scored (submitted sheets only).")
    accuracy: float | None = Field(description="Share of those equal to gold.")


class CalibrationFieldOut(BaseModel):
    field: str
    answers: int
    accuracy: float
    mean_distance: float | None


class CalibrationRoundOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    gold_session_ids: list[uuid.UUID]
    reviewers: list[CalibrationReviewerOut]
    fields: list[CalibrationFieldOut]
    cells: list[CalibrationCellOut]
