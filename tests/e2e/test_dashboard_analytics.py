"""The Latency and Quality trends pages, driven by streamlit's AppTest as a signed-in lead, against the real API
(uvicorn on loopback) and PostgreSQL. Sessions go through the real job functions (claim, complete, fail) with
known stage durations, and the real analyze stage (offline analyzer); supervisors review them through the API."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from tests.conftest import SAMPLES, Tenant, api_on_loopback, isolated_context, make_tenant
from vigil.context import Context

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
RISKY = [("counselor", "hi how have you been this week"),
         ("client", "um honestly i have been thinking about killing myself"),
         ("counselor", "Thank you for telling me. Are you safe right now?")]
ROUTINE = [("counselor", "what would you like to work on today"),
           ("client", "I want to get better at planning my week and keeping to it"),
           ("counselor", "It sounds like structure matters to you. What has worked before?")]


@dataclass
class Live:
    url: str
    ctx: Context
    tenant: Tenant
    sessions: list[str]  # ana's risky and routine (this week), ben's risky (this week) and routine (last week)


def _agent_transcript(session_id: uuid.UUID, lines: list[tuple[str, str]]) -> bytes:
    from vigil.schemas.transcripts import AgentTranscript, Segment, TranscriptMetrics

    segments = [Segment(index=i, start=i * 5.0, end=i * 5.0 + 4.0, speaker=speaker, text=text)
                for i, (speaker, text) in enumerate(lines)]
    text = " ".join(text for _, text in lines)
    return AgentTranscript(session_id=session_id, provider="test", language="en", duration=15.0, text=text,
                           segments=segments, metrics=TranscriptMetrics(
                               word_count=len(text.split()), duration_seconds=15.0, speaking_rate_wpm=100,
                               mean_confidence=None, low_confidence_share=None)).model_dump_json().encode()


def _processed_session(ctx: Context, tenant: Tenant, *, counselor: str, team: str | None,
                       lines: list[tuple[str, str]], seconds: tuple[float, float, float],
                       failed_transcribe_seconds: float | None = None) -> str:
    """Upload, then run each stage's job steps for real and record it as taking `seconds` (extract, transcribe,
    analyze). Extract and transcribe leave their work out (the agent transcript is written directly): these pages
    show recorded durations, not audio. Analyze runs for real with the offline analyzer."""
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.services.auth import authenticate
    from vigil.services.ingest import accept_upload
    from vigil.services.jobs import claim_next_stage, complete_stage, fail_stage
    from vigil.services.pipeline import run_analyze
    from vigil.storage.base import TRANSCRIPT_AGENT_NAME, artifact_key

    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    session, _ = accept_upload(ctx, principal, io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()), "call.mp3",
                               None, counselor=counselor, team=team)
    for stage, duration in zip(("extract", "transcribe", "analyze"), seconds, strict=True):
        with ctx.system_db() as db:
            claim = claim_next_stage(db, 60)
            assert claim is not None and claim.session_id == session.id and claim.stage == stage
            if stage == "transcribe" and failed_transcribe_seconds is not None:
                fail_stage(db, claim, code="provider_timeout", detail="whisper timed out", transient=True,
                           duration_seconds=failed_transcribe_seconds, retry_base_seconds=0)
                claim = claim_next_stage(db, 60)
                assert claim is not None and claim.attempt == 2
        if stage == "analyze":
            ctx.store.put_bytes(artifact_key(session.tenant_id, session.id, TRANSCRIPT_AGENT_NAME),
                                _agent_transcript(session.id, lines))
            run_analyze(ctx, claim, OfflineAnalyzer())
        with ctx.system_db() as db:
            complete_stage(db, claim, duration)
    return str(session.id)


def _transcribed_by(ctx: Context, session_id: str, confidences: dict[str, float], agreement: float | None) -> None:
    """The transcript rows transcription leaves: one per provider, and a reconciled one when several ran."""
    from vigil.db.models import Session, Transcript

    with ctx.system_db() as db:
        session = db.get(Session, uuid.UUID(session_id))
        for provider, confidence in confidences.items():
            db.add(Transcript(tenant_id=session.tenant_id, session_id=session.id, provider=provider, model=provider,
                              language="en", word_count=30, duration_seconds=15.0,
                              mean_confidence=confidence,
                              metrics={} if provider != "reconciled" else {"agreement_rate": agreement}))
        db.commit()


def _model_usage(ctx: Context, session_id: str, tokens_in: int, tokens_out: int, cost: float) -> None:
    """What a paid model would have reported (the offline analyzer costs nothing)."""
    from vigil.db.models import Analysis

    with ctx.system_db() as db:
        db.execute(sa.update(Analysis).where(Analysis.session_id == uuid.UUID(session_id))
                   .values(tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost))
        db.commit()


def _a_week_earlier(ctx: Context, session_id: str) -> None:
    from vigil.db.models import Session

    with ctx.system_db() as db:
        db.execute(sa.update(Session).where(Session.id == uuid.UUID(session_id))
                   .values(created_at=Session.created_at - timedelta(days=7),
                           analysis_ready_at=Session.analysis_ready_at - timedelta(days=7)))
        db.commit()


def _request_timings_recorded(url: str, tenant: Tenant, at_least: int) -> None:
    """The API writes timings in batches about every second: wait until ours are stored."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rows = httpx.get(f"{url}/api/v1/analytics/request-timings", headers=tenant.headers("lead")).json()
        if len([r for r in rows if "analytics" not in r["route"]]) >= at_least:
            return
        time.sleep(0.3)
    raise AssertionError("request timings were not recorded")


