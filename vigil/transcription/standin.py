"""A speech provider with a fixed latency and no model, for load and scale measurements.

It stands where a remote provider (AssemblyAI, Google) would: each call waits
`STANDIN_LATENCY_SECONDS` without using the CPU, then returns one segment spanning the audio.
Choose it with `TRANSCRIBERS=standin`; it never runs unless configured."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from vigil.media import audio_duration
from vigil.schemas.transcripts import ProviderTranscript, Segment, Word

TEXT = "stand in transcript"


class StandinTranscriber:
    name = "standin"

    def __init__(self, latency_seconds: float) -> None:
        self.latency_seconds = latency_seconds

    def transcribe(self, audio_path: Path, vocabulary: Sequence[str] = ()) -> ProviderTranscript:
        """The vocabulary changes nothing: there is no recognizer to hint."""
        duration = audio_duration(audio_path)
        time.sleep(self.latency_seconds)
        step = duration / len(TEXT.split())
        words = [Word(text=w, start=round(i * step, 3), end=round((i + 1) * step, 3), confidence=1.0)
                 for i, w in enumerate(TEXT.split())]
        return ProviderTranscript(provider=self.name, model=f"standin:{self.latency_seconds:g}s", language="en",
                                  duration=duration, words=words,
                                  segments=[Segment(index=0, start=0.0, end=duration, text=TEXT, confidence=1.0)])
