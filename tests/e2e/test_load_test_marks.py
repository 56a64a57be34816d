"""A session transcribed by the load-test `standin` provider (the same three words for every recording) is marked
as such by the API and on every dashboard screen that shows it or figures made from it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.formatting import LOAD_TEST_MARK, LOAD_TEST_WARNING
from tests.conftest import SAMPLES, Tenant, api_on_loopback, isolated_context, make_tenant, process_session
from vigil.transcription.standin import StandinTranscriber

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@dataclass
class Live:
    url: str
    tenant: Tenant
    standin_id: str


@pytest.fixture(scope="module")
def live(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("standin"))
    tenant = make_tenant(ctx)
    sid = process_session(ctx, tenant, SAMPLES / "checkin-risk.mp3", StandinTranscriber(0.0))
    with api_on_loopback(ctx) as url:
        mp = pytest.MonkeyPatch()
        mp.setenv("API_URL", url)
        yield Live(url=url, tenant=tenant, standin_id=sid)
        mp.undo()


def _page(live: Live, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["token"] = live.tenant.supervisor
    at.session_state["session_id"] = live.standin_id
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception
    return at


def test_the_api_marks_a_stand_in_transcript_on_the_list_and_the_session(live: Live) -> None:
    with httpx.Client(base_url=live.url, headers=live.tenant.headers()) as http:
        listed = http.get("/api/v1/sessions").json()
        one = http.get(f"/api/v1/sessions/{live.standin_id}").json()
    assert [(s["id"], s["load_test_transcript"], s["providers"]) for s in listed] == \
        [(live.standin_id, True, ["standin"])]
    assert one["load_test_transcript"] is True and one["providers"] == ["standin"]


def test_the_queue_marks_the_session(live: Live) -> None:
    at = _page(live)
    queue = next(df.value for df in at.dataframe if "attention" in df.value.columns)
    assert queue["attention"].to_list() == [LOAD_TEST_MARK]


def test_the_session_page_warns_before_anything_else(live: Live) -> None:
    at = _page(live, "pages/session.py")
    assert at.error and at.error[0].value == LOAD_TEST_WARNING


@pytest.mark.parametrize("page", ["pages/kpis.py", "pages/trends.py", "pages/latency.py"])
def test_pages_of_figures_say_load_test_sessions_are_among_them(live: Live, page: str) -> None:
    at = _page(live, page)
    assert any(w.value.startswith("1 of these sessions were transcribed by the load-test") for w in at.warning)
