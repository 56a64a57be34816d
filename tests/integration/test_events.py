"""Live events: GET /api/v1/events over real HTTP (the API under uvicorn on loopback) and a real database. Each tenant's
stream carries only its own events, each role only the kinds it may read; a client that resumes with Last-Event-ID
gets exactly what came after, even from inside one transaction's events; a transaction that commits late is still
delivered; no event carries what was said; old events are pruned."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import SAMPLES, Tenant, api_on_loopback, isolated_context, make_tenant, tenant_id_of
from tests.integration.test_analysis_tasks import SEGMENTS, transcribed_session
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.context import Context
from vigil.db.models import Event, utcnow
from vigil.db.models import Session as SessionRow
from vigil.schemas.transcripts import Segment
from vigil.services import events
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload
from vigil.services.jobs import claim_stages, complete_stage, fail_stage
from vigil.services.pipeline import run_analyze

POLL = 0.05
KEEPALIVE = 0.3


@dataclass
class Api:
    ctx: Context
    url: str


@dataclass(frozen=True)
class Seen:
    id: str
    kind: str
    session_id: str | None
    data: dict


@pytest.fixture(scope="module")
def api(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The API on loopback over a database of its own (the tests claim stages by hand: only their own)."""
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("events"), events_poll_seconds=POLL,
                           events_keepalive_seconds=KEEPALIVE, api_rate_limit="")
    with api_on_loopback(ctx) as url:
        yield Api(ctx, url)


class Stream:
    """An event stream opened now (its response headers are in, so its starting point is fixed); `read()` takes
    everything it sends until the server ends it after `seconds`."""

    def __init__(self, api: Api, tenant: Tenant, role: str = "supervisor", seconds: float = 60.0,
                 last_event_id: str | None = None, since: str | None = None) -> None:
        headers = {**tenant.headers(role), **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        params = {"max_seconds": seconds, **({"since": since} if since else {})}
        self.http = httpx.Client(base_url=api.url, timeout=30)
        self.response = self.http.send(self.http.build_request("GET", "/api/v1/events", headers=headers,
                                                               params=params), stream=True)

    def read(self, until: str | None = None, to_end: bool = False) -> tuple[list[Seen], str]:
        """What the stream sends once the caller's work is done: up to a keepalive the server sent after it had
        polled past that work (so every event the work committed is in), or until the server ends the stream, or
        (`until`) until an event of that kind has come; `to_end`: until the server ends it."""
        called = time.monotonic()
        settled = 2 * POLL + KEEPALIVE  # a keepalive later than this follows a poll after the call
        try:
            assert self.response.status_code == 200, self.response.read()
            assert self.response.headers["content-type"].startswith("text/event-stream")
            raw = ""
            for line in self.response.iter_lines():
                raw += line + "\n"
                if until and line == f"event: {until}":
                    until = "\0"  # stop at the end of this event's block
                elif until == "\0" and line == "":
                    break
                elif not to_end and line.startswith(":") and time.monotonic() - called > settled:
                    break
        finally:
            self.response.close()
            self.http.close()
        return parse(raw), raw


def parse(raw: str) -> list[Seen]:
    seen = []
    for block in raw.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "data" in fields:
            body = json.loads(fields["data"])
            assert body["kind"] == fields["event"]
            seen.append(Seen(id=fields["id"], kind=body["kind"], session_id=body["session_id"], data=body["data"]))
    return seen


def upload(ctx: Context, tenant: Tenant) -> uuid.UUID:
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    assert principal is not None
    session, _ = accept_upload(ctx, principal, io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()), "a.mp3", None)
    return session.id


def run_queued_jobs(ctx: Context) -> None:
    """Every claimable stage, claimed and completed (as the dispatcher would, without doing the work), until none."""
    while True:
        with ctx.system_db() as db:
            claims = claim_stages(db, 60, limit=10)
        if not claims:
            return
        for claim in claims:
            with ctx.system_db() as db:
                complete_stage(db, claim, 0.25)


def flagged(ctx: Context, tenant: Tenant) -> uuid.UUID:
    """A session analyzed for real (a disclosure: flagged), its job then completed."""
    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, OfflineAnalyzer())
    with ctx.system_db() as db:
        complete_stage(db, claim, 0.5)
    return claim.session_id


def test_a_tenants_stream_never_carries_another_tenants_events(api: Api) -> None:
    a, b = make_tenant(api.ctx), make_tenant(api.ctx)
    stream_a, stream_b = Stream(api, a, seconds=2), Stream(api, b, seconds=2)
    mine = {"a": [upload(api.ctx, a), flagged(api.ctx, a)], "b": [upload(api.ctx, b), flagged(api.ctx, b)]}
    run_queued_jobs(api.ctx)
    (seen_a, raw_a), (seen_b, raw_b) = stream_a.read(), stream_b.read()

    for seen, raw, own, other in ((seen_a, raw_a, mine["a"], mine["b"]), (seen_b, raw_b, mine["b"], mine["a"])):
        assert {e.kind for e in seen} == {"job.progress", "session.ready", "flag.new"}
        assert {uuid.UUID(e.session_id) for e in seen} == set(own), "its own sessions' events, and only those"
        assert not [s for s in other if str(s) in raw], "not a trace of the other tenant's sessions"
    with api.ctx.system_db() as db:  # both tenants' rows are in the one table: the wall is what kept them apart
        tenants = set(db.scalars(sa.select(Event.tenant_id).where(Event.session_id.in_(mine["a"] + mine["b"]))))
    assert tenants == {tenant_id_of(api.ctx, a), tenant_id_of(api.ctx, b)}


