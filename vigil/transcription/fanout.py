"""Running the configured providers on one audio file: in parallel, each behind a circuit breaker,
so one provider that fails or hangs never stops the others."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from vigil import telemetry
from vigil.breaker import Breaker, CircuitOpen
from vigil.errors import InvalidProviderOutput, PermanentError, TransientError, VigilError
from vigil.schemas.transcripts import ProviderTranscript
from vigil.transcription.base import Transcriber
from vigil.transcription.chunking import Chunk, stitch

log = logging.getLogger(__name__)
T = TypeVar("T")

_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(provider: str) -> Breaker:
    """One breaker per provider per process (a worker's state, not the database's)."""
    with _breakers_lock:
        return _breakers.setdefault(provider, Breaker())


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


# (provider, chunk files, parallelism, vocabulary) → one transcript per chunk, in order
ChunkMap = Callable[[Transcriber, list[tuple[Chunk, Path]], int, Sequence[str]], list[ProviderTranscript]]


def map_chunks_in_threads(transcriber: Transcriber, files: list[tuple[Chunk, Path]],
                          parallelism: int, vocabulary: Sequence[str] = ()) -> list[ProviderTranscript]:
    """Chunks of one provider on this machine, `parallelism` at a time, in order."""
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix=f"{transcriber.name}-chunk") as pool:
        return list(pool.map(lambda item: call_provider(transcriber, item[1], vocabulary), files))


@dataclass(frozen=True)
class ChunkedAudio:
    """Long audio already cut: chunk files, the plan they came from, and how chunks are spread out
    (threads here by default; Ray tasks across the cluster when run under Ray, see tasks/stages.py)."""

    files: list[tuple[Chunk, Path]]
    duration: float
    parallelism: int
    map_chunks: ChunkMap = map_chunks_in_threads


def call_provider(transcriber: Transcriber, audio: Path, vocabulary: Sequence[str] = ()) -> ProviderTranscript:
    """One provider call behind its breaker; an open breaker is a transient `circuit_open`."""
    started, outcome = time.perf_counter(), "ok"
    try:
        return breaker_for(transcriber.name).call(lambda: transcriber.transcribe(audio, vocabulary))
    except CircuitOpen as exc:
        outcome = "circuit_open"
        raise TransientError(f"{transcriber.name} is failing; skipped for now", code="circuit_open") from exc
    except VigilError as exc:
        outcome = exc.code
        if isinstance(exc, InvalidProviderOutput):
            telemetry.current().parse_error("speech", transcriber.name)
        raise
    except Exception:
        outcome = "provider_error"
        raise
    finally:
        telemetry.current().provider_call(transcriber.name, outcome, time.perf_counter() - started)


def _call_chunked(transcriber: Transcriber, chunked: ChunkedAudio, vocabulary: Sequence[str]) -> ProviderTranscript:
    """The provider's chunks, stitched back in order. One failed chunk fails this provider for the
    session (the other providers still count), and the stage retry redoes it."""
    transcripts = chunked.map_chunks(transcriber, chunked.files, chunked.parallelism, vocabulary)
    return stitch([(chunk, t) for (chunk, _), t in zip(chunked.files, transcripts, strict=True)], chunked.duration)


def run_providers(transcribers: list[Transcriber], audio: Path, chunked: ChunkedAudio | None = None,
                  vocabulary: Sequence[str] = ()) -> ProviderRun:
    """Every provider on the same audio at once (on its chunks, when it was cut), each given the tenant's
    vocabulary. Results keep the configured order (the first successful one is the primary)."""
    run = ProviderRun()
    with ThreadPoolExecutor(max_workers=max(1, len(transcribers)), thread_name_prefix="provider") as pool:
        futures = [(t, pool.submit(_call_chunked, t, chunked, vocabulary) if chunked
                    else pool.submit(call_provider, t, audio, vocabulary)) for t in transcribers]
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
