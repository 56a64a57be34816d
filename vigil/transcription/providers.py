"""Running the configured providers on one audio file: in parallel, each behind a circuit breaker,
so one provider that fails or hangs never stops the others."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pybreaker

from vigil.errors import PermanentError, TransientError, VigilError
from vigil.schemas import ProviderTranscript
from vigil.transcription.base import Transcriber
from vigil.transcription.chunking import Chunk, stitch

log = logging.getLogger(__name__)

# After this many transient failures in a row a provider is skipped for RESET_SECONDS, so sessions
# stop waiting on it; one trial call then decides whether it is back.
FAIL_MAX = 3
RESET_SECONDS = 60.0
_breakers: dict[str, pybreaker.CircuitBreaker] = {}


def breaker_for(provider: str) -> pybreaker.CircuitBreaker:
    """One breaker per provider per process (a worker's state, not the database's)."""
    if provider not in _breakers:
        _breakers[provider] = pybreaker.CircuitBreaker(
            fail_max=FAIL_MAX, reset_timeout=RESET_SECONDS, name=provider,
            exclude=[lambda exc: isinstance(exc, PermanentError)])  # bad audio is not the provider's fault
    return _breakers[provider]


@dataclass
class ProviderRun:
    transcripts: list[ProviderTranscript] = field(default_factory=list)
    failures: dict[str, VigilError] = field(default_factory=dict)

    def raise_if_all_failed(self) -> None:
        """Only when every provider failed does the stage fail: transiently if any failure was."""
        if self.transcripts:
            return
        summary = "; ".join(f"{name}: {exc.code}: {exc.message}" for name, exc in self.failures.items())
        if any(isinstance(exc, TransientError) for exc in self.failures.values()):
            raise TransientError(f"every speech provider failed ({summary})", code="all_providers_failed")
        raise PermanentError(f"every speech provider failed ({summary})", code="all_providers_failed")


@dataclass(frozen=True)
class ChunkedAudio:
    """Long audio already cut: chunk files and the plan they came from."""

    files: list[tuple[Chunk, Path]]
    duration: float
    parallelism: int


def _call(transcriber: Transcriber, audio: Path) -> ProviderTranscript:
    try:
        return breaker_for(transcriber.name).call(transcriber.transcribe, audio)
    except pybreaker.CircuitBreakerError as exc:
        raise TransientError(f"{transcriber.name} is failing; skipped for now", code="circuit_open") from exc


def _call_chunked(transcriber: Transcriber, chunked: ChunkedAudio) -> ProviderTranscript:
    """The provider's chunks, `parallelism` at a time, stitched back in order. One failed chunk fails
    this provider for the session (the others still count), and the stage retry redoes it."""
    with ThreadPoolExecutor(max_workers=chunked.parallelism, thread_name_prefix=f"{transcriber.name}-chunk") as pool:
        results = list(pool.map(lambda item: (item[0], _call(transcriber, item[1])), chunked.files))
    return stitch(results, chunked.duration)


def run_providers(transcribers: list[Transcriber], audio: Path, chunked: ChunkedAudio | None = None) -> ProviderRun:
    """Every provider on the same audio at once (on its chunks, when it was cut). Results keep the
    configured order (the first successful one is the primary)."""
    run = ProviderRun()
    with ThreadPoolExecutor(max_workers=max(1, len(transcribers)), thread_name_prefix="provider") as pool:
        futures = [(t, pool.submit(_call_chunked, t, chunked) if chunked else pool.submit(_call, t, audio))
                   for t in transcribers]
        for transcriber, future in futures:
            try:
                run.transcripts.append(future.result())
            except VigilError as exc:
                run.failures[transcriber.name] = exc
                log.warning("provider failed", extra={"provider": transcriber.name, "code": exc.code})
            except Exception as exc:  # an unexpected provider bug counts as that provider failing
                run.failures[transcriber.name] = TransientError(f"{type(exc).__name__}: {exc}",
                                                                code="provider_error")
                log.exception("provider raised unexpectedly", extra={"provider": transcriber.name})
    return run
