"""The analyze stage on the real database and store: four tasks at once, explicit partial failure, the tenant's
prompt and rubric versions recorded, the daily model budget (alert, then waiting), model failures kept by kind.

Analyzers here are small classes written for the test (the analyzer is not what is under test: the stage is); the
OpenAI path is exercised for real against the Chat Completions stand-in."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import SAMPLES, Tenant, isolated_context, make_tenant
from tests.standins.openai_server import OpenAIStandin, serve_openai_standin
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.analysis.analyzers.openai_analyzer import OpenAIAnalyzer
from vigil.context import Context
from vigil.db.models import Analysis, AuditEntry, Job, ModelFailure, Session, utcnow
from vigil.errors import Deferred, TransientError
from vigil.schemas.analysis import RiskAssessment, RubricDefinition, SessionSummary
from vigil.schemas.api import ConfigVersionIn
from vigil.schemas.transcripts import AgentTranscript, Segment, TranscriptMetrics
from vigil.services import governance
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload
from vigil.services.jobs import ClaimedStage, defer_stage, job_status
from vigil.services.pipeline import RISK_FAILED, run_analysis_tasks, run_analyze
from vigil.storage.base import TRANSCRIPT_AGENT_NAME, TRANSCRIPT_REFINED_NAME, artifact_key

SEGMENTS = [
    Segment(index=0, start=0.0, end=3.0, speaker="counselor", text="hi how have you been this week"),
    Segment(index=1, start=2.6, end=9.0, speaker="client",
            text="um honestly i have been thinking about killing myself"),
    Segment(index=2, start=13.0, end=16.0, speaker="counselor",
            text="Thank you for telling me. Are you safe right now?"),
    Segment(index=3, start=16.5, end=19.0, speaker="client", text="I think so, I have not made a plan."),
]


@pytest.fixture(scope="module")
def ctx(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Context:
    return isolated_context(pg_admin_url, tmp_path_factory.mktemp("analysis-tasks"))


@pytest.fixture
def tenant(ctx: Context) -> Tenant:
    return make_tenant(ctx)


def transcript(session_id: uuid.UUID, segments: list[Segment] | None = None) -> AgentTranscript:
    segments = segments or SEGMENTS
    text = " ".join(s.text for s in segments)
    return AgentTranscript(session_id=session_id, provider="test", language="en", duration=19.0, text=text,
                           segments=segments, metrics=TranscriptMetrics(word_count=len(text.split()),
                                                                        duration_seconds=19.0, speaking_rate_wpm=100,
                                                                        mean_confidence=None,
                                                                        low_confidence_share=None))


def transcribed_session(ctx: Context, tenant: Tenant, segments: list[Segment] | None = None) -> ClaimedStage:
    """A session whose agent transcript (`segments`, default SEGMENTS) is in the store, and a running analyze job
    claimed for it."""
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    session, job = accept_upload(ctx, principal, io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()), "a.mp3",
                                 None)
    ctx.store.put_bytes(artifact_key(session.tenant_id, session.id, TRANSCRIPT_AGENT_NAME),
                        transcript(session.id, segments).model_dump_json().encode())
    token = uuid.uuid4()
    with ctx.system_db() as db:
        db.execute(sa.update(Job).where(Job.id == job.id).values(kind="analyze", stage="analyze", status="running",
                                                                 attempt=1, claim_token=token,
                                                                 lease_until=utcnow() + timedelta(minutes=5)))
        db.commit()
    return ClaimedStage(job_id=job.id, session_id=session.id, tenant_id=session.tenant_id, stage="analyze",
                        attempt=1, claim_token=token)


class Rendezvous(OfflineAnalyzer):
    """assess and summarize each wait for the other at a barrier: they only pass if they run at the same time."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=20)

    def assess(self, transcript: AgentTranscript, rubric: RubricDefinition | None = None) -> RiskAssessment:
        self.barrier.wait()
        return super().assess(transcript, rubric)

    def summarize(self, transcript: AgentTranscript) -> SessionSummary:
        self.barrier.wait()
        return super().summarize(transcript)


class RiskDown(OfflineAnalyzer):
    def assess(self, transcript: AgentTranscript, rubric: RubricDefinition | None = None) -> RiskAssessment:
        raise TransientError("model unreachable", code="all_models_failed")


class SummaryDown(OfflineAnalyzer):
    def summarize(self, transcript: AgentTranscript) -> SessionSummary:
        raise ValueError("summary model returned nothing")


def stored_analyses(ctx: Context, session_id: uuid.UUID) -> list[Analysis]:
    with ctx.system_db() as db:
        return list(db.scalars(sa.select(Analysis).where(Analysis.session_id == session_id)))


