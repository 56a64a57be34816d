"""bench/dashboard.py at small scale: 300 sessions seeded in a database of their own, the real API on loopback, and
every page of the dashboard's navigation rendered (as a supervisor, or the role that has the page), each without
exception and timed. How fast is the bench's report, not asserted here."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter

import pytest

from bench.dashboard import PageRef, Report, measure, pages_in_navigation
from bench.dashboard_seed import LEVELS, Results, TenantRows, build_rows, sample_analysis
from vigil.db.models import Review, Session

MISSING = PageRef("pages/no_such_page.py", "Missing")


@pytest.fixture(scope="module")
def report(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Report:
    return measure(pg_admin_url, tmp_path_factory.mktemp("bench-dashboard"), sessions=300,
                   pages=[*pages_in_navigation(), MISSING])


def test_pages_come_from_the_navigation_in_app_py() -> None:
    paths = [page.path for page in pages_in_navigation()]
    assert {"pages/queue.py", "pages/session.py", "pages/kpis.py", "pages/jobs.py", "pages/upload.py"} <= set(paths)
    assert len(paths) == len(set(paths))


def test_every_page_renders_without_exception_and_is_timed(report: Report) -> None:
    real = [page for page in report.pages if page.path != MISSING.path]
    assert [page.path for page in real] == [page.path for page in pages_in_navigation()]
    for page in real:
        assert page.exceptions == [], page.path
        assert page.first_seconds and page.cold_seconds and page.warm_seconds, page.path
        assert page.warm_over_cold is not None


def test_a_page_that_fails_is_reported_and_fails_the_run(report: Report) -> None:
    missing = next(page for page in report.pages if page.path == MISSING.path)
    assert missing.exceptions and missing.cold_seconds is None
    assert report.failed


def test_the_tenant_is_seeded_and_the_session_page_opens_the_top_of_the_queue(report: Report) -> None:
    assert report.rows["sessions"] == 300 and report.rows["request_timings"] == 20_000
    assert 0 < report.rows["analyses"] < 300 and report.rows["reviews"] > 0 and report.rows["stage_events"] > 0
    assert report.opened_session is not None
    figures = json.loads(json.dumps(report.figures(), default=str))  # what --json prints
    assert [page["path"] for page in figures["pages"]] == [page.path for page in report.pages]


def test_seeded_sessions_look_like_a_real_tenant() -> None:
    base, _ = sample_analysis()
    out = build_rows(TenantRows(uuid.uuid4(), [uuid.uuid4()], uuid.uuid4()), 2000, random.Random(7), Results(base))
    sessions = out.tables[Session]
    statuses = Counter(s["status"] for s in sessions)
    assert statuses["ready"] > 0.9 * len(sessions) and statuses["failed"] > 0 and statuses["processing"] == 20
    ready = [s for s in sessions if s["status"] == "ready"]
    assert 0.25 < sum(s["flagged"] for s in ready) / len(ready) < 0.35
    assert {s["ai_risk_level"] for s in ready} == set(LEVELS)
    assert 0.5 < sum(s["reviewed_at"] is not None for s in ready) / len(ready) < 0.7
    assert len({s["counselor"] for s in sessions}) == 20 and len({s["team"] for s in sessions}) == 4
    reviews = out.tables[Review]
    assert any(r["ai_value"] != r["human_value"] for r in reviews)
    assert any(r["ai_value"] == r["human_value"] for r in reviews)
