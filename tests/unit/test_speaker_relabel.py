"""A supervisor's speaker corrections: whole labels, then single segments."""

from __future__ import annotations

import uuid

from vigil.schemas.transcripts import AgentTranscript, Segment, TranscriptMetrics
from vigil.services.reviews import relabel_speakers, transcript_values


def transcript(speakers: list[str | None]) -> AgentTranscript:
    segments = [Segment(index=i, start=i, end=i + 0.9, text=f"line {i}", speaker=s) for i, s in enumerate(speakers)]
    return AgentTranscript(session_id=uuid.uuid4(), provider="p", language="en", duration=len(speakers), text="",
                           segments=segments, metrics=TranscriptMetrics(word_count=0, duration_seconds=0,
                                                                        speaking_rate_wpm=0, mean_confidence=None,
                                                                        low_confidence_share=None))


def test_renaming_a_label_renames_every_segment_that_has_it() -> None:
    fixed = relabel_speakers(transcript(["S1", "S2", "S1"]), {"speaker.S1": "counselor"})
    assert [s.speaker for s in fixed.segments] == ["counselor", "S2", "counselor"]
    assert fixed.text.splitlines()[0] == "counselor: line 0"


def test_a_single_segment_can_be_given_a_speaker_even_without_diarization() -> None:
    fixed = relabel_speakers(transcript([None, None]), {"segment.1.speaker": "client"})
    assert [s.speaker for s in fixed.segments] == [None, "client"]


def test_a_segment_correction_wins_over_a_label_rename() -> None:
    fixed = relabel_speakers(transcript(["S1", "S1"]), {"speaker.S1": "counselor", "segment.1.speaker": "client"})
    assert [s.speaker for s in fixed.segments] == ["counselor", "client"]


def test_reviewable_speaker_fields_follow_the_transcript() -> None:
    values = transcript_values(transcript(["S2", None]))
    assert values == {"speaker.S2": "S2", "segment.0.speaker": "S2", "segment.1.speaker": ""}
    assert transcript_values(None) == {}
