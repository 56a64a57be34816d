"""Latency percentiles checked against numpy, and weekly quality trends against values worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from dashboard.analytics import (
    bins,
    iso,
    marks,
    overall_quality,
    request_frame,
    route_percentiles,
    rubric_items,
    stage_frame,
    stage_percentiles,
    weekly_trends,
    window_start,
    within,
)
from dashboard.kpis import facts_frame

NOW = datetime(2026, 11, 27, 15, 42, 37, 123456, tzinfo=UTC)
RNG = np.random.default_rng(7)
EXTRACT = RNG.lognormal(0.5, 0.6, 200).round(3)
TRANSCRIBE = RNG.lognormal(3.0, 0.4, 57).round(3)


def stage_row(stage: str, seconds: float, event: str = "ready", attempt: int = 1) -> dict:
    return {"stage": stage, "event": event, "attempt": attempt, "duration_seconds": float(seconds),
            "created_at": "2026-11-27T10:00:00.123456Z", "session_id": "s1"}


STAGES = ([stage_row("transcribe", s) for s in TRANSCRIBE] + [stage_row("extract", s) for s in EXTRACT]
          + [stage_row("transcribe", 600.0, "failed"), stage_row("transcribe", 1.5, "failed", attempt=2)]
          + [stage_row("analyze", 0.0, "deferred")])


def test_stage_percentiles_match_numpy_over_ready_attempts() -> None:
    rows = {r["stage"]: r for r in stage_percentiles(stage_frame(STAGES)).iter_rows(named=True)}
    assert list(rows) == ["extract", "transcribe"], "pipeline order; a deferral is not an attempt"
    for stage, durations, failed in (("extract", EXTRACT, 0), ("transcribe", TRANSCRIBE, 2)):
        row = rows[stage]
        assert (row["n"], row["failed_attempts"]) == (len(durations), failed)
        for level in (50, 90, 95, 99):
            assert row[f"p{level}"] == pytest.approx(np.percentile(durations, level), abs=5e-4), (stage, level)
        assert row["max"] == pytest.approx(durations.max())  # the 600 s failed attempt is not a duration


def request_row(method: str, route: str, status: int, ms: float) -> dict:
    return {"method": method, "route": route, "status_code": status, "duration_ms": ms,
            "created_at": "2026-11-27T10:00:00Z"}


def test_route_percentiles_match_numpy_and_count_only_5xx_as_errors() -> None:
    one = "/api/v1/sessions/{session_id}"
    gets = RNG.gamma(2.0, 15.0, 120).round(3)
    statuses = [200] * 110 + [404] * 5 + [500] * 3 + [503] * 2
    rows = [request_row("GET", one, s, ms) for s, ms in zip(statuses, gets, strict=True)]
    rows += [request_row("POST", "/api/v1/sessions/{session_id}/reviews", 201, ms) for ms in (80.0, 120.0)]
    rows += [request_row("GET", "/api/v1/me", 200, 3.0)]
    table = route_percentiles(request_frame(rows))
    assert table.select("method", "route", "n").rows() == [
        ("GET", one, 120), ("POST", "/api/v1/sessions/{session_id}/reviews", 2), ("GET", "/api/v1/me", 1)]
    busiest = table.row(0, named=True)
    for level in (50, 95, 99):
        assert busiest[f"p{level}"] == pytest.approx(np.percentile(gets, level), abs=5e-4)
    assert busiest["error_rate"] == pytest.approx(5 / 120, abs=1e-4)
    reviews = table.row(1, named=True)
    assert (reviews["p50"], reviews["error_rate"]) == (100.0, 0.0)


def test_histogram_marks_match_numpy() -> None:
    found = marks(pl.Series(EXTRACT.tolist() + [None]), (0.5, 0.9, 0.99))
    assert list(found) == ["p50", "p90", "p99"]
    assert found["p50"] == pytest.approx(np.percentile(EXTRACT, 50))
    assert found["p90"] == pytest.approx(np.percentile(EXTRACT, 90))
    assert found["p99"] == pytest.approx(np.percentile(EXTRACT, 99))
    assert marks(pl.Series([], dtype=pl.Float64)) == {}


def test_histogram_bins_hold_every_value_once() -> None:
    bars = bins(pl.Series([1.0, 2.0, 3.0, 4.0, 10.0, None]), count=3)
    assert bars.rows() == [(1.0, 4.0, 3), (4.0, 7.0, 1), (7.0, 10.0, 1)]
    many = bins(pl.Series(TRANSCRIBE))
    counts, _ = np.histogram(TRANSCRIBE, bins=40)
    assert many["n"].sum() == len(TRANSCRIBE) and many["n"].to_list() == [c for c in counts if c]
    assert bins(pl.Series([5.0, 5.0])).rows() == [(4.5, 5.5, 2)]
    assert bins(pl.Series([], dtype=pl.Float64)).is_empty()


def test_time_windows_start_on_the_minute_in_utc() -> None:
    assert window_start("Last 24 h", NOW) == datetime(2026, 11, 26, 15, 42, tzinfo=UTC)
    assert iso(window_start("Last 7 days", NOW)) == "2026-11-20T15:42:00Z"
    assert iso(window_start("Last 30 days", NOW)) == "2026-10-28T15:42:00Z"
    assert window_start("All", NOW) is None and iso(None) is None


def test_within_keeps_rows_from_the_start_and_drops_missing_times() -> None:
    frame = pl.DataFrame({"at": [NOW - timedelta(hours=30), NOW - timedelta(hours=2), None]},
                         schema={"at": pl.Datetime("us", "UTC")})
    assert within(frame, "at", window_start("Last 24 h", NOW)).height == 1
    assert within(frame, "at", None).height == 2


def fact(sid: str, created: str, *, counselor: str | None, team: str | None, flagged: bool, reviewed: bool,
         overridden: list[str], rubric: dict[str, float], confidence: float | None, agreement: float | None,
         cost: float | None, tokens: int | None) -> dict:
    return {"id": sid, "created_at": created, "status": "ready", "flagged": flagged, "ai_risk_level": None,
            "risk_level": None, "attention": None, "analysis_ready_at": created,
            "reviewed_at": created if reviewed else None, "reviewLatencyMinutes": 1.0 if reviewed else None,
            "reviewed_fields": ["risk_level"] if reviewed else [], "overridden_fields": overridden,
            "counselor": counselor, "team": team, "risk_categories": [], "time_to_ready_seconds": 10.0,
            "model": "m", "tokens": tokens, "cost_usd": cost, "rubric": rubric, "providers": ["whisper"],
            "transcription_confidence": confidence, "provider_agreement": agreement}


FACTS = facts_frame([
    fact("s1", "2026-11-17T10:00:00Z", counselor="ana", team="north", flagged=True, reviewed=True,
         overridden=["risk_level"], rubric={"listening": 4.0, "open_questions": 2.0}, confidence=0.9,
         agreement=0.8, cost=0.01, tokens=1000),
    fact("s2", "2026-11-22T23:30:00Z", counselor="ben", team=None, flagged=False, reviewed=True, overridden=[],
         rubric={"listening": 2.0, "open_questions": 3.0}, confidence=0.7, agreement=None, cost=0.02, tokens=500),
    fact("s3", "2026-11-23T00:00:00Z", counselor="ana", team="north", flagged=True, reviewed=False, overridden=[],
         rubric={"listening": 5.0}, confidence=0.8, agreement=0.6, cost=0.005, tokens=300),
    fact("s4", "2026-11-25T08:00:00Z", counselor=None, team="north", flagged=True, reviewed=True,
         overridden=["summary", "risk_level"], rubric={}, confidence=None, agreement=None, cost=None, tokens=None),
    fact("s5", "2026-11-26T09:00:00Z", counselor="ana", team="north", flagged=False, reviewed=True,
         overridden=["rubric.listening"], rubric={"listening": 3.0, "open_questions": 4.0}, confidence=0.9,
         agreement=None, cost=0.015, tokens=700),
])
WEEK_1, WEEK_2 = date(2026, 11, 16), date(2026, 11, 23)


def test_weekly_trends_for_all_sessions() -> None:
    rows = weekly_trends(FACTS).iter_rows(named=True)
    first, second = (pytest.approx(r, abs=1e-3) for r in (
        {"week": WEEK_1, "sessions": 2, "risk_rate": 0.5, "reviewed": 2, "override_rate": 0.5,
         "rubric.listening": 3.0, "rubric.open_questions": 2.5, "transcription_confidence": 0.8,
         "provider_agreement": 0.8, "cost_usd": 0.03, "tokens": 1500},
        {"week": WEEK_2, "sessions": 3, "risk_rate": 2 / 3, "reviewed": 2, "override_rate": 1.0,
         "rubric.listening": 4.0, "rubric.open_questions": 4.0, "transcription_confidence": 0.85,
         "provider_agreement": 0.6, "cost_usd": 0.02, "tokens": 1000}))
    assert list(rows) == [first, second]


def test_weekly_trends_per_counselor_show_missing_as_none() -> None:
    trends = weekly_trends(FACTS, "counselor")
    assert trends.select("week", "counselor", "sessions").rows() == [
        (WEEK_1, "ana", 1), (WEEK_1, "ben", 1), (WEEK_2, "(none)", 1), (WEEK_2, "ana", 2)]
    ben = trends.row(1, named=True)
    assert (ben["risk_rate"], ben["override_rate"], ben["provider_agreement"]) == (0.0, 0.0, None)
    unnamed = trends.row(2, named=True)
    assert unnamed["override_rate"] == 1.0 and unnamed["rubric.listening"] is None
    assert (unnamed["transcription_confidence"], unnamed["cost_usd"], unnamed["tokens"]) == (None, 0.0, 0)
    ana = trends.row(3, named=True)
    assert (ana["risk_rate"], ana["reviewed"], ana["override_rate"]) == (0.5, 1, 1.0)
    assert ana["rubric.listening"] == 4.0 and ana["rubric.open_questions"] == 4.0
    assert ana["transcription_confidence"] == pytest.approx(0.85) and ana["cost_usd"] == pytest.approx(0.02)


def test_weekly_trends_per_team() -> None:
    trends = weekly_trends(FACTS, "team")
    assert trends.select("week", "team", "sessions", "risk_rate").rows() == [
        (WEEK_1, "(none)", 1, 0.0), (WEEK_1, "north", 1, 1.0), (WEEK_2, "north", 3, 0.667)]


def test_override_rate_is_null_when_no_session_was_reviewed() -> None:
    trends = weekly_trends(FACTS.filter(pl.col("reviewed_at").is_null()))
    assert trends.select("week", "sessions", "reviewed", "override_rate").rows() == [(WEEK_2, 1, 0, None)]


def test_overall_quality_over_every_session() -> None:
    overall = overall_quality(FACTS)
    assert (overall["sessions"], overall["risk_rate"], overall["reviewed"], overall["override_rate"]) == \
        (5, 0.6, 4, 0.75)
    assert overall["cost_usd"] == pytest.approx(0.05) and overall["tokens"] == 2500


def test_sessions_without_rubric_scores_or_several_providers() -> None:
    plain = facts_frame([fact("s1", "2026-11-17T10:00:00Z", counselor=None, team=None, flagged=False,
                              reviewed=False, overridden=[], rubric={}, confidence=0.9, agreement=None, cost=0.0,
                              tokens=0)])
    assert rubric_items(plain) == [] and rubric_items(FACTS) == ["listening", "open_questions"]
    trends = weekly_trends(plain)
    assert not [c for c in trends.columns if c.startswith("rubric.")]
    assert trends.row(0, named=True)["provider_agreement"] is None


def test_no_data_gives_empty_frames_with_their_columns() -> None:
    assert weekly_trends(facts_frame([]), "team").columns[:3] == ["week", "team", "sessions"]
    assert weekly_trends(facts_frame([])).is_empty()
    assert overall_quality(facts_frame([]))["sessions"] == 0
    assert stage_percentiles(stage_frame([])).is_empty() and route_percentiles(request_frame([])).is_empty()