def test_the_four_tasks_run_at_once_and_each_records_its_outcome(ctx: Context, tenant: Tenant) -> None:
    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, Rendezvous())  # deadlocks (BrokenBarrierError → failed tasks) if run one by one
    [analysis] = stored_analyses(ctx, claim.session_id)
    tasks = analysis.result["tasks"]
    assert set(tasks) == {"refinement", "analytics", "risk", "summary"}
    assert all(task["status"] == "succeeded" and task["seconds"] >= 0 for task in tasks.values())
    assert tasks["risk"]["model"].startswith("vigil-offline-rules + risk-sentences")
    assert analysis.result["risk_status"] == "analysed" and analysis.risk_level in ("medium", "high")
    analytics = analysis.result["analytics"]
    assert analytics["speakers"]["client"]["fillers"] == 1  # "um"
    assert analytics["interruptions"] == 1  # the client starts 0.4 s before the counselor stopped
    assert analytics["long_silences"] == [{"start": 9.0, "end": 13.0, "seconds": 4.0}]
    refined = AgentTranscript.model_validate_json(
        ctx.store.get_bytes(artifact_key(claim.tenant_id, claim.session_id, TRANSCRIPT_REFINED_NAME)))
    assert refined.segments[0].text == "Hi how have you been this week?"
    assert refined.segments[1].text == "Um honestly I have been thinking about killing myself."


def test_sequential_mode_cannot_pass_the_rendezvous() -> None:
    """The control for the test above: run one after another, the barrier breaks, so that test can fail."""
    analyzer = Rendezvous()
    analyzer.barrier = threading.Barrier(2, timeout=0.5)
    run = run_analysis_tasks(transcript(uuid.uuid4()), analyzer, parallel=False)
    assert run.outcomes["risk"].status == "failed" and run.outcomes["summary"].status == "failed"
    assert run.outcomes["analytics"].status == "succeeded"


def test_a_failed_risk_task_sends_the_session_to_review_marked_never_unflagged(ctx: Context, tenant: Tenant) -> None:
    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, RiskDown())
    run_analyze(ctx, claim, RiskDown())  # redelivered: still one analysis
    [analysis] = stored_analyses(ctx, claim.session_id)
    assert analysis.result["risk_status"] == "failed"
    assert analysis.result["tasks"]["risk"]["status"] == "failed"
    assert "all_models_failed" in analysis.result["tasks"]["risk"]["error"] or "model unreachable" in \
        analysis.result["tasks"]["risk"]["error"]
    from vigil.services.analysis_content import full_result

    assert full_result(ctx.store, analysis)[0].summary  # the other tasks' work is kept (its text in the store)
    with ctx.system_db() as db:
        session = db.get(Session, claim.session_id)
    assert session.flagged is True and session.attention == RISK_FAILED == "risk analysis failed — review manually"
    assert session.ai_risk_level == "unknown" and session.risk_level == "unknown"


def test_a_failed_summary_keeps_the_risk_verdict(ctx: Context, tenant: Tenant) -> None:
    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, SummaryDown())
    [analysis] = stored_analyses(ctx, claim.session_id)
    assert analysis.result["tasks"]["summary"] == {"status": "failed", "seconds": pytest.approx(0, abs=5),
                                                   "model": None, "error": "ValueError: summary model returned nothing"}
    assert analysis.result["summary"] == "" and analysis.risk_level in ("medium", "high")
    with ctx.system_db() as db:
        session = db.get(Session, claim.session_id)
    assert session.attention is None and session.flagged is True and session.ai_risk_level == analysis.risk_level


# ------------------------------------------------------------------ governance
def test_versions_are_content_hashed_immutable_and_the_active_one_is_recorded(ctx: Context, tenant: Tenant) -> None:
    rubric = {"name": "crisis line", "items": [
        {"key": "open_questions", "label": "Open questions", "description": "Share of open questions.",
         "measure": "percent_open_questions", "thresholds": [20, 35, 50, 70]}]}
    reordered = {"items": rubric["items"], "name": "crisis line"}
    with ctx.system_db() as db:
        admin = authenticate(db, tenant.admin)
        first = governance.create_version(db, admin, admin.tenant_id,
                                          ConfigVersionIn(kind="rubric", name="v1", content=rubric, activate=True))
        again = governance.create_version(db, admin, admin.tenant_id,
                                          ConfigVersionIn(kind="rubric", name="same", content=reordered))
        assert first.version == again.version and first.version.startswith("rubric-") and first.active
        assert len(governance.list_versions(db, admin, admin.tenant_id, "rubric")) == 1
        with pytest.raises(sa.exc.IntegrityError, match="immutable"):
            db.execute(sa.text("UPDATE config_versions SET name = 'changed' WHERE version = :v"), {"v": first.version})
        db.rollback()
    claim = transcribed_session(ctx, tenant)
    run_analyze(ctx, claim, OfflineAnalyzer())
    [analysis] = stored_analyses(ctx, claim.session_id)
    assert analysis.rubric_version == first.version and analysis.result["rubric_version"] == first.version
    assert analysis.prompt_version == OfflineAnalyzer.prompt_version


