"""What every speech provider's answer must satisfy, and the transcripts built from them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

# What every provider's answer must satisfy; an answer that does not is the provider's parse error.
Seconds = Annotated[float, Field(ge=0)]
Confidence = Annotated[float, Field(ge=0, le=1)]


class Word(BaseModel):
    text: str
    start: Seconds
    end: Seconds
    confidence: Confidence | None = None
    speaker: str | None = None


class Segment(BaseModel):
    index: int
    start: Seconds
    end: Seconds
    text: str
    speaker: str | None = None
    confidence: Confidence | None = None
    inaudible: bool = Field(False, description="A marker, not words: speech was detected here and no decode heard "
                                               "any words in it. Its text says `[inaudible mm:ss–mm:ss]`.")


class Span(BaseModel):
    start: Seconds
    end: Seconds


class SpeechCoverage(BaseModel):
    """What voice activity detection found in the audio, and what it took to cover it with transcript segments."""

    speech: list[Span] = Field(description="Stretches of speech voice activity detection found.")
    redecoded: list[Span] = Field(default_factory=list, description="Stretches no segment covered after the first "
                                                                    "decode, decoded again on their own.")
    inaudible: list[Span] = Field(default_factory=list, description="Of those, the ones still without words, "
                                                                    "marked `[inaudible mm:ss–mm:ss]`.")


class ProviderTranscript(BaseModel):
    """One provider's full output, kept as `transcript/raw.json`."""

    provider: str
    model: str
    language: str | None = None
    duration: Seconds
    words: list[Word]
    segments: list[Segment]
    raw: dict[str, Any] = Field(default_factory=dict, description="Provider-specific extras.")
    coverage: SpeechCoverage | None = Field(None, description="Set by providers that check their segments against "
                                                              "voice activity detection (whisper).")


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


class SpeakerTurn(BaseModel):
    speaker: str
    start: Seconds
    end: Seconds


class Diarization(BaseModel):
    """Who spoke when, from the audio alone (`transcript/diarization.json`)."""

    model: str = Field(description="Embedding model and clustering, e.g. 'resemblyzer+agglomerative'.")
    speakers: int = Field(ge=0, description="Speakers found (estimated unless fixed by settings).")
    turns: list[SpeakerTurn]
    seconds: float = Field(0.0, description="Wall time the diarization took.")


SpeakersSource = Literal["provider", "diarization"]
RolesSource = Literal["diarization", "provider", "inference", "person"]
Role = Literal["counselor", "client"]


class SpeakerRoles(BaseModel):
    """Counselor or client for each speaker label, and where that came from: `source` says whose speaker labels
    were given roles (diarization's, a provider's), `inference` when there were none and each segment was read
    on its own, `person` when a supervisor named them; `basis` says how (the tenant's first-speaker setting,
    what each speaker says, a role word in the label)."""

    source: RolesSource
    basis: Literal["named", "first_speaker", "content", "per_segment"]
    by_speaker: dict[str, Role] = Field(default_factory=dict)
    ambiguous: bool = Field(False, description="What the speakers say barely told them apart: their turns are "
                                               "also read as if the roles were the other way round.")


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
    speakers_source: SpeakersSource | None = Field(
        None, description="Where the segments' speakers came from; None: no speakers.")
    diarization: DiarizationInfo | None = None
    roles: SpeakerRoles | None = Field(None, description="Set by the analyze stage, never stored with the transcript.")


class DiarizationInfo(BaseModel):
    model: str
    speakers: int
    seconds: float
    error: str | None = Field(None, description="Why diarization failed; the transcript then has no speakers.")


class TranscriptMetrics(BaseModel):
    word_count: int
    duration_seconds: float
    speaking_rate_wpm: float
    mean_confidence: float | None
    low_confidence_share: float | None = Field(description="Share of words with confidence < 0.5.")
    speech_detected_seconds: float | None = Field(None, description="Speech voice activity detection found.")
    speech_covered_seconds: float | None = Field(None, description="Of that, the part transcript segments with "
                                                                   "words cover.")
    redecoded_stretches: int | None = Field(None, description="Uncovered stretches decoded again on their own.")
    inaudible_stretches: int | None = Field(None, description="Stretches still without words, marked inaudible.")


AgentTranscript.model_rebuild()


class ReviewedTranscript(AgentTranscript):
    """The agent transcript as a reader sees it: the supervisors' speaker corrections and restored redactions
    applied (`GET /sessions/{id}/transcript`)."""

    speaker_overrides: dict[str, Any] = Field(description="Each corrected speaker field's newest value.")
    restored_redactions: list[int] = Field(description="The redaction findings a reviewer restored, by index.")
