"""The speech-provider protocol, and the error for a provider answer that broke its contract."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pydantic

from vigil.errors import InvalidProviderOutput
from vigil.schemas.transcripts import ProviderTranscript


class Transcriber(Protocol):
    name: str

    def transcribe(self, audio_path: Path, vocabulary: Sequence[str] = ()) -> ProviderTranscript:
        """`vocabulary`: the tenant's rare terms (programs, medications, places), given to the recognizer as hints
        in whatever form it accepts (Whisper hotwords, AssemblyAI word boost, Google speech contexts)."""
        ...


def broken_answer(what: str, exc: Exception) -> InvalidProviderOutput:
    """The error for a provider answer that broke its contract: where and what, never the offending value (it may
    be transcript text)."""
    if isinstance(exc, pydantic.ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        detail = f"{where}: {error['msg']} ({exc.error_count()} error(s))"
    else:
        detail = type(exc).__name__
    return InvalidProviderOutput(f"{what}: the answer broke its contract: {detail}")
