"""The pipeline stages as plain functions: each reads its input from the store, writes its output at a
deterministic key, records it in the database, and short-circuits when its output already exists —
so a stage delivered twice does its work once. Ray (tasks/) only decides where and when they run."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from vigil.analysis.analyzers.base import Analyzer, combine
from vigil.analysis.analyzers.registry import FREE_ANALYZERS
from vigil.analysis.analyzers.versions import content_version
from vigil.analysis.outputs.conversation import conversation_analytics
from vigil.analysis.outputs.refinement import refine_transcript
from vigil.analysis.text.evidence import quote_in_text
from vigil.context import Context
from vigil.db.models import Analysis, Artifact, ModelFailure, Review, Session, Tenant, Transcript, utcnow
from vigil.errors import PermanentError
from vigil.media import audio_duration, extract_audio
from vigil.schemas.analysis import AnalysisResult, RiskAssessment, RubricDefinition, SessionSummary, TaskOutcome
from vigil.schemas.enums import RiskLevel
from vigil.schemas.transcripts import AgentTranscript, Diarization, DiarizationInfo, ProviderTranscript, SpeakerRoles
from vigil.sealed_text import blank_text
from vigil.services import alerts, double_review, events, redaction
from vigil.services.analysis_inputs import current_inputs_key
from vigil.services.governance import active_config, guard_model_budget
from vigil.services.jobs import ClaimedStage
from vigil.services.reviews import session_speaker_overrides, transcript_with_roles
from vigil.services.tenants import vocabulary_for
from vigil.settings import Settings
from vigil.storage.base import (
    AUDIO_NAME,
    TRANSCRIPT_AGENT_NAME,
    TRANSCRIPT_DIARIZATION_NAME,
    TRANSCRIPT_ORIGINAL_NAME,
    TRANSCRIPT_REDACTIONS_NAME,
    TRANSCRIPT_REFINED_NAME,
    analysis_name,
    artifact_key,
    original_name,
    transcript_raw_name,
)
from vigil.transcription.agent import build_agent_transcript, spoken_transcript
from vigil.transcription.base import Transcriber
from vigil.transcription.chunking import cut_at_silences
from vigil.transcription.diarization import StartDiarization, diarize_in_thread
from vigil.transcription.fanout import ChunkedAudio, ChunkMap, map_chunks_in_threads, run_providers
from vigil.transcription.reconcile import reconcile_transcripts
from vigil.transcription.speakers import attach_speakers

log = logging.getLogger(__name__)


def _session(ctx: Context, claim: ClaimedStage) -> Session:
    with ctx.tenant_db(claim.tenant_id) as db:
        session = db.get(Session, claim.session_id)
    if session is None or session.tenant_id != claim.tenant_id:
        raise PermanentError("the session no longer exists", code="session_missing")
    return session


def _record_artifact(ctx: Context, claim: ClaimedStage, kind: str, key: str, data: bytes | None = None,
                     size: int | None = None) -> None:
    values = {"tenant_id": claim.tenant_id, "session_id": claim.session_id, "kind": kind, "key": key,
              "size_bytes": size if size is not None else len(data or b""),
              "sha256": hashlib.sha256(data).hexdigest() if data is not None else None, "created_at": utcnow()}
    with ctx.tenant_db(claim.tenant_id) as db:
        stmt = pg_insert(Artifact).values(**values)
        db.execute(stmt.on_conflict_do_update(
            index_elements=["session_id", "kind"],
            set_={"key": stmt.excluded.key, "size_bytes": stmt.excluded.size_bytes,
                  "sha256": stmt.excluded.sha256}))
        db.commit()


def _put_json(ctx: Context, claim: ClaimedStage, kind: str, name: str, payload: str) -> None:
    data = payload.encode()
    key = artifact_key(claim.tenant_id, claim.session_id, name)
    ctx.store.put_bytes(key, data)
    _record_artifact(ctx, claim, kind, key, data)


def run_extract(ctx: Context, claim: ClaimedStage) -> float:
    """ffmpeg: the original (audio or video) → 16 kHz mono FLAC at `audio.flac`. Returns the seconds ffmpeg took
    (the stage's own work; the rest of its time is overhead)."""
    session = _session(ctx, claim)
    audio_key = artifact_key(claim.tenant_id, claim.session_id, AUDIO_NAME)
    if ctx.store.exists(audio_key):
        log.info("extract short-circuit: audio exists", extra={"session_id": str(claim.session_id)})
        return 0.0
    original_key = artifact_key(claim.tenant_id, claim.session_id, original_name(session.media_ext))
    with tempfile.TemporaryDirectory(prefix="vigil-extract-") as tmp:
        source = Path(tmp) / f"original.{session.media_ext}"
        ctx.store.download(original_key, source)
        target = Path(tmp) / AUDIO_NAME
        started = time.perf_counter()
        duration = extract_audio(source, target, ctx.settings.ffmpeg_timeout_seconds)
        work = time.perf_counter() - started
        size = ctx.store.put_file(audio_key, target)
    _record_artifact(ctx, claim, "audio", audio_key, size=size)
    with ctx.tenant_db(claim.tenant_id) as db:
        db.execute(sa.update(Session).where(Session.id == claim.session_id)
                   .values(duration_seconds=round(duration, 3)))
        db.commit()
    return work


def run_transcribe(ctx: Context, claim: ClaimedStage, transcribers: list[Transcriber],
                   map_chunks: ChunkMap = map_chunks_in_threads,
                   diarize: StartDiarization = diarize_in_thread) -> float:
    """Every configured provider transcribes the audio at once, and diarization runs beside them on the same
    audio; what succeeded is kept per provider (`transcript/raw/<provider>.json`) and, when several succeeded,
    reconciled by vote; speakers go onto the words (`attach_speakers`). The stage fails only when every provider
    failed; the transcript records which ones did, and a diarization that failed (its speakers stay unknown).
    Returns the seconds from the recognizers' and diarization's start to the last one's end (the stage's own work)."""
    agent_key = artifact_key(claim.tenant_id, claim.session_id, TRANSCRIPT_AGENT_NAME)
    if ctx.store.exists(agent_key) and _has_transcript(ctx, claim):
        return 0.0
    audio_key = artifact_key(claim.tenant_id, claim.session_id, AUDIO_NAME)
    with ctx.tenant_db(claim.tenant_id) as db:
        vocabulary = vocabulary_for(db, claim.tenant_id)
    diarization_key = artifact_key(claim.tenant_id, claim.session_id, TRANSCRIPT_DIARIZATION_NAME)
    with tempfile.TemporaryDirectory(prefix="vigil-transcribe-") as tmp:
        audio = Path(tmp) / AUDIO_NAME
        ctx.store.download(audio_key, audio)
        started = time.perf_counter()
        diarized = _start_diarization(ctx, diarization_key, audio, diarize)
        run = run_providers(transcribers, audio, chunk_audio(ctx.settings, audio, Path(tmp), map_chunks), vocabulary)
        diarization, diarization_info = diarized()
        work = time.perf_counter() - started
    if diarization is not None and not ctx.store.exists(diarization_key):
        _put_json(ctx, claim, "transcript_diarization", TRANSCRIPT_DIARIZATION_NAME, diarization.model_dump_json())
    for result in run.transcripts:
        _put_json(ctx, claim, f"transcript_raw:{result.provider}", transcript_raw_name(result.provider),
                  result.model_dump_json())
    run.raise_if_all_failed()
    failed = {name: f"{exc.code}: {exc.message}" for name, exc in run.failures.items()}
    names = [t.provider for t in run.transcripts]
    rows = list(run.transcripts)
    if len(run.transcripts) > 1:
        reconciled = reconcile_transcripts(run.transcripts)
        primary = run.transcripts[0]
        source = ProviderTranscript(
            provider="reconciled", model="rover:" + "+".join(names), language=primary.language,
            duration=primary.duration, words=reconciled.words, segments=reconciled.segments,
            coverage=next((t.coverage for t in run.transcripts if t.coverage), None))
        summary = reconciled.summary
        rows.append(source)
    else:
        source, summary = run.transcripts[0], None
    spoken, speakers_source = attach_speakers(source, diarization)
    original = build_agent_transcript(claim.session_id, spoken, providers=names, failed_providers=failed,
                                      reconciliation=summary).model_copy(
        update={"speakers_source": speakers_source, "diarization": diarization_info})
    with ctx.tenant_db(claim.tenant_id) as db:
        pii_names = redaction.names_for(db, claim.tenant_id)
    agent, findings = redaction.redact_transcript(original, pii_names)
    with ctx.tenant_db(claim.tenant_id) as db:
        db.execute(sa.update(Session).where(Session.id == claim.session_id).values(redaction_count=len(findings)))
        for result in rows:
            display = agent if result is source else build_agent_transcript(claim.session_id, result)
            stmt = pg_insert(Transcript).values(
                tenant_id=claim.tenant_id, session_id=claim.session_id, provider=result.provider,
                model=result.model, language=result.language,
                word_count=display.metrics.word_count, duration_seconds=result.duration,
                mean_confidence=display.metrics.mean_confidence,
                metrics={**display.metrics.model_dump(), "failed_providers": failed,
                         **({"agreement_rate": summary.agreement_rate} if result is source and summary else {})},
                created_at=utcnow())
            db.execute(stmt.on_conflict_do_update(
                index_elements=["session_id", "provider"],
                set_={c: stmt.excluded[c] for c in ("model", "language", "word_count",
                                                     "duration_seconds", "mean_confidence", "metrics")}))
        db.commit()
    _put_json(ctx, claim, "transcript_original", TRANSCRIPT_ORIGINAL_NAME, original.model_dump_json())
    _put_json(ctx, claim, "transcript_redactions", TRANSCRIPT_REDACTIONS_NAME, json.dumps(findings))
    # The (redacted) agent transcript is written last: its presence marks the stage as done.
    _put_json(ctx, claim, "transcript_agent", TRANSCRIPT_AGENT_NAME, agent.model_dump_json())
    return work


def _start_diarization(ctx: Context, key: str, audio: Path, diarize: StartDiarization,
                       ) -> Callable[[], tuple[Diarization | None, DiarizationInfo | None]]:
    """Diarization of `audio` started now (or read back, when an earlier attempt of this stage stored it); the
    returned function waits for it. Its failure is recorded on the transcript, whose speakers then stay unknown:
    the words still count, so it does not fail the stage."""
    if ctx.store.exists(key):
        stored = Diarization.model_validate_json(ctx.store.get_bytes(key))
        return lambda: (stored, DiarizationInfo(model=stored.model, speakers=stored.speakers, seconds=stored.seconds))
    if ctx.settings.diarization == "off":
        return lambda: (None, None)
    started = time.perf_counter()
    try:
        wait = diarize(ctx.settings, audio)
    except Exception as exc:  # recorded on the transcript and logged
        return _diarization_failed(ctx, exc, started)

    def result() -> tuple[Diarization | None, DiarizationInfo | None]:
        try:
            found = wait()
        except Exception as exc:  # recorded on the transcript and logged
            return _diarization_failed(ctx, exc, started)()
        return found, DiarizationInfo(model=found.model, speakers=found.speakers, seconds=found.seconds)

    return result


def _diarization_failed(ctx: Context, exc: Exception, started: float,
                        ) -> Callable[[], tuple[Diarization | None, DiarizationInfo | None]]:
    log.warning("diarization failed; speakers stay unknown", exc_info=exc)
    info = DiarizationInfo(model=ctx.settings.diarization, speakers=0,
                           seconds=round(time.perf_counter() - started, 3), error=f"{type(exc).__name__}: {exc}"[:300])
    return lambda: (None, info)


def chunk_audio(settings: Settings, audio: Path, workdir: Path,
                map_chunks: ChunkMap = map_chunks_in_threads) -> ChunkedAudio | None:
    """Audio longer than two chunks is cut at silences so its chunks can be transcribed at once."""
    duration = audio_duration(audio)
    if duration < 2 * settings.chunk_seconds:
        return None
    files = cut_at_silences(audio, duration, workdir, settings.chunk_seconds, settings.chunk_overlap_seconds,
                            settings.ffmpeg_timeout_seconds)
    return ChunkedAudio(files=files, duration=duration, parallelism=max(1, settings.chunk_parallelism),
                        map_chunks=map_chunks)


def _has_transcript(ctx: Context, claim: ClaimedStage) -> bool:
    with ctx.tenant_db(claim.tenant_id) as db:
        return db.scalar(sa.select(sa.func.count()).select_from(Transcript)
                         .where(Transcript.session_id == claim.session_id)) > 0


def load_agent_transcript(ctx: Context, claim: ClaimedStage) -> AgentTranscript:
    key = artifact_key(claim.tenant_id, claim.session_id, TRANSCRIPT_AGENT_NAME)
    return AgentTranscript.model_validate_json(ctx.store.get_bytes(key))


def check_evidence(result: RiskAssessment | AnalysisResult, transcript: AgentTranscript) -> None:
    """Every evidence quote must be verbatim in the segment it cites: no invented quotes."""
    by_index = {s.index: s for s in transcript.segments}
    for flag in result.flags:
        for ev in flag.evidence:
            segment = by_index.get(ev.segment_index)
            if segment is None or not quote_in_text(ev.quote, segment.text):
                raise PermanentError(f"analysis cited a quote not in the transcript: {ev.quote!r}",
                                     code="invalid_evidence")


RISK_FAILED = "risk analysis failed — review manually"


@dataclass
class TaskRun:
    """The four post-transcription tasks' outputs (None where a task failed) and how each went."""

    refined: AgentTranscript | None
    analytics: dict[str, Any] | None
    assessment: RiskAssessment | None
    summary: SessionSummary | None
    outcomes: dict[str, TaskOutcome]


def run_analysis_tasks(transcript: AgentTranscript, analyzer: Analyzer, rubric: RubricDefinition | None = None,
                       parallel: bool = True) -> TaskRun:
    """Refinement, analytics, risk + rubric and summary are independent: they run at once, so the analysis takes
    about as long as the slowest of them. Each records its own status and duration; one failing does not stop the
    others (`parallel=False` runs them one after another, for comparison in bench/analysis.py)."""

    def assess() -> RiskAssessment:
        assessment = analyzer.assess(transcript, rubric)
        check_evidence(assessment, transcript)
        return assessment

    tasks: dict[str, Callable[[], Any]] = {
        "refinement": lambda: refine_transcript(transcript),
        "analytics": lambda: conversation_analytics(transcript),
        "risk": assess,
        "summary": lambda: analyzer.summarize(transcript),
    }
    results: dict[str, Any] = {}
    outcomes: dict[str, TaskOutcome] = {}

    def timed(name: str) -> None:
        started = time.perf_counter()
        try:
            results[name] = tasks[name]()
        except Exception as exc:  # recorded on the analysis, never swallowed: the session shows which task failed
            log.warning("analysis task failed", exc_info=True,
                        extra={"session_id": str(transcript.session_id), "task": name})
            outcomes[name] = TaskOutcome(status="failed", seconds=round(time.perf_counter() - started, 4),
                                         error=f"{type(exc).__name__}: {exc}"[:500])
            return
        model = getattr(results[name], "model", None) if name in ("risk", "summary") else None
        outcomes[name] = TaskOutcome(status="succeeded", seconds=round(time.perf_counter() - started, 4), model=model)

    if parallel:
        with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="analysis-task") as pool:
            list(pool.map(timed, tasks))
    else:
        for name in tasks:
            timed(name)
    return TaskRun(refined=results.get("refinement"), analytics=results.get("analytics"),
                   assessment=results.get("risk"), summary=results.get("summary"),
                   outcomes={name: outcomes[name] for name in tasks})


