"""From a provider's output to the agent-ready transcript: clean text, segments, metrics, speakers."""

from __future__ import annotations

import uuid

from vigil.schemas import AgentTranscript, ProviderTranscript, Segment, TranscriptMetrics

LOW_CONFIDENCE = 0.5
# With no diarization from the provider, a pause this long between segments is taken as a change
# of speaker (documented turn segmentation; a supervisor can relabel speakers).
TURN_GAP_SECONDS = 0.5


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


def label_turns(segments: list[Segment]) -> list[Segment]:
    """Keep provider speakers; otherwise alternate S1/S2 at pauses of TURN_GAP_SECONDS or more."""
    if all(s.speaker for s in segments):
        return segments
    labelled: list[Segment] = []
    speaker = "S1"
    previous_end: float | None = None
    for seg in segments:
        if previous_end is not None and seg.start - previous_end >= TURN_GAP_SECONDS:
            speaker = "S2" if speaker == "S1" else "S1"
        labelled.append(seg.model_copy(update={"speaker": seg.speaker or speaker}))
        previous_end = seg.end
    return labelled


def build_agent_transcript(session_id: uuid.UUID, transcript: ProviderTranscript) -> AgentTranscript:
    segments = label_turns(transcript.segments)
    return AgentTranscript(
        session_id=session_id,
        provider=transcript.provider,
        language=transcript.language,
        duration=transcript.duration,
        text="\n".join(f"{s.speaker}: {s.text}" for s in segments),
        segments=segments,
        metrics=transcript_metrics(transcript),
    )
