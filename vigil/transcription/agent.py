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

LOW_CONFIDENCE = 0.5


def transcript_metrics(transcript: ProviderTranscript) -> TranscriptMetrics:
    words = transcript.words
    confidences = [w.confidence for w in words if w.confidence is not None]
    minutes = transcript.duration / 60 if transcript.duration else 0.0
    word_count = len(words) if words else sum(len(s.text.split()) for s in transcript.segments)
    return TranscriptMetrics(
        word_count=word_count,
        duration_seconds=transcript.duration,
        speaking_rate_wpm=round(word_count / minutes, 1) if minutes else 0.0,
        mean_confidence=round(sum(confidences) / len(confidences), 4) if confidences else None,
        low_confidence_share=(
            round(sum(c < LOW_CONFIDENCE for c in confidences) / len(confidences), 4) if confidences else None
        ),
    )


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
