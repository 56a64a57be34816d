"""The double review on the dashboard, driven by Streamlit's AppTest against the real API on loopback: each
reviewer answers their own sheet on the session page (the second sees nothing of the first's), a lead settles the
disagreement there, and the KPI page shows the agreement."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from tests.conftest import Tenant, api_on_loopback, isolated_context, make_tenant
from tests.integration.test_double_review import _reviewer_tokens, supervisors
from vigil.context import Context
from vigil.db.models import Review, ReviewAssignment
from vigil.db.models import Tenant as TenantRow

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@dataclass
class Live:
    ctx: Context
    tenant: Tenant
    session_id: str
    first: str
    second: str


@pytest.fixture(scope="module")
def live(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from tests.integration.test_analysis_tasks import transcribed_session
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.services.pipeline import run_analyze

    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("double-pages"))
    tenant = make_tenant(ctx)
    extra = supervisors(ctx, tenant, 1)
    with ctx.system_db() as db:
        db.execute(sa.update(TenantRow).where(TenantRow.name == tenant.name).values(double_review_share=1.0))
        db.commit()
    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, OfflineAnalyzer())
    first, second = _reviewer_tokens(ctx, str(claim.session_id), [tenant.supervisor, *extra])
    with api_on_loopback(ctx) as url:
        mp = pytest.MonkeyPatch()
        mp.setenv("API_URL", url)
        yield Live(ctx=ctx, tenant=tenant, session_id=str(claim.session_id), first=first, second=second)
        mp.undo()


def _session_page(live: Live, token: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["token"] = token
    at.run()
    at.session_state["session_id"] = live.session_id
    at.switch_page("pages/session.py").run()
    assert not at.exception
    return at


def _status(live: Live) -> list[str]:
    with live.ctx.system_db() as db:
        return list(db.scalars(sa.select(ReviewAssignment.status).where(
            ReviewAssignment.session_id == uuid.UUID(live.session_id)).order_by(ReviewAssignment.slot)))


def test_each_reviewer_answers_blind_then_a_lead_settles_it_and_the_kpis_show_agreement(live: Live) -> None:
    queue = AppTest.from_file(APP, default_timeout=60)
    queue.session_state["token"] = live.second
    queue.run()
    listed = next(df.value for df in queue.dataframe if "review" in df.value.columns)
    assert list(listed["review"]) == ["second review"], "the queue says whose review it is"
    assert queue.selectbox(key="queue_choice").options[0].endswith("· second review")

    first = _session_page(live, live.first)
    assert any(s.value == "Double review" for s in first.subheader)
    assert any("Your first review" in i.value for i in first.info)
    assert "risk_level" not in first.selectbox(key="override_field").options, "judged on the sheet, not overridden"
    first.selectbox(key="sheet_risk_level").select("low")
    first.text_area(key="sheet_note").input("denies intent; protective factors")
    next(b for b in first.button if b.label == "Submit review").click().run()
    assert not first.exception
    assert _status(live) == ["submitted", "open"]

    second = _session_page(live, live.second)
    assert any("Your second review" in i.value for i in second.info)
    shown = " ".join(e.value for e in [*second.markdown, *second.caption, *second.warning] if isinstance(e.value, str))
    assert "denies intent" not in shown and "Disagreement" not in shown, "nothing of the first answer"
    assert not [df for df in second.dataframe if "reviewer 1" in df.value.columns]
    second.selectbox(key="sheet_risk_level").select("high")
    next(b for b in second.button if b.label == "Submit review").click().run()
    assert _status(live) == ["submitted", "submitted"]

    lead = _session_page(live, live.tenant.lead)
    assert any("Disagreement on risk\\_level" in w.value for w in lead.warning)
    both = next(df.value for df in lead.dataframe if "reviewer 1" in df.value.columns)
    assert both.set_index("field").loc["risk_level", "reviewer 2"] == "high"
    lead.selectbox(key="adjudicate_value").select("medium")
    lead.text_area(key="adjudicate_reason").input("passive ideation, no plan, follow-up booked")
    next(b for b in lead.button if b.label == "Adjudicate").click().run()
    assert not lead.exception
    with live.ctx.system_db() as db:
        settled = db.execute(sa.select(Review.field, Review.kind).where(
            Review.session_id == uuid.UUID(live.session_id), Review.kind == "adjudication")).all()
    assert [tuple(r) for r in settled] == [("risk_level", "adjudication")]

    kpis = AppTest.from_file(APP, default_timeout=60)
    kpis.session_state["token"] = live.tenant.lead
    kpis.run()
    kpis.switch_page("pages/kpis.py").run()
    assert not kpis.exception
    assert any(s.value == "Reviewer agreement (double review)" for s in kpis.subheader)
    agreement = next(df.value for df in kpis.dataframe if "statistic" in df.value.columns)
    assert agreement.set_index("field").loc["risk_level", "sessions"] == 1


def test_a_lead_marks_gold_sends_a_round_and_sees_the_reviewers_score(live: Live) -> None:
    from vigil.db.models import GoldStandard, Session, User
    from vigil.services.auth import authenticate

    lead = AppTest.from_file(APP, default_timeout=60)
    lead.session_state["token"] = live.tenant.lead
    lead.run()
    lead.switch_page("pages/calibration.py").run()
    assert not lead.exception
    lead.selectbox(key="gold_session").select(live.session_id)  # settled by the test before: reviewed
    lead.text_area(key="gold_note").input("case conference, 3 May")
    next(b for b in lead.button if b.label == "Mark as gold").click().run()
    assert not lead.exception
    with live.ctx.system_db() as db:
        assert db.get(GoldStandard, uuid.UUID(live.session_id)) is not None
        email = db.scalar(sa.select(User.email).where(User.id == authenticate(db, live.first).user_id))
    lead.text_input(key="round_name").input("May")
    lead.multiselect(key="round_sessions").select(live.session_id)
    lead.text_area(key="round_reviewers").input(email)
    next(b for b in lead.button if b.label == "Send").click().run()
    assert not lead.exception
    with live.ctx.system_db() as db:
        copy = db.scalar(sa.select(Session.id).where(Session.calibration_of == uuid.UUID(live.session_id)))
    assert copy is not None

    reviewer = AppTest.from_file(APP, default_timeout=60)
    reviewer.session_state["token"] = live.first
    reviewer.run()
    reviewer.session_state["session_id"] = str(copy)
    reviewer.switch_page("pages/session.py").run()
    assert not reviewer.exception
    assert any(s.value == "Calibration" for s in reviewer.subheader)
    assert any("Calibration review" in i.value for i in reviewer.info)
    assert not [s for s in reviewer.subheader if s.value == "Override"], "a copy is answered on its sheet"
    reviewer.selectbox(key="sheet_risk_level").select("medium")
    next(b for b in reviewer.button if b.label == "Submit review").click().run()
    assert not reviewer.exception

    lead.run()
    scores = next(df.value for df in lead.dataframe if "agreement with gold" in df.value.columns
                  and "reviewer" in df.value.columns)
    row = scores.set_index("reviewer").loc[email]
    assert row["submitted"] == "1/1" and row["agreement with gold"].endswith("%")


def test_a_lead_loads_every_human_score_on_the_kpi_page(live: Live) -> None:
    kpis = AppTest.from_file(APP, default_timeout=60)
    kpis.session_state["token"] = live.tenant.lead
    kpis.run()
    kpis.switch_page("pages/kpis.py").run()
    assert not [d for d in kpis.dataframe if "comment" in d.value.columns], "nothing opened until asked"
    kpis.toggle(key="load_human_scores").set_value(True).run()
    assert not kpis.exception
    scores = next(d.value for d in kpis.dataframe if "comment" in d.value.columns)
    assert {"double_sheet", "adjudication", "gold", "calibration_sheet"} <= set(scores["kind"]), set(scores["kind"])
    assert "passive ideation, no plan, follow-up booked" in set(scores["comment"].dropna())
