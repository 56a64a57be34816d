"""Ray adapters over the plain stage functions in vigil.services.pipeline.

`max_retries=0`: retries belong to the job rows in the database (with backoff and a record of each
attempt), not to Ray, so a stage is never re-run behind the database's back. The one exception is diarization,
which writes nothing (see `diarize_audio`)."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ray
import sqlalchemy as sa
from ray.exceptions import RayError, RayTaskError

from tasks.risk_scoring import ServeEncoder
from vigil import logcontext
from vigil.analysis.analyzers.base import Analyzer
from vigil.analysis.analyzers.registry import build_analyzer
from vigil.context import Context
from vigil.db.engine import engine_for
from vigil.errors import PermanentError, TransientError, VigilError
from vigil.media import extract_audio as ffmpeg_extract
from vigil.media import ffmpeg_binary
from vigil.schemas.transcripts import Diarization, ProviderTranscript
from vigil.services import events
from vigil.services.alert_delivery import deliver_due
from vigil.services.audit_checkpoints import write_checkpoints
from vigil.services.jobs import ClaimedStage
from vigil.services.pipeline import run_analyze, run_extract, run_transcribe
from vigil.services.retention import apply_retention as sweep_retention
from vigil.services.tenants import transcribers_for
from vigil.settings import Settings
from vigil.transcription.base import Transcriber
from vigil.transcription.chunking import Chunk
from vigil.transcription.diarization import diarizer_for
from vigil.transcription.fanout import ChunkMap, call_provider
from vigil.transcription.registry import build_transcriber

log = logging.getLogger(__name__)


def this_node() -> str:
    return f"node {ray.get_runtime_context().get_node_id()}"


@dataclass(frozen=True)
class StageDone:
    """What a stage task returns: the node it ran on and the seconds of its own work (ffmpeg, the recognizers, the
    analysis), both recorded with the stage's completion; the rest of its time is the pipeline's overhead."""

    node: str
    work_seconds: float


@contextmanager
def stage_logging(claim: ClaimedStage) -> Iterator[None]:
    """The stage's log lines, on whichever node runs it, carry its request, session and job ids; the first names
    the Ray task, as the Ray dashboard lists it (`extract:<session>`), so an operator can go from one to the other."""
    with logcontext.bind(**claim.log_ids()):
        log.info("stage started", extra={"stage": claim.stage, "attempt": claim.attempt, "node": this_node(),
                                         "ray_task": ray.get_runtime_context().get_task_name()})
        yield


@ray.remote(num_cpus=0, max_retries=0)
def apply_retention(settings: Settings, database_url: str) -> dict[str, int]:
    """The scheduled retention sweep (see vigil.services.retention); the dispatcher starts one at a time."""
    return sweep_retention(Context.build(settings, database_url)).as_json()


@ray.remote(num_cpus=0, max_retries=0)
def deliver_alerts(settings: Settings, database_url: str) -> dict[str, int]:
    """The scheduled alert escalation and delivery (see vigil.services.alert_delivery); one at a time."""
    return deliver_due(Context.build(settings, database_url)).as_json()


@ray.remote(num_cpus=0, max_retries=0)
def prune_events(settings: Settings, database_url: str) -> dict[str, int]:
    """The scheduled prune of old events (see vigil.services.events); the dispatcher starts one at a time."""
    return {"deleted": events.prune_expired(Context.build(settings, database_url))}


@ray.remote(num_cpus=0, max_retries=0)
def write_audit_checkpoints(settings: Settings, database_url: str) -> dict[str, object]:
    """The scheduled audit checkpoints (see vigil.services.audit_checkpoints); the dispatcher starts one at a time."""
    return write_checkpoints(Context.build(settings, database_url)).as_json()


@lru_cache(maxsize=2)
def _context(settings_json: str, database_url: str) -> Context:
    """One context per worker process (its object-store client, its database engines), not one per stage."""
    return Context.build(Settings.model_validate_json(settings_json), database_url)


@ray.remote(num_cpus=1, max_retries=0)
def extract_audio(settings_json: str, database_url: str, claim: ClaimedStage) -> StageDone:
    with stage_logging(claim):
        work = run_extract(_context(settings_json, database_url), claim)
    return StageDone(this_node(), work)


@lru_cache(maxsize=2)
def _analyzer(settings_json: str) -> Analyzer:
    """One analyzer per worker process, so its circuit breakers remember a model that keeps failing; the sentence
    encoder is the Serve deployment's, with this process's as the fallback."""
    return build_analyzer(Settings.model_validate_json(settings_json), ServeEncoder())


@ray.remote(num_cpus=0.5, max_retries=0)
def analyze(settings_json: str, database_url: str, claim: ClaimedStage) -> StageDone:
    with stage_logging(claim):
        work = run_analyze(_context(settings_json, database_url), claim, _analyzer(settings_json))
    return StageDone(this_node(), work)


@lru_cache(maxsize=4)
def _transcriber(settings_json: str, provider: str) -> Transcriber:
    """Each worker process loads a provider (a model, a client) once and keeps it."""
    return build_transcriber(provider, Settings.model_validate_json(settings_json))


# num_cpus=0: a warm-up holds no slot, so stages submitted meanwhile are scheduled as if it were not there.
@ray.remote(num_cpus=0, max_retries=0)
def warm_worker(settings_json: str, database_url: str) -> float:
    """Pays a stage worker's one-off costs before a session does: the imports, a database connection, ffmpeg's
    first run, the diarizer, the analyzer and the recognizers a chunk task uses. Ray keeps idle workers for its
    next tasks, so the first sessions after a start find them warm. Returns the seconds it took."""
    started = time.perf_counter()
    ctx = _context(settings_json, database_url)  # the stages' own context, kept for them
    settings = ctx.settings
    with engine_for(ctx.app_database_url).connect() as connection:
        connection.execute(sa.text("select 1"))  # the application role's pool, which stages' tenant sessions use
    with tempfile.TemporaryDirectory(prefix="vigil-warm-") as tmp:
        clip = Path(tmp) / "clip.wav"
        subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=1",
                        str(clip)], check=True, timeout=60)
        ffmpeg_extract(clip, Path(tmp) / "clip.flac", 60)
    diarizer_for(settings)
    _analyzer(settings_json)
    for name in settings.transcriber_names:
        _transcriber(settings_json, name)
    return time.perf_counter() - started


@ray.remote(num_cpus=1, max_retries=0)
def transcribe_chunk(settings_json: str, provider: str, audio: bytes, suffix: str,
                     vocabulary: Sequence[str] = ()) -> ProviderTranscript:
    with tempfile.NamedTemporaryFile(suffix=suffix) as chunk_file:
        chunk_file.write(audio)
        chunk_file.flush()
        result = call_provider(_transcriber(settings_json, provider), Path(chunk_file.name), vocabulary)
    # Where it ran, so operators (and tests) can see chunks spread over workers and nodes.
    result.raw["ray"] = {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}
    return result


def chunk_map_on_ray(settings: Settings) -> ChunkMap:
    """Chunks as Ray tasks, wherever the cluster has room, at most `parallelism` in flight per
    provider; the audio travels through Ray's object store, not through the caller."""
    settings_json = settings.model_dump_json()

    def map_chunks(transcriber: Transcriber, files: list[tuple[Chunk, Path]],
                   parallelism: int, vocabulary: Sequence[str] = ()) -> list[ProviderTranscript]:
        results: dict[int, ProviderTranscript] = {}
        pending: dict[ray.ObjectRef, int] = {}
        queue = list(enumerate(files))
        try:
            while queue or pending:
                while queue and len(pending) < parallelism:
                    position, (chunk, path) = queue.pop(0)
                    ref = transcribe_chunk.options(name=f"transcribe_chunk:{transcriber.name}:{chunk.index}").remote(
                        settings_json, transcriber.name, ray.put(path.read_bytes()), path.suffix, tuple(vocabulary))
                    pending[ref] = position
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    results[pending.pop(ref)] = ray.get(ref)
        except RayTaskError as exc:
            for ref in pending:
                ray.cancel(ref)
            cause = exc.cause if isinstance(exc.cause, VigilError) else None
            raise cause or TransientError(f"chunk failed: {exc.cause!r}", code="provider_error") from exc
        except RayError as exc:
            raise TransientError(f"a chunk's worker was lost: {type(exc).__name__}", code="worker_lost") from exc
        return [results[i] for i in range(len(files))]

    return map_chunks