def test_an_uploader_sees_progress_but_never_a_flag(api: Api) -> None:
    tenant = make_tenant(api.ctx)
    as_uploader, as_lead = Stream(api, tenant, "uploader"), Stream(api, tenant, "lead")
    session_id = flagged(api.ctx, tenant)
    (uploader, raw), (lead, _) = as_uploader.read(until="session.ready"), as_lead.read(until="session.ready")
    assert [e.kind for e in uploader] == ["job.progress", "session.ready"]
    assert "flag.new" not in raw and "risk_level" not in raw
    assert [e.kind for e in lead] == ["flag.new", "job.progress", "session.ready"]
    assert {e.session_id for e in uploader + lead} == {str(session_id)}


def test_job_events_follow_each_stage_with_the_job_and_stage(api: Api) -> None:
    tenant = make_tenant(api.ctx)
    stream = Stream(api, tenant)
    session_id = upload(api.ctx, tenant)
    run_queued_jobs(api.ctx)
    seen, _ = stream.read()
    steps = [(e.kind, e.data.get("stage"), e.data.get("status"), e.data.get("next_stage")) for e in seen]
    assert steps == [("job.progress", "extract", "running", None), ("job.progress", "extract", "done", "transcribe"),
                     ("job.progress", "transcribe", "running", None),
                     ("job.progress", "transcribe", "done", "analyze"),
                     ("job.progress", "analyze", "running", None), ("job.progress", "analyze", "done", None),
                     ("session.ready", None, None, None)]
    assert len({e.data["job_id"] for e in seen}) == 1 and {e.session_id for e in seen} == {str(session_id)}
    assert seen[1].data["duration_seconds"] == 0.25


def test_a_retry_and_a_failure_carry_the_error_code_and_never_its_words(api: Api) -> None:
    tenant = make_tenant(api.ctx)
    stream = Stream(api, tenant, "lead")
    upload(api.ctx, tenant)
    words = "she said she has been thinking about killing herself"
    for transient in (True, False):
        with api.ctx.system_db() as db:
            [claim] = claim_stages(db, 60, ["extract"], limit=1)
        with api.ctx.system_db() as db:
            fail_stage(db, claim, code="provider_error" if transient else "invalid_evidence", detail=words,
                       transient=transient, duration_seconds=0.1, retry_base_seconds=0.0)
    seen, raw = stream.read()
    assert [(e.kind, e.data.get("status"), e.data.get("error_code")) for e in seen] == [
        ("job.progress", "running", None), ("job.progress", "queued", "provider_error"),
        ("job.progress", "running", None), ("session.failed", "failed", "invalid_evidence")]
    assert "thinking" not in raw and "killing" not in raw


def test_resuming_with_last_event_id_gets_exactly_the_events_after_it(api: Api) -> None:
    tenant = make_tenant(api.ctx)
    first = Stream(api, tenant, "lead")
    upload(api.ctx, tenant)
    upload(api.ctx, tenant)
    run_queued_jobs(api.ctx)  # two jobs claimed together: two events in one transaction, and so on
    flagged(api.ctx, tenant)  # the last stage's done and session.ready share a transaction
    seen, _ = first.read()
    assert len(seen) == 2 * 7 + 3 and len({e.id for e in seen}) == len(seen)
    xids = [events.Cursor.parse(e.id).xid for e in seen]
    assert len(set(xids)) < len(xids), "some events share a transaction: resuming inside one is tested"
    for k, event in enumerate(seen):
        again, _ = Stream(api, tenant, "lead", seconds=0.2, last_event_id=event.id).read()
        assert again == seen[k + 1:], f"resumed after event {k}"
    by_query, _ = Stream(api, tenant, "lead", seconds=0.2, since=seen[3].id).read()
    assert by_query == seen[4:]


