"""Coverage of detected speech by segments, and how an inaudible marker travels downstream (ROVER, stitching,
redaction, what analysis reads). The real model and real speech are in tests/integration/test_whisper_coverage.py."""

from __future__ import annotations

import uuid

from vigil.schemas.transcripts import ProviderTranscript, Segment, Span, SpeechCoverage, Word
from vigil.services.redaction import redact_transcript
from vigil.transcription.agent import build_agent_transcript, spoken_transcript, transcript_metrics
from vigil.transcription.chunking import Chunk, stitch
from vigil.transcription.coverage import covered_seconds, inaudible_marker, uncovered_stretches
from vigil.transcription.reconcile import reconcile_transcripts

SPEECH = [Span(start=0.0, end=30.0)]


def _segment(start: float, end: float, text: str = "words here") -> Segment:
    return Segment(index=0, start=start, end=end, text=text)


def _transcript(provider: str, words: list[tuple[str, float, float]], segments: list[Segment],
                coverage: SpeechCoverage | None = None) -> ProviderTranscript:
    return ProviderTranscript(provider=provider, model="m", duration=30.0, segments=segments, coverage=coverage,
                              words=[Word(text=t, start=s, end=e, confidence=0.9) for t, s, e in words])


def test_a_stretch_no_segment_covers_is_found_with_its_times() -> None:
    assert uncovered_stretches(SPEECH, [_segment(0.0, 10.0), _segment(20.0, 30.0)], min_seconds=1.0) == [
        Span(start=10.5, end=19.5)]


def test_gaps_shorter_than_the_minimum_are_timing_slack_not_dropped_speech() -> None:
    assert uncovered_stretches(SPEECH, [_segment(0.0, 14.0), _segment(15.8, 30.0)], min_seconds=1.0) == []


def test_a_marker_covers_nothing() -> None:
    marker = inaudible_marker(Span(start=10.0, end=20.0))
    segments = [_segment(0.0, 10.0), marker, _segment(20.0, 30.0)]

    assert uncovered_stretches(SPEECH, segments, min_seconds=1.0) == [Span(start=10.5, end=19.5)]
    assert covered_seconds(SPEECH, segments) == 21.0


def test_the_marker_reads_minutes_and_seconds_and_has_no_speaker() -> None:
    marker = inaudible_marker(Span(start=72.4, end=79.9))

    assert (marker.text, marker.inaudible, marker.speaker) == ("[inaudible 01:12–01:19]", True, None)


def test_metrics_report_speech_detected_covered_redecoded_and_inaudible() -> None:
    marker = inaudible_marker(Span(start=10.0, end=20.0))
    transcript = _transcript("whisper", [("hello", 1.0, 1.5)], [_segment(0.0, 10.0), marker, _segment(20.0, 30.0)],
                             SpeechCoverage(speech=SPEECH, redecoded=[Span(start=10.0, end=20.0)],
                                            inaudible=[Span(start=10.0, end=20.0)]))

    metrics = transcript_metrics(transcript)

    assert (metrics.speech_detected_seconds, metrics.speech_covered_seconds) == (30.0, 21.0)
    assert (metrics.redecoded_stretches, metrics.inaudible_stretches) == (1, 1)


def test_rover_keeps_a_marker_where_no_provider_heard_words_and_drops_it_where_one_did() -> None:
    silent_here = inaudible_marker(Span(start=10.0, end=20.0))
    whisper = _transcript("whisper", [("hello", 1.0, 1.5)], [_segment(0.0, 2.0, "hello"), silent_here])
    other = _transcript("google", [("hello", 1.0, 1.5)], [_segment(0.0, 2.0, "hello")])
    heard_there = _transcript("assemblyai", [("hello", 1.0, 1.5), ("there", 12.0, 12.5)],
                              [_segment(0.0, 2.0, "hello"), _segment(12.0, 12.5, "there")])

    kept = reconcile_transcripts([whisper, other]).segments
    replaced = reconcile_transcripts([whisper, heard_there, heard_there]).segments

    assert [s.text for s in kept] == ["hello", "[inaudible 00:10–00:20]"] and kept[1].inaudible
    assert not any(s.inaudible for s in replaced) and "there" in " ".join(s.text for s in replaced)


def test_stitching_keeps_the_marker_and_the_coverage_in_absolute_time() -> None:
    first = _transcript("whisper", [("a", 1.0, 1.2)], [_segment(1.0, 1.2, "a")], SpeechCoverage(speech=SPEECH))
    second = _transcript("whisper", [("b", 1.0, 1.2)], [_segment(1.0, 1.2, "b"), inaudible_marker(
        Span(start=5.0, end=8.0))], SpeechCoverage(speech=SPEECH, redecoded=[Span(start=5.0, end=8.0)],
                                                   inaudible=[Span(start=5.0, end=8.0)]))
    chunks = [Chunk(index=0, start=0.0, end=31.0, own_start=0.0, own_end=30.0),
              Chunk(index=1, start=29.0, end=60.0, own_start=30.0, own_end=60.0)]

    stitched = stitch(list(zip(chunks, [first, second], strict=True)), 60.0)

    assert [(s.start, s.text) for s in stitched.segments if s.inaudible] == [(34.0, "[inaudible 00:05–00:08]")]
    assert stitched.coverage is not None
    assert [(s.start, s.end) for s in stitched.coverage.speech] == [(0.0, 30.0), (30.0, 59.0)]
    assert [(s.start, s.end) for s in stitched.coverage.inaudible] == [(34.0, 37.0)]


def test_redaction_leaves_the_marker_alone_and_analysis_does_not_read_it() -> None:
    segments = [_segment(0.0, 2.0, "hello"), inaudible_marker(Span(start=10.0, end=20.0)), _segment(20.0, 21.0, "bye")]
    agent = build_agent_transcript(uuid.uuid4(), _transcript(
        "whisper", [("hello", 1.0, 1.5)], [s.model_copy(update={"index": i}) for i, s in enumerate(segments)]))

    redacted, findings = redact_transcript(agent, ["Sam Okafor"])
    read = spoken_transcript(redacted)

    assert redacted.segments[1].text == "[inaudible 00:10–00:20]" and findings == []
    assert [s.index for s in read.segments] == [0, 2] and "inaudible" not in read.text
