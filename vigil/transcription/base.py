"""The speech-provider protocol and the registry that picks providers by configuration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from vigil.schemas import ProviderTranscript
from vigil.settings import Settings


class Transcriber(Protocol):
    name: str

    def transcribe(self, audio_path: Path) -> ProviderTranscript: ...


def _whisper(settings: Settings) -> Transcriber:
    from vigil.transcription.whisper import WhisperTranscriber

    return WhisperTranscriber.from_settings(settings)


def _standin(settings: Settings) -> Transcriber:
    from vigil.transcription.standin import StandinTranscriber

    return StandinTranscriber(settings.standin_latency_seconds)


PROVIDERS: dict[str, Callable[[Settings], Transcriber]] = {"whisper": _whisper, "standin": _standin}


def build_transcriber(name: str, settings: Settings) -> Transcriber:
    try:
        factory = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown transcriber {name!r}; known: {sorted(PROVIDERS)}") from None
    return factory(settings)
