"""Reviews through the API: the human value becomes canonical, every override is audited, roles hold."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import SAMPLES, Tenant, isolated_context, make_tenant, process_session
from vigil.context import Context
from vigil.db.models import AuditEntry, Review
from vigil.schemas.transcripts import ReviewedTranscript
from vigil.sealed_text import digest


@dataclass
class Reviewed:
    client: TestClient
    ctx: Context
    tenant: Tenant
    other: Tenant
    flagged: str
    routine: str


@pytest.fixture(scope="module")
def world(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory, whisper) -> Iterator[Reviewed]:  # type: ignore[no-untyped-def]
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("reviews"))
    tenant, other = make_tenant(ctx), make_tenant(ctx)
    routine = process_session(ctx, tenant, SAMPLES / "routine-coaching.m4a", whisper)
    flagged = process_session(ctx, tenant, SAMPLES / "checkin-risk.mp3", whisper)
    with TestClient(configure(create_app(), ctx)) as client:
        yield Reviewed(client, ctx, tenant, other, flagged, routine)


def _review(w: Reviewed, sid: str, role: str, field: str, value: object, reason: str = "checked the recording"):  # type: ignore[no-untyped-def]
    return w.client.post(f"/api/v1/sessions/{sid}/reviews", headers=w.tenant.headers(role),
                         json={"field": field, "value": value, "reason": reason})


def _review_count(w: Reviewed) -> int:
    with w.ctx.system_db() as db:
        return db.scalar(sa.select(sa.func.count()).select_from(Review))


def test_the_routine_session_is_not_flagged_and_the_disclosure_is(world: Reviewed) -> None:
    routine = world.client.get(f"/api/v1/sessions/{world.routine}", headers=world.tenant.headers()).json()
    flagged = world.client.get(f"/api/v1/sessions/{world.flagged}", headers=world.tenant.headers()).json()
    assert (routine["flagged"], routine["risk_level"]) == (False, "none")
    assert (flagged["flagged"], flagged["risk_level"]) == (True, "high")


def test_list_filters_by_flagged_and_reviewed(world: Reviewed) -> None:
    headers = world.tenant.headers()
    flagged = world.client.get("/api/v1/sessions", params={"flagged": True}, headers=headers).json()
    assert [s["id"] for s in flagged] == [world.flagged]
    ready = world.client.get("/api/v1/sessions", params={"status": "ready"}, headers=headers).json()
    assert {s["id"] for s in ready} == {world.flagged, world.routine}


def test_rubric_override_becomes_the_effective_score_and_is_audited(world: Reviewed) -> None:
    analysis = world.client.get(f"/api/v1/sessions/{world.routine}/analysis", headers=world.tenant.headers()).json()
    item = analysis["ai"]["rubric"][0]
    new_score = 1 if item["score"] != 1 else 5
    response = _review(world, world.routine, "supervisor", f"rubric.{item['key']}", new_score, "Closed questions only")
    assert response.status_code == 201, response.text
    after = world.client.get(f"/api/v1/sessions/{world.routine}/analysis", headers=world.tenant.headers()).json()
    assert after["effective"][f"rubric.{item['key']}"] == new_score
    assert after["ai"]["rubric"][0]["score"] == item["score"], "the AI value is kept beside the human one"
    reviewed = world.client.get("/api/v1/sessions", params={"reviewed": True}, headers=world.tenant.headers()).json()
    assert world.routine in [s["id"] for s in reviewed]
    with world.ctx.system_db() as db:
        entry = db.scalar(sa.select(AuditEntry).where(AuditEntry.action == "review.override",
                                                      AuditEntry.entity_id == world.routine))
    assert entry.detail["human_value"] == new_score and entry.detail["reason"] == digest("Closed questions only")


def test_invalid_values_and_unknown_fields_are_400_and_save_nothing(world: Reviewed) -> None:
    before = _review_count(world)
    assert _review(world, world.flagged, "supervisor", "risk_level", "catastrophic").status_code == 400
    assert _review(world, world.flagged, "supervisor", "rubric.nope", 3).status_code == 400
    assert _review(world, world.flagged, "supervisor", "flag.self_harm", "maybe").status_code == 400
    assert _review(world, world.flagged, "supervisor", "risk_level", "low", reason="").status_code == 422
    assert _review_count(world) == before


def test_lead_and_uploader_cannot_override(world: Reviewed) -> None:
    before = _review_count(world)
    assert _review(world, world.flagged, "lead", "risk_level", "low").status_code == 403
    assert _review(world, world.flagged, "uploader", "risk_level", "low").status_code == 403
    assert _review_count(world) == before


def test_uploader_can_follow_status_but_not_read_content(world: Reviewed) -> None:
    headers = world.tenant.headers("uploader")
    assert world.client.get(f"/api/v1/sessions/{world.flagged}", headers=headers).status_code == 200
    for path in ("/transcript", "/analysis", "/audio", "/audit"):
        assert world.client.get(f"/api/v1/sessions/{world.flagged}{path}", headers=headers).status_code == 403


def test_another_tenants_supervisor_gets_404_and_changes_nothing(world: Reviewed) -> None:
    before = _review_count(world)
    response = world.client.post(f"/api/v1/sessions/{world.flagged}/reviews", headers=world.other.headers(),
                                 json={"field": "risk_level", "value": "none", "reason": "trying to hide it"})
    assert response.status_code == 404
    assert world.client.get(f"/api/v1/sessions/{world.flagged}", headers=world.other.headers()).status_code == 404
    assert _review_count(world) == before


def test_metrics_report_transcript_quality_and_stage_durations(world: Reviewed) -> None:
    metrics = world.client.get(f"/api/v1/sessions/{world.flagged}/metrics", headers=world.tenant.headers()).json()
    whisper = metrics["transcripts"]["whisper"]
    assert whisper["word_count"] > 50 and 0 < whisper["mean_confidence"] <= 1
    assert 60 < whisper["speaking_rate_wpm"] < 250
    assert {s["stage"] for s in metrics["stages"] if s["event"] == "ready"} == {"extract", "transcribe", "analyze"}


def test_health_reports_database_and_object_store(world: Reviewed) -> None:
    assert world.client.get("/api/v1/health").json() == {"status": "ok", "database": "ok", "object_store": "ok"}


def test_a_supervisor_sets_a_segments_speaker_and_the_transcript_shows_it(world: Reviewed) -> None:
    response = _review(world, world.flagged, "supervisor", "segment.0.speaker", "counselor", "Opening question")
    assert response.status_code == 201, response.text
    # The AI's value is the diarized speaker of the opening segment (labels are numbered in order of appearance).
    assert response.json()["ai_value"] == "S1" and response.json()["human_value"] == "counselor"
    transcript = world.client.get(f"/api/v1/sessions/{world.flagged}/transcript", headers=world.tenant.headers()).json()
    assert transcript["segments"][0]["speaker"] == "counselor"
    assert transcript["text"].startswith("counselor: ")
    assert transcript["speaker_overrides"] == {"segment.0.speaker": "counselor"}
    assert ReviewedTranscript.model_validate(transcript).restored_redactions == []  # the schema the API documents
    with world.ctx.system_db() as db:
        entry = db.scalar(sa.select(AuditEntry).where(AuditEntry.entity_id == world.flagged,
                                                      AuditEntry.action == "review.override")
                          .order_by(AuditEntry.created_at.desc()).limit(1))
    assert entry.detail["field"] == "segment.0.speaker"


def test_speaker_fields_that_do_not_exist_are_refused(world: Reviewed) -> None:
    before = _review_count(world)
    assert _review(world, world.flagged, "supervisor", "segment.999.speaker", "client").status_code == 400
    assert _review(world, world.flagged, "supervisor", "speaker.S9", "client").status_code == 400
    assert _review(world, world.flagged, "supervisor", "segment.0.speaker", "  ").status_code == 400
    assert _review_count(world) == before


def test_the_analysis_history_lists_every_version_newest_first_without_text(world: Reviewed) -> None:
    import json
    import uuid
    from dataclasses import replace

    from tests.integration.test_analysis_tasks import RiskDown, transcribed_session
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.services.jobs import complete_stage
    from vigil.services.pipeline import run_analyze

    claim = transcribed_session(world.ctx, world.tenant)
    run_analyze(world.ctx, claim, OfflineAnalyzer())
    path = f"/api/v1/sessions/{claim.session_id}/analyses"
    [first] = world.client.get(path, headers=world.tenant.headers()).json()
    session = world.client.get(f"/api/v1/sessions/{claim.session_id}", headers=world.tenant.headers()).json()
    assert (first["analysis_version"], first["risk_level"], first["risk_status"]) == \
        (1, session["ai_risk_level"], "analysed")
    assert first["categories"] and first["model"].startswith("vigil-offline")
    [processed] = world.client.get(f"/api/v1/sessions/{world.flagged}/analyses", headers=world.tenant.headers()).json()
    assert len(processed["inputs_key"]) == 64, "a session the real stages made records what its analysis came from"
    with world.ctx.system_db() as db:
        complete_stage(db, claim, 0.1)
    forced = world.client.post(f"/api/v1/sessions/{claim.session_id}/analyze", params={"force": "true"},
                               headers=world.tenant.headers()).json()
    run_analyze(world.ctx, replace(claim, job_id=uuid.UUID(forced["job_id"])), RiskDown())  # a rerun that failed
    versions = world.client.get(path, headers=world.tenant.headers("lead")).json()
    assert [(v["analysis_version"], v["risk_status"]) for v in versions] == [(2, "failed"), (1, "analysed")]
    assert '"summary"' not in json.dumps(versions) and "quote" not in json.dumps(versions)
    assert world.client.get(path, headers=world.tenant.headers("uploader")).status_code == 403
    assert world.client.get(path, headers=world.other.headers()).status_code == 404