def assemble_result(run: TaskRun, rubric_version: str | None, roles: SpeakerRoles | None = None) -> AnalysisResult:
    """One stored result from the tasks; a failed risk task yields `risk_status="failed"`, never "no risk found"."""
    assessment, summary = run.assessment, run.summary
    failed_summary = SessionSummary(summary="", action_items=[], model="none", prompt_version="none")
    if assessment is None:
        result = combine(RiskAssessment(risk_level=RiskLevel.none, flags=[], rubric=[], model="none",
                                        prompt_version=(summary or failed_summary).prompt_version),
                         summary or failed_summary, risk_status="failed")
    else:
        result = combine(assessment, summary or failed_summary)
    return result.model_copy(update={"analytics": run.analytics, "tasks": run.outcomes,
                                     "rubric_version": rubric_version, "roles": roles})


def builtin_rubric_version(analyzer: Analyzer) -> str | None:
    rubric = getattr(analyzer, "default_rubric", None)
    return content_version("rubric", rubric.model_dump(mode="json")) if rubric is not None else None


def highest_severities(result: AnalysisResult) -> dict[str, str]:
    """Each flagged category's highest severity."""
    highest: dict[str, RiskLevel] = {}
    for flag in result.flags:
        if flag.category.value not in highest or flag.severity.rank > highest[flag.category.value].rank:
            highest[flag.category.value] = flag.severity
    return {category: level.value for category, level in sorted(highest.items())}


