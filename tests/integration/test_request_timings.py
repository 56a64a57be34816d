"""Request timings are written off the request path by a background flusher: every timing recorded before the app
shuts down is stored, and when the database cannot keep up the queue stays bounded, counting what it drops."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from serve.timing import TimingRecorder
from tests.conftest import Tenant, tenant_id_of
from vigil.context import Context
from vigil.db.models import RequestTiming


def stored(ctx: Context, tenant_id: uuid.UUID, route: str) -> int:
    with ctx.system_db() as db:
        return db.scalar(sa.select(sa.func.count()).select_from(RequestTiming).where(
            RequestTiming.tenant_id == tenant_id, RequestTiming.route == route)) or 0


def test_every_request_answered_before_shutdown_has_its_timing_stored(ctx: Context, tenant_a: Tenant) -> None:
    app = configure(create_app(), ctx)
    with TestClient(app) as client:
        for _ in range(25):
            assert client.get("/api/v1/me", headers=tenant_a.headers()).status_code == 200
    # No flush was asked for: leaving the client shut the app down, and shutting down stored them.
    assert stored(ctx, tenant_id_of(ctx, tenant_a), "/api/v1/me") == 25


def test_a_close_stores_every_pending_timing_even_past_a_batch(ctx: Context, tenant_a: Tenant) -> None:
    recorder = TimingRecorder(lambda: ctx, interval=3600, batch=1000)
    tenant_id = tenant_id_of(ctx, tenant_a)
    for n in range(2500):  # a batch's worth wakes the flusher; the rest waits for close()
        recorder.record(tenant_id, "GET", "/closing", 200, n / 10)
    recorder.close()
    assert stored(ctx, tenant_id, "/closing") == 2500 and recorder.dropped == 0


def test_a_full_queue_drops_and_counts_new_timings_instead_of_growing(ctx: Context, tenant_a: Tenant) -> None:
    unreachable: list[Context | None] = [None]  # no database yet: nothing can be written
    recorder = TimingRecorder(lambda: unreachable[0], interval=3600, batch=10_000, max_pending=100)
    tenant_id = tenant_id_of(ctx, tenant_a)
    for _ in range(130):
        recorder.record(tenant_id, "GET", "/bounded", 200, 1.0)
    assert recorder.dropped == 30
    unreachable[0] = ctx
    recorder.close()
    assert stored(ctx, tenant_id, "/bounded") == 100
