"""Session routes: thin handlers that validate, call a service, return a schema."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, BinaryIO, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from serve.deps import ContextDep, DbDep, PrincipalDep, off_loop, tenant_read
from vigil.schemas.api import (
    AnalysisOut,
    AnalysisVersionOut,
    AuditOut,
    CustodyOut,
    JobAccepted,
    RedactionOut,
    ReviewIn,
    ReviewOut,
    SessionOut,
    SessionSummaryOut,
    UploadAccepted,
)
from vigil.schemas.transcripts import ReviewedTranscript
from vigil.services import access, audit, ingest, redaction, reprocess, reviews, sessions
from vigil.services.access import Action
from vigil.services.sessions import SessionFilter

router = APIRouter(prefix="/api/v1/sessions", tags=["sessions"])

# Multipart framing adds a little to the body; anything beyond this is refused before reading it.
MULTIPART_OVERHEAD = 64 * 1024


@router.post("", status_code=202, response_model=UploadAccepted,
             responses={400: {"description": "empty file"}, 413: {"description": "over the size limit"},
                        415: {"description": "not an audio or video file we accept"}})
def upload_session(request: Request, ctx: ContextDep, principal: PrincipalDep,
                   file: Annotated[UploadFile, File(description="Audio or video (wav, mp3, m4a, mp4, webm…)")],
                   title: Annotated[str | None, Form(max_length=500)] = None,
                   counselor: Annotated[str | None, Form(max_length=200, description="Who held the session.")] = None,
                   team: Annotated[str | None, Form(max_length=200)] = None) -> UploadAccepted:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > ctx.settings.max_upload_bytes + MULTIPART_OVERHEAD:
        raise HTTPException(413, f"the file is larger than the limit of {ctx.settings.max_upload_bytes} bytes")
    session, job = ingest.accept_upload(ctx, principal, file.file, file.filename, title, counselor=counselor,
                                        team=team)
    return UploadAccepted(session_id=session.id, job_id=job.id)


async def session_filter(risk_level: Annotated[list[str] | None, Query(description="Any of these levels.")] = None,
                   category: Annotated[str | None, Query(description="Has an AI flag of this category.")] = None,
                   counselor: str | None = None, team: str | None = None,
                   provider: Annotated[str | None, Query(description="Transcribed by this provider.")] = None,
                   created_from: datetime | None = None, created_to: datetime | None = None,
                   analysis_failed: Annotated[bool | None, Query(description="Processing or a task failed.")] = None,
                   status: str | None = None, flagged: bool | None = None,
                   reviewed: bool | None = None) -> SessionFilter:
    return SessionFilter(status=status, flagged=flagged, reviewed=reviewed, risk_levels=tuple(risk_level or ()),
                         category=category, counselor=counselor, team=team, provider=provider,
                         created_from=created_from, created_to=created_to, analysis_failed=analysis_failed)


FilterDep = Annotated[SessionFilter, Depends(session_filter)]


@router.get("", response_model=list[SessionOut],
            description="The caller's tenant's sessions (an uploader's own), filtered. `order=queue`: flagged "
                        "unreviewed first by severity (unknown, high, medium, low) then oldest; then the rest, "
                        "newest first.")
async def list_sessions(ctx: ContextDep, principal: PrincipalDep, where: FilterDep,
                        order: Literal["newest", "severity", "queue"] | None = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                        offset: Annotated[int, Query(ge=0)] = 0) -> list[SessionOut]:
    return await tenant_read(ctx, principal, sessions.list_sessions, where=where, order=order, limit=limit,
                             offset=offset)


@router.get("/summary", response_model=SessionSummaryOut,
            description="Counts of what needs action under the same filters, and each filter's values.")
def sessions_summary(db: DbDep, principal: PrincipalDep, where: FilterDep) -> SessionSummaryOut:
    return sessions.session_summary(db, principal, where)


@router.get("/{session_id}", response_model=SessionOut)
async def get_session(session_id: uuid.UUID, ctx: ContextDep, principal: PrincipalDep) -> SessionOut:
    return await tenant_read(ctx, principal, sessions.get_session, session_id)


@router.get("/{session_id}/transcript", response_model=ReviewedTranscript,
            description="The agent-ready transcript: text, speakers, segments, with the supervisors' speaker "
                        "corrections and restored redactions applied.")
async def get_transcript(session_id: uuid.UUID, ctx: ContextDep, principal: PrincipalDep) -> Response:
    transcript = await off_loop(ctx, sessions.reviewed_transcript, ctx, principal, session_id)
    # Already validated: written as JSON by pydantic directly, not walked again by FastAPI's encoder.
    return Response(transcript.model_dump_json(), media_type="application/json")


@router.get("/{session_id}/transcript/raw", description="Each provider's full, unredacted output, by provider "
                                                       "(supervisors and admins; every read is audited).")
def get_raw_transcript(session_id: uuid.UUID, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return sessions.raw_transcripts_json(ctx, principal, session_id)


@router.get("/{session_id}/metrics", description="Transcript quality metrics and stage durations.")
def get_metrics(session_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> dict[str, Any]:
    return sessions.session_metrics(db, principal, session_id)


@router.get("/{session_id}/audio", description="The extracted 16 kHz mono audio (FLAC).")
def get_audio(session_id: uuid.UUID, ctx: ContextDep, principal: PrincipalDep) -> StreamingResponse:
    key = sessions.audio_key(ctx, principal, session_id)
    return StreamingResponse(read_in_chunks(ctx.store.open_stream(key)), media_type="audio/flac")


def read_in_chunks(stream: BinaryIO, size: int = 256 * 1024) -> Iterator[bytes]:
    """Fixed-size pieces: iterating a binary file yields it line by line (thousands of tiny writes for audio:
    1.9 s for a 2 MB FLAC, against 0.05 s in 64 KiB pieces)."""
    with contextlib.closing(stream):
        while chunk := stream.read(size):
            yield chunk


@router.get("/{session_id}/analysis", response_model=AnalysisOut)
def get_analysis(session_id: uuid.UUID, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> AnalysisOut:
    return reviews.analysis_view(ctx.store, db, principal, session_id)


@router.get("/{session_id}/analyses", response_model=list[AnalysisVersionOut],
            description="Every analysis of the session, newest first: model, prompt, rubric, sensitivity, inputs "
                        "key, what it found and what it cost (no text).")
def get_analysis_versions(session_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> list[AnalysisVersionOut]:
    return reviews.analysis_versions(db, principal, session_id)


@router.post("/{session_id}/reviews", status_code=201, response_model=ReviewOut)
def create_review(session_id: uuid.UUID, body: ReviewIn, ctx: ContextDep, db: DbDep,
                  principal: PrincipalDep) -> ReviewOut:
    # Only speaker corrections need the transcript, and redaction decisions its findings; other fields are judged
    # against the analysis alone.
    can_read = principal.can(Action.read_content)
    needs_transcript = reviews.is_speaker_field(body.field) and can_read
    transcript = sessions.stored_transcript(ctx, principal, session_id) if needs_transcript else None
    found = (redaction.redaction_values(redaction.stored_findings(ctx, principal.tenant_id, session_id))
             if redaction.is_redaction_field(body.field) and can_read else None)
    return reviews.create_review(ctx.store, db, principal, session_id, body, transcript, found)


@router.get("/{session_id}/redactions", response_model=list[RedactionOut],
            description="The personal data redacted from the transcript (kind and place, never the text) and each "
                        "finding's review: a supervisor restores a false positive with a review of its field.")
def get_redactions(session_id: uuid.UUID, ctx: ContextDep, db: DbDep, principal: PrincipalDep,
                   reveal: Annotated[bool, Query(description="Include the hidden words (reviewers; audited).")]
                   = False) -> list[RedactionOut]:
    return redaction.list_redactions(ctx, db, principal, session_id, reveal)


@router.get("/{session_id}/audit", response_model=list[AuditOut])
def get_audit(session_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> list[AuditOut]:
    principal.require(Action.read_content)
    access.owned_session(db, principal, session_id)
    return audit.session_audit(db, principal, session_id)


@router.get("/{session_id}/custody", response_model=CustodyOut)
def get_custody(session_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> CustodyOut:
    return audit.chain_of_custody(db, principal, session_id)


@router.post("/{session_id}/analyze", status_code=202, response_model=JobAccepted,
             responses={409: {"description": "no transcript yet"}},
             description="Analyse again (a new analysis version). Coalesced: while the session has an active "
                         "job, every call returns that job; when the latest analysis was made from the inputs a new "
                         "run would use (transcript, analyzer, prompt, rubric, risk model, sensitivity), its job is "
                         "returned (`same_inputs_as_version`) unless `force=true`.")
def analyze_session(session_id: uuid.UUID, ctx: ContextDep, principal: PrincipalDep,
                    force: Annotated[bool, Query(description="Run again even when the inputs are unchanged.")] = False,
                    ) -> JobAccepted:
    return reprocess.request_analysis(ctx, principal, session_id, force=force)


@router.post("/{session_id}/reprocess", status_code=202, response_model=JobAccepted,
             description="Run the pipeline again, e.g. for a failed or dead job. Coalesced like analyze.")
def reprocess_session(session_id: uuid.UUID, ctx: ContextDep, principal: PrincipalDep) -> JobAccepted:
    return reprocess.request_reprocess(ctx, principal, session_id)
