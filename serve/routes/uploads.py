"""Direct uploads: a URL to send a large file to, bypassing the API's request path."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from serve.deps import ContextDep, PrincipalDep
from vigil.schemas.api import DirectUploadIn, DirectUploadOut, UploadAccepted
from vigil.services import uploads

router = APIRouter(prefix="/api/v1", tags=["uploads"])


@router.post("/uploads", status_code=201, response_model=DirectUploadOut)
def create_upload(body: DirectUploadIn, ctx: ContextDep, principal: PrincipalDep) -> DirectUploadOut:
    """A session awaiting its media, and where to PUT it: a presigned S3 URL, or (local store) a signed
    one-time URL on this API. Expires after UPLOAD_URL_TTL_SECONDS unless submitted."""
    return uploads.create_direct_upload(ctx, principal, body.filename, body.title, counselor=body.counselor,
                                        team=body.team)


class _RequestBody:
    """A file-like view of the request body for the synchronous store (read in a worker thread)."""

    def __init__(self, request: Request) -> None:
        import anyio.from_thread

        self._chunks = request.stream()
        self._buffer = b""
        self._portal = anyio.from_thread

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += self._portal.run(self._chunks.__anext__)
            except StopAsyncIteration:
                break
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


@router.put("/uploads/{session_id}/content", status_code=204, include_in_schema=True,
            description="The local store's signed one-time upload URL (no bearer token: the signature is it).")
async def put_upload(session_id: uuid.UUID, request: Request, ctx: ContextDep,
                     expires: Annotated[int, Query()], signature: Annotated[str, Query()]) -> Response:
    import anyio.to_thread

    body = _RequestBody(request)
    await anyio.to_thread.run_sync(uploads.receive_direct_upload, ctx, session_id, expires, signature, body)
    return Response(status_code=204)


@router.post("/sessions/{session_id}/submit", status_code=202, response_model=UploadAccepted,
             tags=["sessions"], responses={409: {"description": "nothing uploaded yet, or submitted already"},
                                           415: {"description": "the uploaded bytes are not media"}})
def submit_upload(session_id: uuid.UUID, ctx: ContextDep, principal: PrincipalDep) -> UploadAccepted:
    session, job = uploads.submit_upload(ctx, principal, session_id)
    return UploadAccepted(session_id=session.id, job_id=job.id)
