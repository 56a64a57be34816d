"""`Idempotency-Key` on POSTs (see vigil.services.idempotency): the same key from the same caller, within a day, gets
the first answer again, marked `Idempotent-Replayed: true`, and the work is not done twice.

A request is recognised by method, path, query, content type and body. Bodies up to 1 MiB are read and hashed
(every JSON POST); a larger one (an upload) is recognised by its length instead of being held in memory."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from serve.deps import principal_of, process_context
from vigil.context import Context
from vigil.errors import VigilError
from vigil.services import idempotency
from vigil.services.access import Principal

HEADER = b"idempotency-key"
VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces: what clients send (UUIDs, hashes)
HASHED_BODY = 1 << 20


def _headers(scope: dict[str, Any]) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers") or []}


async def _answer(send: Callable[[dict[str, Any]], Any], status: int, body: bytes, content_type: str | None,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", (content_type or "application/json").encode()),
               (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _problem(send: Callable[[dict[str, Any]], Any], status: int, detail: str, code: str,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await _answer(send, status, json.dumps({"detail": detail, "code": code}).encode(), None, extra)


class IdempotencyMiddleware:
    def __init__(self, app: Callable[..., Any], context: Callable[[], Context | None] = process_context) -> None:
        self.app, self.context = app, context

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Any],
                       send: Callable[[dict[str, Any]], Any]) -> None:
        headers = _headers(scope) if scope["type"] == "http" and scope["method"] == "POST" else {}
        sent_key = headers.get(HEADER)
        ctx = getattr(getattr(scope.get("app"), "state", None), "ctx", None) or self.context()
        if sent_key is None or ctx is None:
            await self.app(scope, receive, send)
            return
        key = sent_key.decode("latin-1")
        if not VALID_KEY.fullmatch(key):
            await _problem(send, 400, "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
                           "invalid_idempotency_key")
            return
        principal = await run_in_threadpool(_principal, ctx, headers.get(b"authorization", b""))
        if principal is None:  # the route answers 401 in its own words
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal  # the route's get_principal need not look it up again
        content_type, boundary = _content_type(headers)
        receive, body_digest = await _digest_body(headers, receive, boundary)
        request = idempotency.fingerprint(scope["method"], scope["path"], scope.get("query_string", b""),
                                          content_type, body_digest)
        try:
            kept = await run_in_threadpool(idempotency.begin, ctx, principal, key, request)
        except idempotency.KeyReused:
            await _problem(send, 422, "this Idempotency-Key was first sent with a different request; use a new key "
                           "for a new request", "idempotency_key_reused")
            return
        except idempotency.StillAnswering:
            await _problem(send, 409, "the first request with this Idempotency-Key is still being answered; retry "
                           "shortly", "idempotency_key_in_use", [(b"retry-after", b"1")])
            return
        if kept is not None:
            await _answer(send, kept.status_code, kept.body, kept.content_type, [(b"idempotent-replayed", b"true")])
            return
        await self._answer_and_keep(scope, receive, send, ctx, principal, key)

    async def _answer_and_keep(self, scope: dict[str, Any], receive: Callable[[], Any],
                               send: Callable[[dict[str, Any]], Any], ctx: Context, principal: Principal,
                               key: str) -> None:
        answer: dict[str, Any] = {"status": 500, "content_type": None, "body": bytearray()}

        async def keep(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["content_type"] = dict(message.get("headers") or []).get(b"content-type", b"").decode()
            elif message["type"] == "http.response.body" and len(answer["body"]) <= idempotency.MAX_KEPT_BODY:
                answer["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, receive, keep)
        except BaseException:
            await run_in_threadpool(idempotency.release, ctx, principal, key)
            raise
        await run_in_threadpool(idempotency.finish, ctx, principal, key, answer["status"], answer["content_type"],
                                bytes(answer["body"]))


def _principal(ctx: Context, authorization: bytes) -> Principal | None:
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return principal_of(ctx, token.strip())
    except VigilError:  # a refused provider token: the route answers in its own words
        return None


def _content_type(headers: dict[bytes, bytes]) -> tuple[str, bytes | None]:
    """The content type without a multipart boundary, and the boundary: clients draw a new boundary for every
    request, so the same form sent twice differs only there."""
    content_type = headers.get(b"content-type", b"").decode("latin-1")
    kind, _, params = content_type.partition(";")
    if kind.strip().lower().startswith("multipart/"):
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "boundary" and value:
                return kind.strip().lower(), value.strip('"').encode("latin-1")
    return content_type, None


async def _digest_body(headers: dict[bytes, bytes], receive: Callable[[], Any],
                       boundary: bytes | None) -> tuple[Callable[[], Any], str]:
    """The body's sha256 (read, then handed on unchanged; a multipart boundary counts as any other), or for a body
    over 1 MiB or of unknown length, its declared length: an upload is not held in memory to be recognised."""
    length = headers.get(b"content-length")
    if length is None or not length.isdigit() or int(length) > HASHED_BODY:
        return receive, f"length:{(length or b'?').decode('latin-1')}"
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return receive, "disconnected"
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> dict[str, Any]:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay, hashlib.sha256(body.replace(boundary, b"--") if boundary else body).hexdigest()
