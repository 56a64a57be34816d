"""No speech dropped: every stretch of speech that voice activity detection finds must be covered by transcript
segments.

Whisper decodes 30-second windows; a window that fails its thresholds can come back empty, or seek past speech, and
the words in it are then silently missing. Silero VAD (shipped with faster-whisper, no download) finds the speech
independently of the decoder. A stretch of it that no segment covers is decoded again on its own; one that is still
without words is marked `[inaudible mm:ss–mm:ss]`, so a supervisor sees that something was said there.

Segment times are approximate and VAD pads speech by `speech_pad_ms` (400 ms by default) on either side, so a
segment covers `tolerance` seconds around itself, and an uncovered piece shorter than `min_seconds` is not a dropped
stretch: both keep the check from re-decoding every seam between two segments."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vigil.schemas.transcripts import Segment, Span

SAMPLE_RATE = 16_000
TOLERANCE_SECONDS = 0.5


def speech_spans(audio: np.ndarray, sampling_rate: int = SAMPLE_RATE) -> list[Span]:
    """Stretches of speech in 16 kHz mono audio, by Silero VAD with faster-whisper's defaults."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps  # loads an ONNX model: deferred

    found = get_speech_timestamps(audio, VadOptions(), sampling_rate=sampling_rate)
    return [Span(start=round(s["start"] / sampling_rate, 3), end=round(s["end"] / sampling_rate, 3)) for s in found]


def _merged(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _covering(segments: Sequence[Segment], tolerance: float) -> list[tuple[float, float]]:
    """What the segments with words cover; an inaudible marker covers nothing."""
    return _merged([(max(0.0, s.start - tolerance), s.end + tolerance) for s in segments
                    if not s.inaudible and s.text.strip()])


def _minus(span: Span, cover: list[tuple[float, float]]) -> list[tuple[float, float]]:
    pieces, cursor = [], span.start
    for start, end in cover:
        if end <= cursor or start >= span.end:
            continue
        if start > cursor:
            pieces.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < span.end:
        pieces.append((cursor, span.end))
    return pieces


def uncovered_stretches(speech: Sequence[Span], segments: Sequence[Segment], min_seconds: float,
                        tolerance: float = TOLERANCE_SECONDS) -> list[Span]:
    """The parts of the detected speech no segment with words covers, each at least `min_seconds` long."""
    cover = _covering(segments, tolerance)
    return [Span(start=round(a, 3), end=round(b, 3)) for span in speech for a, b in _minus(span, cover)
            if b - a >= min_seconds]


def covered_seconds(speech: Sequence[Span], segments: Sequence[Segment],
                    tolerance: float = TOLERANCE_SECONDS) -> float:
    """How much of the detected speech the segments with words cover."""
    cover = _covering(segments, tolerance)
    missing = sum(b - a for span in speech for a, b in _minus(span, cover))
    return round(sum(s.end - s.start for s in speech) - missing, 3)


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def inaudible_marker(span: Span) -> Segment:
    """The segment standing for a stretch of speech nobody could transcribe; speaker unknown, no words."""
    return Segment(index=0, start=span.start, end=span.end, text=f"[inaudible {clock(span.start)}–{clock(span.end)}]",
                   inaudible=True)


def in_time_order(segments: Sequence[Segment]) -> list[Segment]:
    """Segments sorted by start and numbered again."""
    ordered = sorted(segments, key=lambda s: (s.start, s.end))
    return [s.model_copy(update={"index": i}) for i, s in enumerate(ordered)]