def test_invalid_versions_are_refused_and_other_tenants_cannot_see_or_activate(ctx: Context, tenant: Tenant) -> None:
    from vigil.errors import Forbidden, NotFound, ValidationFailure

    other = make_tenant(ctx)
    with ctx.system_db() as db:
        admin, supervisor = authenticate(db, tenant.admin), authenticate(db, tenant.supervisor)
        stranger = authenticate(db, other.admin)
        with pytest.raises(ValidationFailure, match="not a valid prompt"):
            governance.create_version(db, admin, admin.tenant_id, ConfigVersionIn(
                kind="prompt", name="bad", content={"assess": "no placeholders at all here", "summary": "x" * 30}))
        with pytest.raises(Forbidden):
            governance.create_version(db, supervisor, admin.tenant_id, ConfigVersionIn(
                kind="rubric", name="x", content={"name": "x", "items": []}))
        made = governance.create_version(db, admin, admin.tenant_id, ConfigVersionIn(kind="rubric", name="mine",
            content={"name": "mine", "items": [{"key": "k", "label": "K", "description": "d"}]}))
        with pytest.raises(NotFound):
            governance.list_versions(db, stranger, admin.tenant_id)
        with pytest.raises(NotFound):  # its own tenant does not have that version
            governance.activate_version(db, stranger, stranger.tenant_id, "rubric", made.version)
        assert governance.list_versions(db, stranger, stranger.tenant_id) == []


# ------------------------------------------------------------------ budget
def _spend(ctx: Context, tenant_id: uuid.UUID, session_id: uuid.UUID, tokens: int, when: datetime) -> None:
    with ctx.system_db() as db:
        version = (db.scalar(sa.select(sa.func.max(Analysis.analysis_version))
                             .where(Analysis.session_id == session_id)) or 0) + 1
        db.add(Analysis(tenant_id=tenant_id, session_id=session_id, analysis_version=version, prompt_version="p",
                        model="gpt-4o-mini", risk_level="none", result={}, tokens_in=tokens, tokens_out=0,
                        cost_usd=0.0, created_at=when))
        db.commit()


def test_budget_alerts_once_at_80_percent_then_holds_model_work_until_midnight(ctx: Context, tenant: Tenant) -> None:
    claim = transcribed_session(ctx, tenant)
    with ctx.system_db() as db:
        admin = authenticate(db, tenant.admin)
        governance.set_budget(db, admin, admin.tenant_id, 1000, None, ctx.settings)
    now = datetime.now(UTC)
    _spend(ctx, claim.tenant_id, claim.session_id, 5000, now - timedelta(days=1))  # yesterday does not count
    _spend(ctx, claim.tenant_id, claim.session_id, 850, now)
    with ctx.system_db() as db:
        assert governance.usage(db, claim.tenant_id, ctx.settings).state == "alert"
        governance.guard_model_budget(db, claim.tenant_id, ctx.settings)  # alert, but proceeds
        governance.guard_model_budget(db, claim.tenant_id, ctx.settings)
        alerts = db.scalars(sa.select(AuditEntry).where(AuditEntry.tenant_id == claim.tenant_id,
                                                        AuditEntry.action == "budget.alert")).all()
    assert len(alerts) == 1 and alerts[0].detail["tokens"] == 850
    _spend(ctx, claim.tenant_id, claim.session_id, 200, now)

    class PaidModel(OfflineAnalyzer):
        name = "paid-model"

    with pytest.raises(Deferred) as held:
        run_analyze(ctx, claim, PaidModel())
    assert held.value.code == "over_budget" and held.value.until.hour == 0 and held.value.until > now
    with ctx.system_db() as db:
        assert defer_stage(db, claim, code=held.value.code, detail=held.value.message, until=held.value.until) == \
            "waiting"
        status = job_status(db, authenticate(db, tenant.supervisor), claim.job_id)
        job = db.get(Job, claim.job_id)
    assert status.status == "waiting" and status.error_code == "over_budget" and "daily model budget" in \
        status.error_detail
    assert job.attempt == 0 and job.not_before == held.value.until  # waiting spends no attempt
    assert not any(a.model.startswith("vigil-offline-rules") for a in stored_analyses(ctx, claim.session_id))
    run_analyze(ctx, claim, OfflineAnalyzer())  # offline analysis is free: never held