def test_a_transaction_that_started_first_but_commits_last_is_still_delivered(api: Api) -> None:
    tenant = make_tenant(api.ctx)
    tenant_id = tenant_id_of(api.ctx, tenant)
    stream = Stream(api, tenant, seconds=2)
    with api.ctx.tenant_db(tenant_id) as slow, api.ctx.tenant_db(tenant_id) as quick, \
            api.ctx.tenant_db(tenant_id) as reader:
        events.emit(slow, tenant_id, "job.progress", None, job_id="slow", stage="extract", status="running")
        slow.flush()  # its transaction has an id now, and stays open
        events.emit(quick, tenant_id, "job.progress", None, job_id="quick", stage="extract", status="running")
        quick.commit()  # a later transaction, committed first
        with api.ctx.system_db() as db:
            principal = authenticate(db, tenant.supervisor)
        assert principal is not None
        held = events.read_since(reader, principal, events.Cursor(0))
        assert [e.data["job_id"] for e in held.events] == [], "nothing past the open transaction is final yet"
        slow.commit()
        reader.rollback()
        both = events.read_since(reader, principal, held.cursor)
        assert [e.data["job_id"] for e in both.events] == ["slow", "quick"]
    seen, _ = stream.read()
    assert [e.data["job_id"] for e in seen] == ["slow", "quick"], "the stream delivered both, in commit-safe order"


def test_no_event_of_an_analyzed_session_carries_what_was_said(api: Api) -> None:
    tenant = make_tenant(api.ctx)
    stream = Stream(api, tenant, "admin")
    session_id = flagged(api.ctx, tenant)
    seen, raw = stream.read()
    [flag] = [e for e in seen if e.kind == "flag.new"]
    assert flag.session_id == str(session_id)
    assert set(flag.data) == {"job_id", "analysis_version", "risk_level", "categories", "severities"}
    with api.ctx.system_db() as db:
        session = db.get(SessionRow, session_id)
    assert session is not None and session.flagged
    assert (flag.data["risk_level"], flag.data["categories"]) == (session.ai_risk_level, session.risk_categories)
    assert "suicidal_ideation" in flag.data["categories"]
    assert set(flag.data["severities"]) == set(flag.data["categories"])
    spoken = {w for s in SEGMENTS for w in re.findall(r"[a-z]{5,}", s.text.lower())}
    assert spoken and not spoken & set(re.findall(r"[a-z]{5,}", raw.lower())), "no transcript words"


class RiskFails(OfflineAnalyzer):
    def assess(self, transcript, rubric=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("the risk model is down")


def test_a_flag_is_new_when_the_analysis_flags_or_its_risk_task_failed_and_not_otherwise(api: Api) -> None:
    tenant = make_tenant(api.ctx)
    stream = Stream(api, tenant, "lead")
    routine = transcribed_session(api.ctx, tenant, [Segment(index=0, start=0.0, end=3.0, speaker="client",
                                                            text="we went for a walk and it was nice")])
    run_analyze(api.ctx, routine, OfflineAnalyzer())
    unknown = transcribed_session(api.ctx, tenant)
    run_analyze(api.ctx, unknown, RiskFails())
    seen, _ = stream.read()
    flags = [(e.session_id, e.data["risk_level"], e.data["categories"]) for e in seen if e.kind == "flag.new"]
    assert flags == [(str(unknown.session_id), "unknown", [])]


def test_a_new_stream_starts_with_new_events_only_and_keeps_quiet_connections_alive(api: Api) -> None:
    tenant = make_tenant(api.ctx)
    flagged(api.ctx, tenant)  # before the stream: not sent
    seen, raw = Stream(api, tenant, seconds=1).read(to_end=True)
    assert seen == []
    assert raw.startswith("retry: ") and raw.count(": keepalive\nid: ") >= 2


def test_bad_cursors_and_missing_tokens_are_refused(api: Api) -> None:
    tenant = make_tenant(api.ctx)
    with httpx.Client(base_url=api.url, timeout=10) as http:
        assert http.get("/api/v1/events", params={"max_seconds": 1}).status_code == 401
        for cursor in ("abc", "1-2-3", "99999999999999999999", str(2**62)):
            answer = http.get("/api/v1/events", params={"max_seconds": 1}, headers={**tenant.headers(),
                                                                                     "Last-Event-ID": cursor})
            assert answer.status_code == 400 and answer.json()["code"] == "invalid_cursor", cursor
        assert http.get("/api/v1/events", params={"max_seconds": 0}, headers=tenant.headers()).status_code == 422


def test_prune_deletes_only_events_older_than_the_setting(api: Api) -> None:
    a, b = make_tenant(api.ctx), make_tenant(api.ctx)
    ids = {}
    for tenant, age in ((a, 30), (b, 30), (a, 1)):
        tenant_id = tenant_id_of(api.ctx, tenant)
        with api.ctx.tenant_db(tenant_id) as db:
            events.emit(db, tenant_id, "job.progress", None, job_id=f"aged-{age}", stage="extract", status="running")
            db.flush()
            row = db.scalars(sa.select(Event).order_by(Event.id.desc()).limit(1)).one()
            row.created_at = utcnow() - timedelta(hours=age)
            ids[(tenant.name, age)] = row.id
            db.commit()
    assert events.prune_expired(api.ctx) >= 2  # EVENTS_KEEP_HOURS: 24
    with api.ctx.system_db() as db:
        left = set(db.scalars(sa.select(Event.id).where(Event.id.in_(list(ids.values())))))
    assert left == {ids[(a.name, 1)]}
