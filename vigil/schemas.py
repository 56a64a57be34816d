"""Pydantic models at the boundaries: provider output, analysis output, HTTP payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Role(StrEnum):
    admin = "admin"
    supervisor = "supervisor"
    lead = "lead"
    uploader = "uploader"


class RiskCategory(StrEnum):
    suicidal_ideation = "suicidal_ideation"
    self_harm = "self_harm"
    harm_to_others = "harm_to_others"
    abuse_disclosure = "abuse_disclosure"
    substance_crisis = "substance_crisis"
    other = "other"


class RiskLevel(StrEnum):
    """Session-level risk. Ordered: none < low < medium < high."""

    none = "none"
    low = "low"
    medium = "medium"
    high = "high"

    @property
    def rank(self) -> int:
        return ["none", "low", "medium", "high"].index(self.value)


# ---------------------------------------------------------------- transcripts
class Word(BaseModel):
    text: str
    start: float
    end: float
    confidence: float | None = None
    speaker: str | None = None


class Segment(BaseModel):
    index: int
    start: float
    end: float
    text: str
    speaker: str | None = None
    confidence: float | None = None


class ProviderTranscript(BaseModel):
    """One provider's full output, kept as `transcript/raw.json`."""

    provider: str
    model: str
    language: str | None = None
    duration: float
    words: list[Word]
    segments: list[Segment]
    raw: dict[str, Any] = Field(default_factory=dict, description="Provider-specific extras.")


class ReconciledWord(Word):
    source: str = Field(description="Provider whose word won the vote.")
    votes: int = Field(description="Providers that had this word in its slot.")


class DisagreementRegion(BaseModel):
    start: float
    end: float
    candidates: dict[str, str] = Field(description="What each provider heard there ('' for nothing).")


class ReconciliationSummary(BaseModel):
    providers: list[str]
    agreement_rate: float = Field(description="Share of slots where every provider had the same word.")
    overall_confidence: float
    wins: dict[str, int] = Field(description="Slots each provider's word won where providers disagreed.")
    disagreements: list[DisagreementRegion]
    pairwise_wer: dict[str, float] = Field(description="'a|b' → WER of b against a as reference.")
    mean_confidence: dict[str, float | None]


class AgentTranscript(BaseModel):
    """Clean, agent-ready transcript (`transcript/agent.json`): what analysis and display use."""

    session_id: uuid.UUID
    provider: str = Field(description="The provider, or 'reconciled' when several were combined.")
    language: str | None
    duration: float
    text: str
    segments: list[Segment]
    metrics: TranscriptMetrics
    providers: list[str] = Field(default_factory=list, description="Providers whose output went in.")
    failed_providers: dict[str, str] = Field(default_factory=dict, description="Provider → why it failed.")
    reconciliation: ReconciliationSummary | None = None


class TranscriptMetrics(BaseModel):
    word_count: int
    duration_seconds: float
    speaking_rate_wpm: float
    mean_confidence: float | None
    low_confidence_share: float | None = Field(description="Share of words with confidence < 0.5.")


AgentTranscript.model_rebuild()


# ---------------------------------------------------------------- analysis
class Evidence(BaseModel):
    quote: str = Field(description="Verbatim text from the transcript.")
    segment_index: int
    start: float
    end: float


class RiskFlag(BaseModel):
    category: RiskCategory
    severity: RiskLevel
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(min_length=1)
    rationale: str = ""


class RubricScore(BaseModel):
    key: str
    label: str
    score: int = Field(ge=1, le=5)
    rationale: str


class AnalysisResult(BaseModel):
    """What an analyzer returns for one transcript."""

    risk_level: RiskLevel
    flags: list[RiskFlag]
    rubric: list[RubricScore]
    summary: str
    action_items: list[str]
    model: str
    prompt_version: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


# ---------------------------------------------------------------- HTTP
class MeOut(BaseModel):
    email: str
    role: Role
    tenant: str
    permissions: list[str]


class UploadAccepted(BaseModel):
    session_id: uuid.UUID
    job_id: uuid.UUID


class TranscriptionConfig(BaseModel):
    transcribers: list[str] | None = Field(description="Speech providers in order of preference; "
                                                       "null (in a PUT) → follow the deployment's TRANSCRIBERS.")
    source: str = Field("tenant", description="tenant | deployment")


class DirectUploadIn(BaseModel):
    filename: str = Field(min_length=1, max_length=500, description="Its extension names the container.")
    title: str | None = Field(None, max_length=500)


class DirectUploadOut(BaseModel):
    session_id: uuid.UUID
    upload_url: str = Field(description="PUT the file's bytes here, then POST /sessions/{id}/submit.")
    method: str
    expires_at: datetime


class JobAccepted(BaseModel):
    job_id: uuid.UUID
    status: str
    coalesced: bool = Field(description="True when an already active job was returned instead of a new one.")


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
    created_at: datetime
    analysis_ready_at: datetime | None
    reviewed_at: datetime | None
    job_id: uuid.UUID | None = None


class JobStatusOut(BaseModel):
    job_id: uuid.UUID
    session_id: uuid.UUID
    kind: str
    stage: str
    status: str = Field(description="queued | running | succeeded | failed (permanent error) | dead (gave up)")
    progress_percent: int
    attempt: int
    max_attempts: int
    error_code: str | None
    error_detail: str | None
    updated_at: datetime


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


class AuditOut(BaseModel):
    id: uuid.UUID
    action: str
    actor_email: str | None
    entity_type: str
    entity_id: str
    detail: dict[str, Any]
    created_at: datetime