# ------------------------------------------------------------------ the OpenAI path, end to end through the stage
@pytest.fixture
def standin() -> Iterator[tuple[OpenAIStandin, str]]:
    server = OpenAIStandin(api_key="sk-stage-test")
    with serve_openai_standin(server) as url:
        yield server, url


def test_openai_tokens_cost_and_parse_failures_are_recorded_apart(ctx: Context, tenant: Tenant,
                                                                   standin: tuple[OpenAIStandin, str]) -> None:
    server, url = standin
    flag = {"category": "suicidal_ideation", "severity": "high", "confidence": 0.9,
            "evidence": [{"quote": "thinking about killing myself", "segment_index": 1}]}
    # The two tasks run at once, so each reply must suit whichever call takes it: both carry every field.
    reply = {"risk_level": "high", "flags": [flag], "rubric": [], "summary": "Disclosed ideation.",
             "action_items": ["Safety plan."]}
    server.reply("{not json", times=1)
    server.reply(reply, times=2)
    claim = transcribed_session(ctx, tenant)
    analyzer = OpenAIAnalyzer(["gpt-4o-mini"], api_key="sk-stage-test", base_url=url, timeout_seconds=5)
    run_analyze(ctx, claim, analyzer)
    [analysis] = stored_analyses(ctx, claim.session_id)
    assert (analysis.tokens_in, analysis.tokens_out) == (240, 90)
    assert analysis.cost_usd == pytest.approx(2 * (120 * 0.15 + 45 * 0.60) / 1e6)
    assert analysis.model == "gpt-4o-mini" and analysis.prompt_version.startswith("prompt-")
    with ctx.system_db() as db:
        failures = db.scalars(sa.select(ModelFailure).where(ModelFailure.session_id == claim.session_id)).all()
    assert [(f.model, f.kind) for f in failures] == [("gpt-4o-mini", "invalid_output")]
    assert failures[0].detail.startswith("malformed_json")


def test_the_dispatcher_records_an_over_budget_stage_as_waiting_and_a_failure_as_a_spent_attempt(
        ctx: Context, tenant: Tenant, ray_runtime: None) -> None:
    """`record_failure` is what the dispatcher actor does with whatever a stage raised, here as Ray returns it."""
    import ray
    from ray.exceptions import RayTaskError

    from tasks.dispatcher import record_failure
    from vigil.db.models import StageEvent

    until = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)

    @ray.remote(max_retries=0)
    def over_budget() -> None:
        raise Deferred("the tenant's daily model budget is spent", until=until, code="over_budget")

    claim = transcribed_session(ctx, tenant)
    with pytest.raises(Exception) as wrapped:
        ray.get(over_budget.remote())
    assert isinstance(wrapped.value, RayTaskError)  # it came back in Ray's wrapper, pickled across processes
    assert record_failure(ctx, claim, wrapped.value, 0.1, 1.0) == ("waiting", "over_budget")
    with ctx.system_db() as db:
        job = db.get(Job, claim.job_id)
        events = db.scalars(sa.select(StageEvent.event).where(StageEvent.job_id == claim.job_id)).all()
        assert (job.status, job.attempt, job.not_before, job.error_code) == ("queued", 0, until, "over_budget")
        assert events == ["deferred"]
        assert db.scalar(sa.select(sa.func.count()).select_from(Analysis)
                         .where(Analysis.session_id == claim.session_id)) == 0

    # Claimed again later, a transient failure spends an attempt and is retried.
    token = uuid.uuid4()
    with ctx.system_db() as db:
        db.execute(sa.update(Job).where(Job.id == claim.job_id).values(status="running", attempt=1, claim_token=token,
                                                                       lease_until=utcnow() + timedelta(minutes=5)))
        db.commit()
    again = ClaimedStage(job_id=claim.job_id, session_id=claim.session_id, tenant_id=claim.tenant_id,
                         stage="analyze", attempt=1, claim_token=token)
    status, code = record_failure(ctx, again, TransientError("model down", code="all_models_failed"), 0.1, 1.0)
    assert (status, code) == ("queued", "all_models_failed")
    with ctx.system_db() as db:
        assert db.get(Job, claim.job_id).attempt == 1