@pytest.fixture(scope="module")
def live(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("dash-analytics"))
    tenant = make_tenant(ctx)
    sessions = [
        _processed_session(ctx, tenant, counselor="ana", team="north", lines=RISKY, seconds=(1.0, 10.0, 2.0)),
        _processed_session(ctx, tenant, counselor="ana", team="north", lines=ROUTINE, seconds=(2.0, 20.0, 4.0)),
        _processed_session(ctx, tenant, counselor="ben", team=None, lines=RISKY, seconds=(3.0, 30.0, 6.0),
                           failed_transcribe_seconds=5.0),
        _processed_session(ctx, tenant, counselor="ben", team=None, lines=ROUTINE, seconds=(4.0, 40.0, 8.0)),
    ]
    _transcribed_by(ctx, sessions[0], {"whisper": 0.8, "assemblyai": 0.9, "reconciled": 0.85}, agreement=0.9)
    _transcribed_by(ctx, sessions[1], {"whisper": 0.7}, agreement=None)
    for sid, tokens_in, tokens_out, cost in ((sessions[0], 1200, 300, 0.012), (sessions[1], 700, 200, 0.008),
                                             (sessions[2], 800, 200, 0.01)):
        _model_usage(ctx, sid, tokens_in, tokens_out, cost)
    _a_week_earlier(ctx, sessions[3])
    with api_on_loopback(ctx) as url:
        mp = pytest.MonkeyPatch()
        mp.setenv("API_URL", url)
        with httpx.Client(base_url=url) as http:
            for sid, value in ((sessions[0], "high"), (sessions[1], "none")):  # AI said medium, then none
                http.post(f"/api/v1/sessions/{sid}/reviews", headers=tenant.headers("supervisor"),
                          json={"field": "risk_level", "value": value, "reason": "listened to the recording"}
                          ).raise_for_status()
            for sid in [*sessions, str(uuid.uuid4())]:  # the last one is not found: a 404, not an error
                http.get(f"/api/v1/sessions/{sid}", headers=tenant.headers("lead"))
        _request_timings_recorded(url, tenant, at_least=7)
        yield Live(url=url, ctx=ctx, tenant=tenant, sessions=sessions)
        mp.undo()


def _page(live: Live, page: str, token: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["token"] = token or live.tenant.lead
    at.run()
    return at.switch_page(page).run()


def _table(at: AppTest, column: str) -> list[dict]:
    frames = [df.value for df in at.dataframe if column in df.value.columns]
    assert frames, f"no table with a {column!r} column"
    return frames[0].to_dict("records")


def _histogram_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("n = ")]


def test_latency_shows_stage_percentiles_and_failed_attempts(live: Live) -> None:
    at = _page(live, "pages/latency.py")
    assert not at.exception
    assert at.title[0].value == "Latency"
    at.radio(key="latency_window").set_value("All").run()
    stages = {row["stage"]: row for row in _table(at, "failed_attempts")}
    assert list(stages) == ["extract", "transcribe", "analyze"]
    assert (stages["extract"]["n"], stages["extract"]["p50"], stages["extract"]["p90"], stages["extract"]["max"]) \
        == (4, 2.5, 3.7, 4.0)
    assert (stages["transcribe"]["n"], stages["transcribe"]["p50"], stages["transcribe"]["failed_attempts"]) \
        == (4, 25.0, 1)
    assert stages["analyze"]["p99"] == pytest.approx(7.94)
    assert {m.label: m.value for m in at.metric}["Failed stage attempts"] == "1"
    at.selectbox(key="latency_stage").select("transcribe").run()
    assert not at.exception
    assert "n = 4 · p50 25.0 s · p90 37.0 s" in _histogram_captions(at)


