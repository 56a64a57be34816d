"""Dashboard pages driven by streamlit's AppTest against the real API (uvicorn on loopback) and a
session processed by the real stages (ffmpeg, Whisper, offline analyzer)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from dashboard.formatting import plain
from tests.conftest import (
    SAMPLES,
    Tenant,
    api_on_loopback,
    garbled_m4a,
    isolated_context,
    make_tenant,
    process_session,
    tenant_id_of,
)
from vigil.context import Context
from vigil.db.models import Review

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@dataclass
class Live:
    url: str
    ctx: Context
    tenant: Tenant
    flagged_id: str
    routine_id: str
    failed_id: str
    risk_failed_id: str


def _risk_failed_session(ctx: Context, tenant: Tenant) -> str:
    """A session whose risk task failed (the analyzer's assess raised), analysed by the real stage function."""
    from tests.integration.test_analysis_tasks import RiskDown, transcribed_session
    from vigil.services.pipeline import run_analyze

    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, RiskDown())
    return str(claim.session_id)


def _replay_run(ctx: Context, tenant: Tenant) -> None:
    from vigil.db.models import ReplayRun
    from vigil.services.auth import authenticate

    scores = {"tp": 2, "fp": 1, "fn": 0, "tn": 7, "support": 2, "precision": 0.6667, "recall": 1.0, "f1": 0.8}
    with ctx.system_db() as db:
        tenant_id = authenticate(db, tenant.lead).tenant_id
        db.add(ReplayRun(tenant_id=tenant_id, candidate="rubric-abc123abc123", baseline="active (offline)",
                         source="dataset:annomi-dev.jsonl", session_count=10, duration_seconds=1.5,
                         metrics={"candidate": {"risk": {"any": scores}, "mi_quality": {"n": 10, "accuracy": 0.9,
                                                                                         "kappa": 0.55}},
                                  "baseline": {"risk": {"any": {**scores, "recall": 0.5, "f1": 0.5}}}},
                         predictions={"candidate": [{"id": "s1", "risk": []}]}))
        db.commit()


def _failed_session(ctx: Context, tenant: Tenant) -> str:
    """A session whose extraction failed for real (undecodable audio data)."""
    import io

    from vigil.errors import PermanentError
    from vigil.services.auth import authenticate
    from vigil.services.ingest import accept_upload
    from vigil.services.jobs import claim_next_stage, fail_stage
    from vigil.services.pipeline import run_extract

    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    session, _ = accept_upload(ctx, principal, io.BytesIO(garbled_m4a()), "garbled.m4a", "garbled")
    with ctx.system_db() as db:
        claim = claim_next_stage(db, 60)
    with pytest.raises(PermanentError) as failure:
        run_extract(ctx, claim)
    with ctx.system_db() as db:
        fail_stage(db, claim, code=failure.value.code, detail=failure.value.message, transient=False,
                   duration_seconds=0.1, retry_base_seconds=1)
    return str(session.id)


@pytest.fixture(scope="module")
def live(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory, whisper) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("dash"))
    tenant = make_tenant(ctx)
    routine = process_session(ctx, tenant, SAMPLES / "routine-coaching.m4a", whisper)
    flagged = process_session(ctx, tenant, SAMPLES / "checkin-risk.mp3", whisper)
    from vigil.db.models import Session

    with ctx.system_db() as db:  # given at upload in real use; process_session uploads without them
        for sid, counselor, team in ((flagged, "Dana Ruiz", "North clinic"), (routine, "Sam Okafor", "South clinic")):
            db.execute(sa.update(Session).where(Session.id == uuid.UUID(sid)).values(counselor=counselor, team=team))
        db.commit()
    failed = _failed_session(ctx, tenant)
    risk_failed = _risk_failed_session(ctx, tenant)
    _replay_run(ctx, tenant)
    with api_on_loopback(ctx) as url:
        mp = pytest.MonkeyPatch()
        mp.setenv("API_URL", url)
        yield Live(url=url, ctx=ctx, tenant=tenant, flagged_id=flagged, routine_id=routine, failed_id=failed,
                   risk_failed_id=risk_failed)
        mp.undo()


def _signed_in(live: Live, role: str = "supervisor") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["token"] = getattr(live.tenant, role)
    return at.run()


def test_sign_in_with_a_wrong_token_is_refused(live: Live) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="token_input").input("vgl_not-a-real-token")
    at.button[0].click().run()
    assert any("Sign-in failed" in e.value for e in at.error)
    assert "token" not in at.session_state


