"""POSTs with an `Idempotency-Key`: the same caller sending the same key gets the first answer again and the work
is done once; a key sent with another request, or while the first is being answered, is refused; the kept answer
is sealed in the database."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import SAMPLES, Tenant
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.context import Context
from vigil.db.models import IdempotencyKey, Review, Session
from vigil.services.pipeline import run_analyze

UPLOAD = (SAMPLES / "routine-coaching.m4a").read_bytes()


def _upload(client: TestClient, tenant: Tenant, key: str | None, title: str = "idem") -> object:
    headers = {**tenant.headers("uploader"), **({"Idempotency-Key": key} if key is not None else {})}
    return client.post("/api/v1/sessions", headers=headers, files={"file": ("a.m4a", UPLOAD)}, data={"title": title})


def _sessions_titled(ctx: Context, title: str) -> int:
    with ctx.system_db() as db:
        return db.scalar(sa.select(sa.func.count()).select_from(Session).where(Session.title == title))


def test_the_same_key_gets_the_same_answer_and_one_session(client: TestClient, ctx: Context,
                                                           tenant_a: Tenant) -> None:
    title, key = f"idem-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    first, again = _upload(client, tenant_a, key, title), _upload(client, tenant_a, key, title)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _sessions_titled(ctx, title) == 1
    assert _upload(client, tenant_a, None, title).json()["session_id"] != first.json()["session_id"]
    assert _sessions_titled(ctx, title) == 2, "without a key every POST is new work"


def test_a_key_sent_with_another_request_is_refused(client: TestClient, ctx: Context, tenant_a: Tenant) -> None:
    title, key = f"idem-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    assert _upload(client, tenant_a, key, title).status_code == 202
    other = _upload(client, tenant_a, key, title + "-other")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert _sessions_titled(ctx, title + "-other") == 0


def test_keys_are_each_callers_own(client: TestClient, ctx: Context, tenant_a: Tenant, tenant_b: Tenant) -> None:
    title, key = f"idem-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    mine, theirs = _upload(client, tenant_a, key, title), _upload(client, tenant_b, key, title)
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["session_id"] != theirs.json()["session_id"], "another tenant's key never answers for us"
    assert _sessions_titled(ctx, title) == 2


def test_a_burst_with_one_key_does_the_work_once(client: TestClient, ctx: Context, tenant_a: Tenant) -> None:
    title, key = f"idem-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _upload(client, tenant_a, key, title), range(16)))
    done = [a for a in answers if a.status_code == 202]
    busy = [a for a in answers if a.status_code == 409]
    assert len(done) + len(busy) == 16 and done
    assert {a.json()["session_id"] for a in done} == {done[0].json()["session_id"]}
    assert all(a.json()["code"] == "idempotency_key_in_use" and a.headers["retry-after"] == "1" for a in busy)
    assert _sessions_titled(ctx, title) == 1


def test_malformed_keys_are_refused(client: TestClient, tenant_a: Tenant) -> None:
    for bad in ("", "has space", "x" * 256):
        answer = _upload(client, tenant_a, bad)
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_idempotency_key", bad


def test_a_kept_answer_with_text_is_sealed_in_the_database(client: TestClient, ctx: Context,
                                                           tenant_a: Tenant) -> None:
    from tests.integration.test_analysis_tasks import transcribed_session

    claim = transcribed_session(ctx, tenant_a)
    run_analyze(ctx, claim, OfflineAnalyzer())
    words = f"Agreed a safety plan with the client {uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    path = f"/api/v1/sessions/{claim.session_id}/reviews"
    body = {"field": "summary", "value": words, "reason": "the summary missed the plan"}
    answers = [client.post(path, headers={**tenant_a.headers(), "Idempotency-Key": key}, json=body)
               for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201] and answers[0].json() == answers[1].json()
    with ctx.system_db() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Review)
                         .where(Review.session_id == claim.session_id)) == 1
        kept = db.scalar(sa.select(IdempotencyKey.body).where(IdempotencyKey.key == key))
    assert kept is not None and words.encode() not in kept and kept.startswith(b"VGE1")


@pytest.mark.parametrize("role", ["supervisor"])
def test_an_unauthenticated_post_with_a_key_is_refused_by_the_route(client: TestClient, role: str) -> None:
    answer = client.post("/api/v1/sessions", headers={"Idempotency-Key": "k1"}, files={"file": ("a.m4a", UPLOAD)})
    assert answer.status_code == 401


def test_an_answer_that_says_try_again_is_not_kept_so_the_retry_does_the_work(ctx: Context, tenant_a: Tenant) -> None:
    from vigil.services import idempotency
    from vigil.services.auth import authenticate

    with ctx.system_db() as db:
        caller = authenticate(db, tenant_a.uploader)
    key, request = str(uuid.uuid4()), idempotency.fingerprint("POST", "/api/v1/sessions", b"", "x", "d")
    for status in (500, 503, 429):
        assert idempotency.begin(ctx, caller, key, request) is None, "the key is free: the request runs"
        idempotency.finish(ctx, caller, key, status, "application/json", b'{"detail": "busy"}')
    assert idempotency.begin(ctx, caller, key, request) is None
    idempotency.finish(ctx, caller, key, 202, "application/json", b'{"session_id": "s"}')
    kept = idempotency.begin(ctx, caller, key, request)
    assert kept is not None and (kept.status_code, kept.body) == (202, b'{"session_id": "s"}')