def test_latency_shows_route_percentiles_from_real_requests(live: Live) -> None:
    at = _page(live, "pages/latency.py")
    routes = {(row["method"], row["route"]): row for row in _table(at, "error_rate")}
    one = routes[("GET", "/api/v1/sessions/{session_id}")]
    assert one["n"] == 5 and one["error_rate"] == 0.0, "four found and one 404, which is not a server error"
    assert 0 < one["p50"] <= one["p95"] <= one["p99"]
    assert routes[("POST", "/api/v1/sessions/{session_id}/reviews")]["n"] == 2
    at.selectbox(key="latency_route").select("GET /api/v1/sessions/{session_id}").run()
    assert not at.exception
    assert any(c.startswith("n = 5 · p50 ") and " · p99 " in c for c in _histogram_captions(at))
    assert len(at.get("plotly_chart")) == 4  # stage, upload → ready, API, review latency


def test_latency_window_leaves_out_last_weeks_session(live: Live) -> None:
    at = _page(live, "pages/latency.py")
    at.radio(key="latency_window").set_value("Last 24 h").run()
    ready = [c for c in _histogram_captions(at) if c.endswith(" s") and "p90" in c]
    assert ready[-1].startswith("n = 3 ·"), "the session moved a week back is outside the last 24 h"
    at.radio(key="latency_window").set_value("All").run()
    assert [c for c in _histogram_captions(at) if c.endswith(" s")][-1].startswith("n = 4 ·")
    assert _histogram_captions(at)[-1].startswith("n = 2 ·") and _histogram_captions(at)[-1].endswith(" min"), \
        "two sessions reviewed"
    assert not at.exception


def test_quality_trends_for_all_sessions_per_week(live: Live) -> None:
    at = _page(live, "pages/trends.py")
    assert not at.exception
    assert at.title[0].value == "Quality trends"
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Sessions"], metrics["Risk rate"], metrics["Override rate"], metrics["Model cost"]) == \
        ("4", "50%", "50%", "$0.03")
    last_week, this_week = _table(at, "override_rate")
    assert (last_week["sessions"], last_week["risk_rate"], last_week["reviewed"]) == (1, 0.0, 0)
    assert this_week["sessions"] == 3 and this_week["risk_rate"] == pytest.approx(0.667)
    assert (this_week["override_rate"], this_week["tokens"]) == (0.5, 3400)
    assert this_week["transcription_confidence"] == pytest.approx(0.775)
    assert this_week["provider_agreement"] == pytest.approx(0.9)
    assert this_week["cost_usd"] == pytest.approx(0.03)
    assert any(column.startswith("rubric.") for column in last_week)
    assert len(at.get("plotly_chart")) == 5  # risk, override, rubric, transcription quality, cost


def test_quality_trends_per_counselor_and_team(live: Live) -> None:
    from vigil.db.models import Analysis

    at = _page(live, "pages/trends.py")
    at.radio(key="trends_group").set_value("Counselor").run()
    assert not at.exception
    rows = _table(at, "counselor")
    assert [(r["counselor"], r["sessions"]) for r in rows] == [("ben", 1), ("ana", 2), ("ben", 1)]
    ana, ben = rows[1], rows[2]
    assert (ana["risk_rate"], ana["override_rate"], ana["provider_agreement"]) == (0.5, 0.5, 0.9)
    assert ben["risk_rate"] == 1.0 and pd.isna(ben["override_rate"]), "none of ben's sessions was reviewed"
    with live.ctx.system_db() as db:
        rubric = db.scalar(sa.select(Analysis.result["rubric"]).where(Analysis.session_id == uuid.UUID(
            live.sessions[2])))
    item = rubric[0]
    at.selectbox(key="trends_rubric_item").select(item["key"]).run()
    assert ben[f"rubric.{item['key']}"] == pytest.approx(item["score"])
    at.radio(key="trends_group").set_value("Team").run()
    assert [(r["team"], r["sessions"]) for r in _table(at, "team")] == [("(none)", 1), ("(none)", 1), ("north", 2)]
    assert not at.exception


def test_a_tenant_without_data_sees_captions_not_errors(live: Live) -> None:
    empty = make_tenant(live.ctx)
    at = _page(live, "pages/latency.py", empty.lead)
    assert not at.exception
    captions = [c.value for c in at.caption]
    for missing in ("No pipeline stage timings yet in this window.", "No sessions ready yet in this window.",
                    "No reviewed sessions yet in this window."):
        assert missing in captions
    at = _page(live, "pages/trends.py", empty.lead)
    assert not at.exception
    assert [c.value for c in at.caption] == ["No sessions yet: trends appear once sessions are uploaded."]
