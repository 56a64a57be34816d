"""The counselor's pages driven by streamlit's AppTest against the real API (uvicorn on loopback): a counselor's My
sessions page (reviewed values and comments, acknowledge, dispute, outcomes) and the supervisor's Disputes page
(uphold or change with a reason). Sessions analysed by the real analyze stage (offline analyzer)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from tests.conftest import Tenant, api_on_loopback, isolated_context, make_tenant
from vigil.context import Context
from vigil.db.models import ReviewAcknowledgement, Session, User
from vigil.schemas.enums import Role
from vigil.services.auth import authenticate, issue_token

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@dataclass
class Live:
    url: str
    ctx: Context
    tenant: Tenant
    sam: str  # another counselor's token
    dana_session: str


def _reviewed(ctx: Context, tenant: Tenant, counselor: str, title: str, risk: str | None, reason: str) -> str:
    from tests.integration.test_analysis_tasks import transcribed_session
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.schemas.api import ReviewIn
    from vigil.services.pipeline import run_analyze
    from vigil.services.reviews import create_review

    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, OfflineAnalyzer())
    with ctx.system_db() as db:
        db.execute(sa.update(Session).where(Session.id == claim.session_id).values(counselor=counselor, title=title))
        db.commit()
        if risk is not None:
            create_review(ctx.store, db, authenticate(db, tenant.supervisor), claim.session_id,
                          ReviewIn(field="risk_level", value=risk, reason=reason))
    return str(claim.session_id)


def _link(db, token: str, label: str) -> None:  # type: ignore[no-untyped-def]
    from vigil.services.counselors import link

    link(db, None, db.get(User, authenticate(db, token).user_id), label)


@pytest.fixture(scope="module")
def live(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("counsel-dash"))
    tenant = make_tenant(ctx)
    with ctx.system_db() as db:
        sam = issue_token(db, tenant.name, f"sam@{tenant.name}.test", Role.counselor)
        _link(db, tenant.counselor, "Dana Ruiz")
        _link(db, sam, "Sam Okafor")
        db.commit()
    dana = _reviewed(ctx, tenant, "Dana Ruiz", "Dana check-in", "medium", "Ideation without a plan")
    _reviewed(ctx, tenant, "Dana Ruiz", "Dana unreviewed", None, "")
    _reviewed(ctx, tenant, "Sam Okafor", "Sam coaching", "low", "Sam's review")
    with api_on_loopback(ctx) as url:
        mp = pytest.MonkeyPatch()
        mp.setenv("API_URL", url)
        yield Live(url=url, ctx=ctx, tenant=tenant, sam=sam, dana_session=dana)
        mp.undo()


def _signed_in(token: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["token"] = token
    return at.run()


def _texts(at: AppTest) -> str:
    """Every table's cells and every message on the page, as one string."""
    cells = " ".join(frame.value.to_csv() for frame in at.dataframe)
    return cells + " ".join(e.value for kind in (at.success, at.info, at.warning, at.error, at.caption, at.text)
                            for e in kind)


def test_a_counselor_lands_on_my_sessions_and_sees_no_other_page(live: Live) -> None:
    at = _signed_in(live.tenant.counselor)
    assert not at.exception
    assert at.title[0].value == "My sessions"
    assert at.dataframe[0].value["title"].to_list() == ["Dana check-in"], "reviewed and hers only"
    for page in ("pages/queue.py", "pages/session.py", "pages/disputes.py", "pages/kpis.py", "pages/upload.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)


def test_a_counselor_reads_the_reviewed_values_and_the_reviewers_comment(live: Live) -> None:
    at = _signed_in(live.tenant.counselor)
    fields = at.dataframe[1].value
    risk = fields[fields["field"] == "Risk level"].iloc[0]
    assert (risk["value"], risk["decided"], risk["reviewer's comment"]) == ("medium", "set by the reviewer",
                                                                           "Ideation without a plan")
    assert "AI's, accepted by the reviewer" in fields["decided"].to_list()


def test_a_counselor_acknowledges_a_review_once(live: Live) -> None:
    at = _signed_in(live.tenant.counselor)
    at.button(key="acknowledge").click().run()
    assert not at.exception
    assert any("You acknowledged this review" in s.value for s in at.success)
    assert not [b for b in at.button if b.key == "acknowledge"], "acknowledged: no button any more"
    with live.ctx.system_db() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(ReviewAcknowledgement).where(
            ReviewAcknowledgement.session_id == uuid.UUID(live.dana_session))) == 1


def test_a_dispute_reaches_the_supervisor_who_changes_the_value_and_the_counselor_sees_why(live: Live) -> None:
    counselor = _signed_in(live.tenant.counselor)
    counselor.selectbox(key="dispute_field").set_value("risk_level")
    counselor.text_area(key="dispute_note").input("The client described a plan in the last minutes")
    next(b for b in counselor.button if b.label == "Send dispute").click().run()
    assert not counselor.exception
    assert any(s.value.startswith("Sent to supervisor@") for s in counselor.success)
    assert "The client described a plan in the last minutes" in _texts(counselor)

    supervisor = _signed_in(live.tenant.supervisor)
    supervisor.switch_page("pages/disputes.py").run()
    assert not supervisor.exception
    assert supervisor.title[0].value == "Disputes"
    assert "The client described a plan in the last minutes" in _texts(supervisor)
    supervisor.radio(key="dispute_outcome").set_value("changed")
    supervisor.selectbox(key="dispute_value_risk").set_value("high")
    supervisor.text_area(key="dispute_reason").input("Listened again: the plan is there")
    next(b for b in supervisor.button if b.label == "Resolve").click().run()
    assert not supervisor.exception
    assert any("Changed" in s.value and "high" in s.value for s in supervisor.success), [e.value for e in
                                                                                         supervisor.error]

    again = _signed_in(live.tenant.counselor)
    shown = _texts(again)
    assert "Listened again: the plan is there" in shown and "✎ changed" in shown
    fields = again.dataframe[1].value
    assert fields[fields["field"] == "Risk level"].iloc[0]["value"] == "high"
    assert any("changed a value since you acknowledged" in w.value for w in again.warning)


def test_a_lead_sees_the_disputes_but_no_resolve_form(live: Live) -> None:
    from vigil.schemas.counseling import DisputeIn
    from vigil.services.disputes import open_dispute

    with live.ctx.system_db() as db:
        sam = authenticate(db, live.sam)
        sid = db.scalar(sa.select(Session.id).where(Session.title == "Sam coaching"))
        open_dispute(live.ctx.store, db, sam, sid, DisputeIn(field="summary", note="Homework is missing from it"))
    lead = _signed_in(live.tenant.lead)
    lead.switch_page("pages/disputes.py").run()
    assert not lead.exception
    assert "Homework is missing from it" in _texts(lead)
    assert not [b for b in lead.button if b.label == "Resolve"]


def test_another_counselor_sees_only_their_own_session(live: Live) -> None:
    at = _signed_in(live.sam)
    assert at.dataframe[0].value["title"].to_list() == ["Sam coaching"]
    assert "Dana" not in _texts(at)
