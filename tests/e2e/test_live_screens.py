"""Live screens in a real browser: headless Chromium on the Streamlit dashboard (a subprocess) over the real API on
loopback. A session flagged while the review queue is open appears on it by itself: no reload, no click."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from selenium.webdriver.common.by import By

from tests.browser import Dashboard, chromium_binaries, headless_chromium, streamlit_server
from tests.conftest import Tenant, api_on_loopback, isolated_context, make_tenant
from tests.integration.test_analysis_tasks import transcribed_session
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.context import Context
from vigil.db.models import Session
from vigil.services.jobs import complete_stage
from vigil.services.pipeline import run_analyze

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
REFRESH_SECONDS = 5.0  # the default DASHBOARD_REFRESH_SECONDS, which the dashboard under test runs with


@dataclass
class Live:
    ctx: Context
    url: str
    tenant: Tenant


@pytest.fixture(scope="module")
def live(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    chromium_binaries()  # a machine without a browser skips before anything starts
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("live-screens"))
    tenant = make_tenant(ctx)
    flag(ctx, tenant, "Already there")
    with api_on_loopback(ctx) as url:
        yield Live(ctx, url, tenant)


@pytest.fixture
def dashboard(live: Live, tmp_path: Path) -> Iterator[Dashboard]:
    with streamlit_server(APP, live.url, tmp_path / "streamlit.log") as url, \
            headless_chromium(*chromium_binaries()) as driver:
        yield Dashboard(driver, url, tmp_path)


def flag(ctx: Context, tenant: Tenant, title: str) -> None:
    """A session analyzed for real (a disclosure, so flagged) and its job completed, through the services."""
    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, OfflineAnalyzer())
    with ctx.system_db() as db:
        db.execute(sa.update(Session).where(Session.id == claim.session_id).values(title=title))
        complete_stage(db, claim, 0.1)


def queue_text(dashboard: Dashboard) -> str:
    """What the queue's table shows (st.dataframe keeps an accessible copy of its cells in the DOM)."""
    return " ".join(grid.get_attribute("textContent") or ""
                    for grid in dashboard.driver.find_elements(By.CSS_SELECTOR, "[data-testid='stDataFrame']"))


@pytest.mark.timeout(180)
def test_a_session_flagged_while_the_queue_is_open_appears_without_a_reload(live: Live, dashboard: Dashboard) -> None:
    dashboard.sign_in(live.tenant.supervisor)
    dashboard.wait_for_title("Review queue")
    dashboard.wait.until(lambda _: "Already there" in queue_text(dashboard))
    assert dashboard.metric("Flagged, awaiting review") == "1"
    url = dashboard.driver.current_url
    dashboard.driver.execute_script("window.notReloaded = true")  # gone if the page were loaded again

    flag(live.ctx, live.tenant, "Flagged while watching")
    flagged_at = time.monotonic()
    deadline = flagged_at + 3 * REFRESH_SECONDS + 10  # the refresh interval, the API cache's 5 s, and slack
    while "Flagged while watching" not in queue_text(dashboard):
        waited = time.monotonic() - flagged_at
        assert time.monotonic() < deadline, f"not on the queue {waited:.0f} s after it was flagged"
        time.sleep(0.5)
    print(f"\nthe new flag appeared {time.monotonic() - flagged_at:.1f} s after it was committed")
    assert dashboard.metric("Flagged, awaiting review") == "2"
    assert dashboard.driver.current_url == url and dashboard.driver.execute_script("return window.notReloaded")
    dashboard.screenshot("queue-after-live-refresh")