def test_sign_in_with_a_valid_token_opens_the_queue(live: Live) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="token_input").input(live.tenant.supervisor)
    at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value == "Review queue"


def test_queue_puts_the_flagged_unreviewed_session_first(live: Live) -> None:
    at = _signed_in(live)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Flagged, awaiting review"] == "2"  # the risk disclosure, and the session whose risk task failed
    choice = at.selectbox(key="queue_choice")
    assert choice.value == live.risk_failed_id
    assert choice.options[0].startswith("⚠️ unknown") and choice.options[1].startswith("🔴 high")


def test_session_page_shows_flags_with_evidence_and_the_transcript(live: Live) -> None:
    at = _signed_in(live)
    at.session_state["session_id"] = live.flagged_id
    at.switch_page("pages/session.py").run()
    assert not at.exception
    texts = [t.value for t in at.text]
    assert any("killing myself" in t and t.startswith("⚠") for t in texts), "evidence segment is marked"
    assert any(s.value.startswith("Risk:") and "high" in s.value for s in at.subheader)
    assert any(b.label.startswith("▶") for b in at.button)
    assert any(c.value.startswith("from whisper · segments cover ") for c in at.caption), \
        "which providers the transcript came from, and how much of the detected speech it covers"
    todo = next(w.value for w in at.warning if w.value.startswith("**Still needs action**"))
    assert plain("confirm or change the risk level (AI: high)") in todo and "suicidal ideation flag" in todo


def test_supervisor_overrides_risk_level_with_a_reason_and_sees_it_audited(live: Live) -> None:
    at = _signed_in(live)
    at.session_state["session_id"] = live.flagged_id
    at.switch_page("pages/session.py").run()
    at.selectbox(key="override_field").select("risk_level").run()
    form_select = [s for s in at.selectbox if s.label == "New value"][0]
    form_select.select("medium")
    at.text_area(key="override_reason").input("Safety plan agreed during the session")
    [b for b in at.button if b.label == "Save override"][0].click().run()
    assert not at.exception
    with live.ctx.system_db() as db:
        review = db.scalar(sa.select(Review).where(Review.session_id == uuid.UUID(live.flagged_id))
                           .order_by(Review.created_at.desc()).limit(1))
    assert review is not None and review.human_value == {"value": "medium"} and review.ai_value == {"value": "high"}
    at.run()
    audit_tables = [df.value for df in at.dataframe if "action" in df.value.columns]
    assert audit_tables and "review.override" in audit_tables[0]["action"].tolist()
    changes = [df.value for df in at.dataframe if "human value" in df.value.columns]
    assert changes and changes[0]["human value"].tolist() == ["medium"]


def test_override_without_a_reason_is_refused_and_nothing_is_saved(live: Live) -> None:
    with live.ctx.system_db() as db:
        before = db.scalar(sa.select(sa.func.count()).select_from(Review))
    at = _signed_in(live)
    at.session_state["session_id"] = live.routine_id
    at.switch_page("pages/session.py").run()
    at.selectbox(key="override_field").select("summary").run()
    [b for b in at.button if b.label == "Save override"][0].click().run()
    assert any("reason is required" in e.value for e in at.error)
    with live.ctx.system_db() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Review)) == before


