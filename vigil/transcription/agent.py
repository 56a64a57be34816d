"""From a provider's output to the agent-ready transcript: clean text, segments, metrics."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from vigil.schemas.transcripts import (
    AgentTranscript,
    ProviderTranscript,
    ReconciliationSummary,
    Segment,
    TranscriptMetrics,
)
from vigil.transcription.coverage import covered_seconds

LOW_CONFIDENCE = 0.5


def transcript_metrics(transcript: ProviderTranscript) -> TranscriptMetrics:
    words = transcript.words
    confidences = [w.confidence for w in words if w.confidence is not None]
    minutes = transcript.duration / 60 if transcript.duration else 0.0
    word_count = len(words) if words else sum(len(s.text.split()) for s in spoken_segments(transcript.segments))
    coverage = transcript.coverage
    return TranscriptMetrics(
        word_count=word_count,
        duration_seconds=transcript.duration,
        speaking_rate_wpm=round(word_count / minutes, 1) if minutes else 0.0,
        mean_confidence=round(sum(confidences) / len(confidences), 4) if confidences else None,
        low_confidence_share=(
            round(sum(c < LOW_CONFIDENCE for c in confidences) / len(confidences), 4) if confidences else None
        ),
        speech_detected_seconds=round(sum(s.end - s.start for s in coverage.speech), 3) if coverage else None,
        speech_covered_seconds=covered_seconds(coverage.speech, transcript.segments) if coverage else None,
        redecoded_stretches=len(coverage.redecoded) if coverage else None,
        inaudible_stretches=sum(s.inaudible for s in transcript.segments) if coverage else None,
    )


def spoken_segments(segments: Sequence[Segment]) -> list[Segment]:
    """The segments with words: inaudible markers are left out (they keep their index, so evidence that points at a
    segment still points at the one shown)."""
    return [s for s in segments if not s.inaudible]


def spoken_transcript(transcript: AgentTranscript) -> AgentTranscript:
    """What analysis reads: the transcript without its inaudible markers, which are for the supervisor's eyes."""
    if not any(s.inaudible for s in transcript.segments):
        return transcript
    segments = spoken_segments(transcript.segments)
    return transcript.model_copy(update={"segments": segments, "text": transcript_text(segments)})


def transcript_text(segments: Sequence[Segment]) -> str:
    """A transcript's text: one line per segment, led by its speaker when known."""
    return "\n".join(f"{s.speaker}: {s.text}" if s.speaker else s.text for s in segments)


def build_agent_transcript(session_id: uuid.UUID, transcript: ProviderTranscript, *,
                           providers: list[str] | None = None, failed_providers: dict[str, str] | None = None,
                           reconciliation: ReconciliationSummary | None = None) -> AgentTranscript:
    """Turns are the provider's segments. Speakers are the provider's diarization labels when it gives
    them; otherwise they stay unknown (None) rather than guessed from pauses, which we measured to be
    wrong too often (pauses inside a turn are as long as those between turns). The analyzer infers a
    role per segment from its content and marks that role as inferred."""
    segments = transcript.segments
    return AgentTranscript(
        session_id=session_id,
        provider=transcript.provider,
        language=transcript.language,
        duration=transcript.duration,
        text=transcript_text(segments),
        segments=segments,
        metrics=transcript_metrics(transcript),
        providers=providers or [transcript.provider],
        failed_providers=failed_providers or {},
        reconciliation=reconciliation,
    )