def run_analyze(ctx: Context, claim: ClaimedStage, analyzer: Analyzer) -> float:
    """The four post-transcription tasks → a new analysis version for this job (once). Model work first passes
    the tenant's daily budget guard; the tenant's active prompt and rubric versions are used and recorded.
    Returns the seconds the tasks took (the stage's own work)."""
    with ctx.tenant_db(claim.tenant_id) as db:
        if db.scalar(sa.select(Analysis.id).where(Analysis.job_id == claim.job_id)) is not None:
            return 0.0
        config = active_config(db, claim.tenant_id)
        inputs = current_inputs_key(db, claim.tenant_id, claim.session_id, ctx.settings)
        corrections = session_speaker_overrides(db, claim.tenant_id, claim.session_id)
        first_speaker = db.scalar(sa.select(Tenant.first_speaker).where(Tenant.id == claim.tenant_id))
        if analyzer.name not in FREE_ANALYZERS:
            guard_model_budget(db, claim.tenant_id, ctx.settings)
    if config.prompts is not None and config.prompt_version is not None:
        analyzer = analyzer.with_prompts(config.prompts, config.prompt_version)
    analyzer = analyzer.with_risk_settings(config.risk)
    rubric = config.rubric  # None → the analyzer's built-in rubric
    rubric_version = config.rubric_version or builtin_rubric_version(analyzer)
    transcript = spoken_transcript(transcript_with_roles(load_agent_transcript(ctx, claim), corrections,
                                                         first_speaker))
    failures_before = len(getattr(analyzer, "failures", []))
    started = time.perf_counter()
    run = run_analysis_tasks(transcript, analyzer, rubric)
    latency = time.perf_counter() - started
    result = assemble_result(run, rubric_version, transcript.roles)
    if run.refined is not None:
        _put_json(ctx, claim, "transcript_refined", TRANSCRIPT_REFINED_NAME, run.refined.model_dump_json())
    model_failures = getattr(analyzer, "failures", [])[failures_before:]
    with ctx.tenant_db(claim.tenant_id) as db:
        session = db.get(Session, claim.session_id, with_for_update=True)
        if session is None:
            raise PermanentError("the session no longer exists", code="session_missing")
        version = (db.scalar(sa.select(sa.func.max(Analysis.analysis_version))
                             .where(Analysis.session_id == claim.session_id)) or 0) + 1
        key = artifact_key(claim.tenant_id, claim.session_id, analysis_name(version))
        payload = result.model_dump_json().encode()
        ctx.store.put_bytes(key, payload)
        analysis_id = uuid.uuid4()
        db.add(Analysis(id=analysis_id, tenant_id=claim.tenant_id, session_id=claim.session_id, job_id=claim.job_id,
                        analysis_version=version, prompt_version=result.prompt_version[:100],
                        model=result.model[:200], risk_level=result.risk_level.value,
                        result=blank_text(result.model_dump(mode="json")), tokens_in=result.tokens_in,
                        tokens_out=result.tokens_out, cost_usd=result.cost_usd, latency_seconds=round(latency, 4),
                        rubric_version=rubric_version, rubric_scores={r.key: r.score for r in result.rubric},
                        inputs_key=inputs))
        db.flush()  # the analysis row first: its alerts refer to it
        alerts.enqueue(db, claim.tenant_id, claim.session_id, analysis_id, result)  # committed with the analysis
        double_review.assign_if_due(db, claim.tenant_id, claim.session_id, result)  # the same transaction
        for model, kind, detail in model_failures:
            db.add(ModelFailure(tenant_id=claim.tenant_id, session_id=claim.session_id, job_id=claim.job_id,
                                task="analysis", model=model[:200], kind=kind, detail=detail[:2000]))
        human_risk = db.scalar(sa.select(Review.human_value).where(
            Review.session_id == claim.session_id, Review.field == "risk_level")
            .order_by(Review.created_at.desc()).limit(1))
        if result.risk_status == "failed":
            # Unknown is not "none": the session goes to the top of the queue for a person to read.
            session.ai_risk_level, session.attention = "unknown", RISK_FAILED
            effective = human_risk["value"] if human_risk else "unknown"
        else:
            session.ai_risk_level, session.attention = result.risk_level.value, None
            effective = human_risk["value"] if human_risk else result.risk_level.value
        session.risk_level = effective
        session.risk_categories = sorted({flag.category.value for flag in result.flags})
        session.flagged = effective != "none"
        session.analysis_ready_at = utcnow()
        if result.risk_status == "failed" or result.risk_level != RiskLevel.none:
            # Levels and categories only: a live screen learns that a session needs reading, never what was said.
            events.emit(db, claim.tenant_id, "flag.new", claim.session_id, job_id=str(claim.job_id),
                        analysis_version=version, risk_level=session.ai_risk_level,
                        categories=session.risk_categories,
                        severities=highest_severities(result))
        db.commit()
    _record_artifact(ctx, claim, f"analysis:v{version}", key, payload)
    return latency