# max_retries: unlike a stage, diarization writes nothing: it is a pure function of the audio, so when its worker
# or node is lost Ray runs it again elsewhere (system failures only; its own errors are not retried). Without this a
# lost node left that session's speakers unknown while its words were kept (tests/e2e/test_multinode.py).
@ray.remote(num_cpus=1, max_retries=2)
def diarize_audio(settings_json: str, audio: bytes, suffix: str) -> Diarization:
    """Speaker turns of one session's audio, in a worker of its own beside the transcription (the encoder loads
    once per worker process and is kept)."""
    diarizer = diarizer_for(Settings.model_validate_json(settings_json))
    if diarizer is None:
        raise PermanentError("diarization is off", code="bad_config")
    with tempfile.NamedTemporaryFile(suffix=suffix) as audio_file:
        audio_file.write(audio)
        audio_file.flush()
        return diarizer.diarize(Path(audio_file.name))


def diarize_on_ray(settings: Settings, audio: Path) -> Callable[[], Diarization]:
    """Starts `diarize_audio` as a Ray task now; the returned function waits for its turns."""
    ref = diarize_audio.options(name="diarize").remote(settings.model_dump_json(), ray.put(audio.read_bytes()),
                                                       audio.suffix)
    return lambda: ray.get(ref)


@ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0)
class Transcription:
    """Holds the speech models in memory so each session does not pay to load them."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.ctx = Context.build(settings, database_url)
        self._providers: dict[str, Transcriber] = {}
        self._lock = threading.Lock()
        for name in settings.transcriber_names:  # the deployment's providers load now, not on first use
            self._provider(name)

    def _provider(self, name: str) -> Transcriber:
        with self._lock:
            if name not in self._providers:
                self._providers[name] = build_transcriber(name, self.ctx.settings)
            return self._providers[name]

    def transcribe(self, claim: ClaimedStage) -> StageDone:
        with stage_logging(claim):
            with self.ctx.tenant_db(claim.tenant_id) as db:
                names = transcribers_for(db, claim.tenant_id, self.ctx.settings)
            transcribers = [self._provider(name) for name in names]
            work = run_transcribe(self.ctx, claim, transcribers, chunk_map_on_ray(self.ctx.settings), diarize_on_ray)
        return StageDone(this_node(), work)