def test_lead_sees_the_session_but_no_override_form(live: Live) -> None:
    at = _signed_in(live, "lead")
    at.session_state["session_id"] = live.flagged_id
    at.switch_page("pages/session.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.label == "Save override"]
    assert any(s.value == "Audit history" for s in at.subheader)


def test_a_failed_session_shows_why_and_a_supervisor_can_retry_it(live: Live) -> None:
    from vigil.db.models import Job, Session

    with live.ctx.system_db() as db:
        before = db.get(Session, uuid.UUID(live.failed_id)).error
    at = _signed_in(live)
    at.session_state["session_id"] = live.failed_id
    at.switch_page("pages/session.py").run()
    assert any("Processing failed" in e.value and "Invalid data" in e.value for e in at.error)
    at.button(key="reprocess").click().run()
    assert any("Queued again" in s.value for s in at.success)
    with live.ctx.system_db() as db:
        jobs = db.scalars(sa.select(Job.status).where(Job.session_id == uuid.UUID(live.failed_id))
                          .order_by(Job.created_at)).all()
        # put the session back as it was, for the other tests
        db.execute(sa.delete(Job).where(Job.session_id == uuid.UUID(live.failed_id), Job.status == "queued"))
        db.execute(sa.update(Session).where(Session.id == uuid.UUID(live.failed_id))
                   .values(status="failed", error=before))
        db.commit()
    assert jobs == ["failed", "queued"]


def test_a_lead_sees_the_failure_but_no_retry_button(live: Live) -> None:
    at = _signed_in(live, "lead")
    at.session_state["session_id"] = live.failed_id
    at.switch_page("pages/session.py").run()
    assert any("Processing failed" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "reprocess"]


def test_a_supervisor_corrects_a_segments_speaker_and_the_transcript_shows_it(live: Live) -> None:
    at = _signed_in(live)
    at.session_state["session_id"] = live.routine_id
    at.switch_page("pages/session.py").run()
    at.selectbox(key="speaker_segment").select(0)
    at.text_input(key="speaker_name").input("counselor")
    at.text_input(key="speaker_reason").input("Opening greeting is the coach")
    [b for b in at.button if b.label == "Save speaker"][0].click().run()
    assert not at.exception
    assert any(t.value.startswith("[0:00] counselor: ") for t in at.text)


def test_session_page_shows_each_tasks_outcome_and_the_conversation_analytics(live: Live) -> None:
    at = _signed_in(live)
    at.session_state["session_id"] = live.flagged_id
    at.switch_page("pages/session.py").run()
    assert not at.exception
    tasks = next(c.value for c in at.caption if c.value.startswith("Tasks:"))
    assert all(f"{name} ✔" in tasks for name in ("refinement", "analytics", "risk", "summary"))
    assert any(e.label == "Conversation analytics" for e in at.expander)


def test_a_session_whose_risk_task_failed_is_first_in_the_queue_and_says_review_manually(live: Live) -> None:
    at = _signed_in(live)
    queue = at.dataframe[0].value
    first = queue.iloc[0]
    assert first["attention"] == "⚠ risk analysis failed — review manually" and "unknown" in first["risk"]
    at.session_state["session_id"] = live.risk_failed_id
    at.switch_page("pages/session.py").run()
    assert not at.exception
    assert any("Risk analysis failed — review manually" in e.value for e in at.error)
    assert any(s.value.startswith("Risk:") and "unknown" in s.value for s in at.subheader), "never 'none'"
    assert any(c.value.startswith("Tasks:") and "risk ✖" in c.value for c in at.caption)


def test_governance_page_shows_versions_and_replay_runs_side_by_side(live: Live) -> None:
    at = _signed_in(live, "lead")
    at.switch_page("pages/governance.py").run()
    assert not at.exception
    overview = next(df.value for df in at.dataframe if "candidate risk" in df.value.columns)
    assert list(overview["candidate"]) == ["rubric-abc123abc123"]
    assert overview.iloc[0]["baseline risk"] == "R 0.5 · P 0.6667"
    comparison = next(df.value for df in at.dataframe if "measure" in df.value.columns)
    rows = dict(zip(comparison["measure"], comparison.iloc[:, 1], strict=True))
    baseline = dict(zip(comparison["measure"], comparison.iloc[:, 2], strict=True))
    assert rows["risk any R"] == 1.0 and baseline["risk any R"] == 0.5
    assert rows["mi_quality accuracy"] == 0.9
    assert not [b for b in at.button if b.key == "activate"], "a lead cannot activate versions"


def test_kpi_page_counts_what_needs_action_and_offers_exports(live: Live) -> None:
    import httpx

    facts = httpx.get(f"{live.url}/api/v1/analytics/review-facts", headers=live.tenant.headers("lead")).json()
    at = _signed_in(live, "lead")
    at.switch_page("pages/kpis.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    awaiting = sum(1 for f in facts if f["flagged"] and f["reviewed_at"] is None)
    assert metrics["Awaiting review"] == str(awaiting) and metrics["Flagged"] == str(sum(f["flagged"] for f in facts))
    assert any(s.value == "reviewLatencyMinutes" for s in at.subheader)


def test_queue_filters_narrow_the_list_and_the_counts(live: Live) -> None:
    at = _signed_in(live)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["All sessions"] == "4"
    at.selectbox(key="f_counselor").select("Dana Ruiz").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Matching sessions"] == "1"
    shown = at.dataframe[0].value
    assert list(shown["counselor"]) == ["Dana Ruiz"] and shown.iloc[0]["categories"] == "suicidal ideation"
    at.selectbox(key="f_counselor").set_value(None)
    at.toggle(key="f_failed").set_value(True).run()
    titles = set(at.dataframe[0].value["attention"])
    assert titles == {"⚠ processing failed", "⚠ risk analysis failed — review manually"}
    at.toggle(key="f_failed").set_value(False)
    at.selectbox(key="f_category").select("suicidal_ideation").run()
    assert at.selectbox(key="queue_choice").value == live.flagged_id
    exports = {b.label for b in at.get("download_button")}
    assert {"⬇ CSV", "⬇ Parquet"} <= exports


def test_keyboard_flow_approve_then_next(live: Live) -> None:
    at = _signed_in(live)
    at.session_state["session_id"] = live.flagged_id
    at.switch_page("pages/session.py").run()
    approve = at.button(key="approve")
    assert approve.proto.shortcut == "a" and at.button(key="escalate").proto.shortcut == "e"
    at.button(key="escalate").click().run()
    assert any("Say why you escalate" in e.value for e in at.error), "escalating needs a note"
    at.button(key="next").click().run()
    assert not at.exception
    assert at.session_state["session_id"] == live.risk_failed_id, "next: the other session awaiting review"
    assert at.button(key="approve").disabled, "risk unknown: there is no AI level to approve"
    at.session_state["session_id"] = live.flagged_id
    at.switch_page("pages/session.py").run()
    with live.ctx.system_db() as db:
        before = db.scalar(sa.select(sa.func.count()).select_from(Review)
                           .where(Review.session_id == uuid.UUID(live.flagged_id)))
    current = next(s.value for s in at.subheader if s.value.startswith("Risk:"))
    at.button(key="approve").click().run()
    assert any(s.value.startswith(plain("Saved: risk level")) for s in at.success)
    with live.ctx.system_db() as db:
        latest = db.scalar(sa.select(Review).where(Review.session_id == uuid.UUID(live.flagged_id))
                           .order_by(Review.created_at.desc()).limit(1))
        after = db.scalar(sa.select(sa.func.count()).select_from(Review)
                          .where(Review.session_id == uuid.UUID(live.flagged_id)))
    assert after == before + 1 and latest.field == "risk_level" and latest.human_value["value"] in current
    from vigil.services.analysis_content import review_text

    assert review_text(live.ctx.store, latest).reason == "Approved: the assessment stands" and latest.reason == ""


def test_jobs_page_lists_dead_work_and_retries_it(live: Live) -> None:
    from vigil.db.models import Job, Session

    with live.ctx.system_db() as db:
        job = db.scalar(sa.select(Job).where(Job.session_id == uuid.UUID(live.routine_id)))
        db.execute(sa.update(Job).where(Job.id == job.id).values(status="dead", error_code="provider_down",
                                                                 error_detail="every provider failed"))
        db.commit()
    try:
        at = _signed_in(live)
        at.switch_page("pages/jobs.py").run()
        assert not at.exception
        assert {m.label: m.value for m in at.metric}["Dead"] == "1"
        listed = next(df.value for df in at.dataframe if "reason" in df.value.columns)
        assert list(listed["reason"]) == ["every provider failed"]
        at.button(key="retry").click().run()
        assert any("Queued again" in s.value for s in at.success)
        with live.ctx.system_db() as db:
            statuses = db.scalars(sa.select(Job.status).where(Job.session_id == uuid.UUID(live.routine_id))
                                  .order_by(Job.created_at)).all()
        assert statuses == ["dead", "queued"]
    finally:
        with live.ctx.system_db() as db:
            db.execute(sa.delete(Job).where(Job.session_id == uuid.UUID(live.routine_id), Job.status == "queued"))
            db.execute(sa.update(Job).where(Job.id == job.id).values(status="succeeded", error_code=None,
                                                                     error_detail=None))
            db.execute(sa.update(Session).where(Session.id == uuid.UUID(live.routine_id)).values(status="ready"))
            db.commit()


def test_each_role_sees_only_its_pages(live: Live) -> None:
    lead = _signed_in(live, "lead")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        lead.switch_page("pages/jobs.py")
    lead.switch_page("pages/governance.py").run()
    assert not lead.exception
    uploader = _signed_in(live, "uploader")
    assert not uploader.exception
    assert uploader.title[0].value == "Upload", "an uploader lands on the upload page"
    for page in ("pages/queue.py", "pages/session.py", "pages/kpis.py", "pages/jobs.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            uploader.switch_page(page)


def test_an_uploader_uploads_from_the_dashboard(live: Live) -> None:
    from vigil.db.models import Session

    at = _signed_in(live, "uploader")
    assert not at.exception
    at.get("file_uploader")[0].set_value(("visit.mp3", (SAMPLES / "checkin-risk.mp3").read_bytes(), "audio/mpeg"))
    at.text_input(key="upload_counselor").input("Ana Ortiz")
    at.text_input(key="upload_team").input("East")
    [b for b in at.button if b.label == "Upload"][0].click().run()
    assert not at.exception
    assert any(s.value.startswith("Accepted: session") for s in at.success)
    try:
        with live.ctx.system_db() as db:
            [row] = db.execute(sa.select(Session.original_filename, Session.team, Session.status)
                               .where(Session.counselor == "Ana Ortiz")).all()
        assert tuple(row) == ("visit.mp3", "East", "uploaded")
        uploads = next(df.value for df in at.dataframe if "status" in df.value.columns)
        assert uploads.iloc[0]["counselor"] == "Ana Ortiz", "the new upload is listed first"
    finally:
        with live.ctx.system_db() as db:
            db.execute(sa.delete(Session).where(Session.counselor == "Ana Ortiz"))
            db.commit()


def test_text_from_users_and_transcripts_is_never_rendered_as_markup(live: Live) -> None:
    """An uploader's title and a transcript segment carrying HTML and Markdown are shown literally."""
    import json

    import streamlit as st

    from vigil.db.models import Session
    from vigil.storage.base import TRANSCRIPT_AGENT_NAME, artifact_key

    hostile = "<script>alert(1)</script> **bold** [click](http://evil.test) ![pixel](http://evil.test/p.png)"
    sid = uuid.UUID(live.routine_id)
    with live.ctx.system_db() as db:
        session = db.get(Session, sid)
        title, key = session.title, artifact_key(session.tenant_id, sid, TRANSCRIPT_AGENT_NAME)
        db.execute(sa.update(Session).where(Session.id == sid).values(title=hostile))
        db.commit()
    original = live.ctx.store.get_bytes(key)
    transcript = json.loads(original)
    transcript["segments"][0]["text"] = hostile
    live.ctx.store.put_bytes(key, json.dumps(transcript).encode())
    st.cache_data.clear()
    try:
        at = _signed_in(live)
        at.session_state["session_id"] = live.routine_id
        at.switch_page("pages/session.py").run()
        assert not at.exception
        assert at.title[0].value == plain(hostile), "the title is escaped before Markdown sees it"
        assert any(t.value.endswith(hostile) for t in at.text), "the segment is plain text, verbatim"
        rendered_as_markdown = [m.value for m in at.markdown if "evil.test" in m.value or "<script>" in m.value]
        assert rendered_as_markdown == []
    finally:
        live.ctx.store.put_bytes(key, original)
        with live.ctx.system_db() as db:
            db.execute(sa.update(Session).where(Session.id == sid).values(title=title))
            db.commit()
        st.cache_data.clear()


def test_signing_in_and_downloading_a_table_are_audited(live: Live) -> None:
    from vigil.db.models import AuditEntry

    def actions(kind: str) -> list[dict]:
        with live.ctx.system_db() as db:
            return list(db.scalars(sa.select(AuditEntry.detail).where(AuditEntry.action == kind)
                                   .order_by(AuditEntry.seq)))

    sign_ins = len(actions("user.sign_in"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="token_input").input(live.tenant.lead)
    at.button[0].click().run()
    assert len(actions("user.sign_in")) == sign_ins + 1 and actions("user.sign_in")[-1] == {"client": "dashboard"}
    at.switch_page("pages/kpis.py").run()
    csv = next(b for b in at.get("download_button") if b.key == "review-facts-csv")
    csv.click().run()
    assert not at.exception
    exported = actions("data.export")[-1]
    assert exported["format"] == "csv" and exported["rows"] >= 4


def _alert(live: Live, session_id: str, status: str, **values: object) -> uuid.UUID:
    """An alert delivery of the session's analysis, as the pipeline's outbox writes it."""
    from vigil.db.models import Alert, Analysis, utcnow

    with live.ctx.system_db() as db:
        analysis = db.scalar(sa.select(Analysis).where(Analysis.session_id == uuid.UUID(session_id)))
        alert = Alert(id=uuid.uuid4(), tenant_id=analysis.tenant_id, session_id=analysis.session_id,
                      analysis_id=analysis.id, category="suicidal_ideation", severity="high", channel_type="webhook",
                      channel_url="https://hooks.example.test/x", status=status, attempts=1,
                      next_attempt_at=utcnow(), created_at=utcnow(), **values)
        db.add(alert)
        db.commit()
        return alert.id


def test_a_supervisor_acknowledges_a_sessions_alert_and_a_lead_only_sees_it(live: Live) -> None:
    from vigil.db.models import Alert, AuditEntry

    alert_id = _alert(live, live.flagged_id, "delivered")
    try:
        lead = _signed_in(live, "lead")
        lead.session_state["session_id"] = live.flagged_id
        lead.switch_page("pages/session.py").run()
        assert any(s.value == "Alerts" for s in lead.subheader)
        assert any("webhook hooks.example.test" in c.value for c in lead.caption)
        assert any(w.value == "Not acknowledged yet." for w in lead.warning)
        assert not [b for b in lead.button if b.label == "Acknowledge alert"], "a lead may not acknowledge"

        at = _signed_in(live)
        at.session_state["session_id"] = live.flagged_id
        at.switch_page("pages/session.py").run()
        [b for b in at.button if b.label == "Acknowledge alert"][0].click().run()
        assert not at.exception
        assert any(s.value.startswith("Acknowledged") and "by" in s.value for s in at.success)
        with live.ctx.system_db() as db:
            alert = db.get(Alert, alert_id)
            audited = db.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "alert.acknowledged",
                                                                 AuditEntry.entity_id == live.flagged_id))
        assert alert.acknowledged_via == "dashboard" and alert.acknowledged_by is not None and audited == 1
    finally:
        with live.ctx.system_db() as db:
            db.execute(sa.delete(Alert).where(Alert.id == alert_id))
            db.commit()


def test_the_jobs_page_lists_a_dead_alert_and_retries_it(live: Live) -> None:
    from vigil.db.models import Alert

    alert_id = _alert(live, live.flagged_id, "dead", last_error="ConnectError: connection refused")
    try:
        at = _signed_in(live)
        at.switch_page("pages/jobs.py").run()
        assert not at.exception
        assert any(s.value == "Dead alert deliveries (1)" for s in at.subheader)
        assert any("connection refused" in m.value for m in at.markdown)
        at.button(key=f"retry_alert_{alert_id}").click().run()
        assert any("Queued again" in s.value for s in at.success)
        with live.ctx.system_db() as db:
            alert = db.get(Alert, alert_id)
        assert (alert.status, alert.attempts) == ("pending", 0)
    finally:
        with live.ctx.system_db() as db:
            db.execute(sa.delete(Alert).where(Alert.id == alert_id))
            db.commit()


def test_an_admin_sets_who_speaks_first_and_the_vocabulary_from_the_governance_page(live: Live) -> None:
    import httpx

    from vigil.db.models import AuditEntry

    tenant_id = tenant_id_of(live.ctx, live.tenant)
    settings = f"{live.url}/api/v1/tenants/{tenant_id}"
    at = _signed_in(live, "admin")
    at.switch_page("pages/governance.py").run()
    assert not at.exception
    at.selectbox(key="first_speaker").set_value("counselor")
    at.text_area(key="vocabulary_terms").input("Naltrexone\n  Cedar   House \n\nnaltrexone")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and any("Saved: 2 vocabulary terms" in s.value for s in at.success)
    headers = live.tenant.headers("admin")
    assert httpx.get(f"{settings}/vocabulary", headers=headers).json()["terms"] == ["Naltrexone", "Cedar House"]
    assert httpx.get(f"{settings}/speakers", headers=headers).json()["first_speaker"] == "counselor"
    with live.ctx.system_db() as db:
        kinds = list(db.scalars(sa.select(AuditEntry.action).where(AuditEntry.entity_id == str(tenant_id))))
    assert "tenant.vocabulary" in kinds and "tenant.first_speaker" in kinds
    at.text_area(key="vocabulary_terms").input("x" * 101)
    next(b for b in at.button if b.label == "Save").click().run()
    assert any("Not saved" in e.value and "100 characters" in e.value for e in at.error)
    assert httpx.get(f"{settings}/vocabulary", headers=headers).json()["terms"] == ["Naltrexone", "Cedar House"]
    httpx.put(f"{settings}/speakers", headers=headers, json={"first_speaker": None}).raise_for_status()
    httpx.put(f"{settings}/vocabulary", headers=headers, json={"terms": []}).raise_for_status()
    supervisor = _signed_in(live)
    supervisor.switch_page("pages/governance.py").run()
    assert not [s for s in supervisor.subheader if s.value == "Transcription settings"]
