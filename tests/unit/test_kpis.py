"""KPI arithmetic on review facts, checked against numpy and by hand."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from dashboard.kpis import facts_frame, override_rates, summary
from dashboard.tables import export

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def fact(i: int, *, flagged: bool, ready_hours_ago: float | None, latency: float | None,
         reviewed: list[str] = (), changed: list[str] = (), status: str = "ready",
         attention: str | None = None) -> dict:
    ready = NOW - timedelta(hours=ready_hours_ago) if ready_hours_ago is not None else None
    return {"id": f"s{i}", "created_at": (NOW - timedelta(days=1)).isoformat(), "status": status, "flagged": flagged,
            "ai_risk_level": "high" if flagged else "none", "risk_level": "high" if flagged else "none",
            "attention": attention, "analysis_ready_at": ready.isoformat() if ready else None,
            "reviewed_at": (ready + timedelta(minutes=latency)).isoformat() if latency is not None else None,
            "reviewLatencyMinutes": latency, "reviewed_fields": list(reviewed), "overridden_fields": list(changed)}


ROWS = [
    fact(1, flagged=True, ready_hours_ago=10, latency=5.0, reviewed=["risk_level"], changed=["risk_level"]),
    fact(2, flagged=True, ready_hours_ago=9, latency=15.0, reviewed=["risk_level", "summary"]),
    fact(3, flagged=True, ready_hours_ago=8, latency=45.0, reviewed=["risk_level", "flag.self_harm"],
         changed=["flag.self_harm"]),
    fact(4, flagged=False, ready_hours_ago=7, latency=120.0, reviewed=["summary"], changed=["summary"]),
    fact(5, flagged=True, ready_hours_ago=6, latency=None),  # awaiting, oldest in backlog
    fact(6, flagged=True, ready_hours_ago=2, latency=None, attention="risk analysis failed — review manually"),
    fact(7, flagged=False, ready_hours_ago=None, latency=None, status="processing"),
]


def test_summary_counts_and_latency_percentiles() -> None:
    kpi = summary(facts_frame(ROWS), now=NOW)
    assert (kpi["sessions"], kpi["processed"], kpi["flagged"], kpi["awaiting_review"]) == (7, 6, 5, 2)
    assert kpi["analysis_failed"] == 1 and kpi["reviewed"] == 4 and kpi["sessions_with_override"] == 3
    latencies = [5.0, 15.0, 45.0, 120.0]
    assert kpi["review_latency_median"] == pytest.approx(np.median(latencies))
    assert kpi["review_latency_p90"] == pytest.approx(np.percentile(latencies, 90))
    assert kpi["backlog_age_hours"] == 6.0


def test_override_rate_and_agreement_per_field() -> None:
    rates = {r["field"]: r for r in override_rates(facts_frame(ROWS)).iter_rows(named=True)}
    assert rates["risk_level"] == {"field": "risk_level", "reviewed": 3, "overridden": 1, "override_rate": 0.333,
                                   "agreement": 0.667}
    assert (rates["summary"]["reviewed"], rates["summary"]["overridden"]) == (2, 1)
    assert rates["flag.self_harm"]["override_rate"] == 1.0


def test_empty_facts_and_exports() -> None:
    empty = facts_frame([])
    kpi = summary(empty, now=NOW)
    assert kpi["sessions"] == 0 and kpi["review_latency_median"] is None and kpi["backlog_age_hours"] is None
    assert override_rates(empty).is_empty()
    frame = facts_frame(ROWS)
    assert pl.read_parquet(io.BytesIO(export(frame, "parquet"))).equals(frame)
    csv = pl.read_csv(io.BytesIO(export(frame, "csv")))
    assert csv.height == 7 and csv["reviewed_fields"][2] == "risk_level;flag.self_harm"


def test_the_frame_read_from_the_api_body_equals_the_frame_built_from_rows() -> None:
    import json

    from dashboard.kpis import facts_frame_from_json

    body = json.dumps(ROWS).encode()
    assert facts_frame_from_json(body).equals(facts_frame(ROWS))
    assert facts_frame_from_json(b"[]").schema == facts_frame([]).schema
