"""A supervisor's review in a real browser: headless Chromium drives the Streamlit dashboard (a subprocess) which
talks HTTP to the real API on loopback, over sessions processed by the real stages (ffmpeg, Whisper, analyzer)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.browser import Dashboard, chromium_binaries, headless_chromium, streamlit_server
from tests.conftest import SAMPLES, Tenant, api_on_loopback, isolated_context, make_tenant, process_session
from vigil.sealed_text import digest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@dataclass
class Live:
    url: str
    tenant: Tenant
    flagged_id: str


@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    return chromium_binaries()


@pytest.fixture(scope="module")
def live(chromium: tuple[str, str], pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory,
         whisper) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    """The API on loopback over a routine session and a risk disclosure (flagged high), both really processed.
    Asks for chromium first so that a machine without it skips before the processing."""
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("browser"))
    tenant = make_tenant(ctx)
    process_session(ctx, tenant, SAMPLES / "routine-coaching.m4a", whisper)
    flagged = process_session(ctx, tenant, SAMPLES / "checkin-risk.mp3", whisper)
    with api_on_loopback(ctx) as url:
        yield Live(url=url, tenant=tenant, flagged_id=flagged)


@pytest.fixture
def dashboard(chromium: tuple[str, str], live: Live, tmp_path: Path) -> Iterator[Dashboard]:
    """The dashboard served by `streamlit run` against the live API, in headless Chromium, not signed in yet.
    Screenshots go to $VIGIL_SCREENSHOT_DIR if set, else to the test's tmp_path."""
    shots = Path(os.environ.get("VIGIL_SCREENSHOT_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {shots}")
    with streamlit_server(APP, live.url, tmp_path / "streamlit.log") as url, headless_chromium(*chromium) as driver:
        yield Dashboard(driver, url, shots)


@pytest.mark.timeout(180)
def test_supervisor_overrides_the_flagged_risk_in_the_browser_and_the_kpis_count_it(live: Live,
                                                                                    dashboard: Dashboard) -> None:
    dashboard.sign_in(live.tenant.supervisor)
    dashboard.wait_for_title("Review queue")
    top = dashboard.selected("Open a session")
    assert "high" in top and "checkin-risk" in top, f"the flagged session heads the queue, not {top!r}"
    dashboard.screenshot("1-queue")

    dashboard.go_to("KPIs")
    assert dashboard.metric("Reviews that changed the AI") == "0"

    dashboard.go_to("Review queue")
    dashboard.press("Open session")
    dashboard.wait_for_text("Audit history")
    assert dashboard.title() == "checkin-risk"
    assert "Risk: 🔴 high" in dashboard.texts("stHeading")
    assert dashboard.table_under("What changed after review") == [], "nothing reviewed yet"
    dashboard.screenshot("2-session-before")

    dashboard.choose("Field", "risk_level")
    dashboard.choose("New value", "medium")
    dashboard.type_into("Reason (required)", "Safety plan agreed during the session", kind="textarea")
    dashboard.press("Save override")
    dashboard.wait_for_text("medium (reviewed)")
    assert "Risk: 🟠 medium (reviewed)" in dashboard.texts("stHeading")
    assert "AI said high" in dashboard.texts("stCaptionContainer")
    changes = dashboard.table_under("What changed after review")
    assert [(c["field"], c["AI value"], c["human value"]) for c in changes] == [("risk_level", "high", "medium")]
    assert "review.override" in [entry["action"] for entry in dashboard.table_under("Audit history")]
    dashboard.screenshot("3-session-after-override")

    audit = httpx.get(f"{live.url}/api/v1/sessions/{live.flagged_id}/audit", headers=live.tenant.headers()).json()
    [review] = [entry for entry in audit if "review" in entry["action"]]
    assert review["actor_email"].startswith("supervisor@")
    assert {k: review["detail"][k] for k in ("field", "ai_value", "human_value", "reason")} == {
        "field": "risk_level", "ai_value": "high", "human_value": "medium",
        "reason": digest("Safety plan agreed during the session")}  # the reason itself is sealed in the review

    dashboard.go_to("KPIs")
    assert dashboard.wait_for_metric("Reviews that changed the AI", "1") == "1"
    dashboard.screenshot("4-kpis-after")
