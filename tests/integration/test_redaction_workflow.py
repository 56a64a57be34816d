"""Redaction end to end: a provider (AssemblyAI's SDK against its REST stand-in) hears a client give a phone
number, an email, an address, a card and an SSN, and the tenant's list names a person. What analysis, the API and
the stored display text see is redacted; the original is kept beside it; the findings hold no personal data; a
supervisor restores a false positive through an audited review and only that span comes back."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.integration.test_transcription_fanout import _extracted
from tests.standins.assemblyai_server import AssemblyAIStandin, serve_standin
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.context import Context
from vigil.db.models import Analysis, AuditEntry
from vigil.db.models import Session as SessionRow
from vigil.services.auth import authenticate
from vigil.services.jobs import ClaimedStage, claim_next_stage, complete_stage
from vigil.services.pipeline import run_analyze, run_transcribe
from vigil.services.redaction import set_redaction_names
from vigil.storage.base import TRANSCRIPT_AGENT_NAME, TRANSCRIPT_ORIGINAL_NAME, TRANSCRIPT_REDACTIONS_NAME, artifact_key
from vigil.transcription.registry import build_transcriber

pytestmark = pytest.mark.own_database  # claims stages by hand

KEY = "stand-in-key"
PII = {"phone": "(202) 456-1111", "email": "jane.doe@example.com", "address": "1600 Pennsylvania Avenue",
       "card": "4111 1111 1111 1111", "national_id": "123-45-6789", "name": "Maria Lopez"}
SCRIPT = [
    ("A", "Before we finish, how can I reach you this week?"),
    ("B", f"My cell is {PII['phone']} or write to {PII['email']} any time."),
    ("B", f"I moved to {PII['address']} last month and I feel hopeless about it."),
    ("B", f"The bank froze my card {PII['card']} and asked for my SSN {PII['national_id']}."),
    ("A", f"Thank you. I will let {PII['name']} know you called, and we meet again on March 3rd at 10:30."),
]


@pytest.fixture
def assemblyai() -> Iterator[str]:
    with serve_standin(AssemblyAIStandin(api_key=KEY, script=SCRIPT)) as url:
        yield url


def _next(ctx: Context, claim: ClaimedStage) -> ClaimedStage:
    with ctx.system_db() as db:
        complete_stage(db, claim, 0.1)
        following = claim_next_stage(db, 60)
    assert following is not None and following.job_id == claim.job_id
    return following


@pytest.fixture
def redacted(ctx: Context, tenant_a: Tenant, assemblyai: str) -> ClaimedStage:
    """A session transcribed by the stand-in and analysed offline, with the tenant's name list set."""
    with ctx.system_db() as db:
        admin = authenticate(db, tenant_a.admin)
    with ctx.tenant_db(admin.tenant_id) as db:
        set_redaction_names(db, admin, admin.tenant_id, [PII["name"], "  "])
    ctx.settings = ctx.settings.model_copy(update={"transcribers": "assemblyai", "assemblyai_api_key": KEY,
                                                   "assemblyai_base_url": assemblyai, "provider_timeout_seconds": 30})
    claim = _next(ctx, _extracted(ctx, tenant_a))
    run_transcribe(ctx, claim, [build_transcriber("assemblyai", ctx.settings)])
    claim = _next(ctx, claim)
    run_analyze(ctx, claim, OfflineAnalyzer())
    return claim


def _object(ctx: Context, claim: ClaimedStage, name: str) -> str:
    return ctx.store.get_bytes(artifact_key(claim.tenant_id, claim.session_id, name)).decode()


def test_analysis_and_display_read_only_redacted_text(ctx: Context, redacted: ClaimedStage) -> None:
    agent = _object(ctx, redacted, TRANSCRIPT_AGENT_NAME)
    with ctx.system_db() as db:
        analysis = db.scalar(sa.select(Analysis.result).where(Analysis.session_id == redacted.session_id))
        count = db.scalar(sa.select(SessionRow.redaction_count).where(SessionRow.id == redacted.session_id))
    for kind, value in PII.items():
        assert value not in agent, f"{kind} left in the agent transcript"
        assert value not in json.dumps(analysis), f"{kind} reached the analysis"
    for placeholder in ("[PHONE]", "[EMAIL]", "[ADDRESS]", "[CARD]", "[NATIONAL_ID]", "[NAME]"):
        assert placeholder in agent
    assert "March 3rd at 10:30" in agent and "hopeless" in agent  # ordinary numbers and words untouched
    assert count == 6
    assert analysis["risk_level"] != "none", "redaction must not hide what the risk analysis needs"


def test_the_original_is_kept_and_the_findings_hold_no_personal_data(ctx: Context, redacted: ClaimedStage) -> None:
    original = _object(ctx, redacted, TRANSCRIPT_ORIGINAL_NAME)
    findings = _object(ctx, redacted, TRANSCRIPT_REDACTIONS_NAME)
    assert all(value in original for value in PII.values())
    assert all(value not in findings for value in PII.values())
    assert sorted(f["kind"] for f in json.loads(findings)) == sorted(PII)


def test_a_supervisor_restores_a_false_positive_and_only_that_span_comes_back(
        ctx: Context, client: TestClient, tenant_a: Tenant, redacted: ClaimedStage) -> None:
    base = f"/api/v1/sessions/{redacted.session_id}"
    listed = client.get(f"{base}/redactions", headers=tenant_a.headers("lead")).json()
    assert {item["kind"] for item in listed} == set(PII) and all(item["decision"] == "redacted" for item in listed)
    assert all(value not in json.dumps(listed) for value in PII.values())
    address = next(item for item in listed if item["kind"] == "address")

    body = {"field": address["field"], "value": "restored", "reason": "a clinic's public address, not the client's"}
    assert client.post(f"{base}/reviews", json=body, headers=tenant_a.headers("lead")).status_code == 403
    assert client.post(f"{base}/reviews", json={**body, "value": "shown"},
                       headers=tenant_a.headers()).status_code == 400
    assert client.post(f"{base}/reviews", json=body, headers=tenant_a.headers()).status_code == 201

    transcript = client.get(f"{base}/transcript", headers=tenant_a.headers("lead")).json()
    assert PII["address"] in transcript["text"]
    assert all(PII[kind] not in transcript["text"] for kind in PII if kind != "address")
    assert transcript["restored_redactions"] == [address["index"]]
    after = {item["index"]: item["decision"] for item in client.get(f"{base}/redactions",
                                                                    headers=tenant_a.headers()).json()}
    assert after[address["index"]] == "restored" and list(after.values()).count("restored") == 1
    with ctx.system_db() as db:
        entry = db.scalar(sa.select(AuditEntry.detail).where(AuditEntry.entity_id == str(redacted.session_id),
                                                             AuditEntry.action == "review.override"))
        reviewed_at = db.scalar(sa.select(SessionRow.reviewed_at).where(SessionRow.id == redacted.session_id))
    assert entry["field"] == address["field"] and entry["human_value"] == "restored"
    assert reviewed_at is None, "a redaction decision is not the session's risk review"


def test_another_tenant_sees_no_redactions_and_cannot_restore_one(client: TestClient, tenant_b: Tenant,
                                                                   redacted: ClaimedStage) -> None:
    base = f"/api/v1/sessions/{redacted.session_id}"
    assert client.get(f"{base}/redactions", headers=tenant_b.headers()).status_code == 404
    body = {"field": "redaction.0", "value": "restored", "reason": "crossing the wall"}
    assert client.post(f"{base}/reviews", json=body, headers=tenant_b.headers()).status_code == 404


def test_admins_keep_the_names_list_and_its_audit_entry_does_not_list_them(ctx: Context, client: TestClient,
                                                                          tenant_a: Tenant) -> None:
    with ctx.system_db() as db:
        tenant_id = authenticate(db, tenant_a.admin).tenant_id
    url = f"/api/v1/tenants/{tenant_id}/redaction"
    put = client.put(url, json={"names": ["Sam Okafor", "Sam Okafor", " Riverside Clinic "]},
                     headers=tenant_a.headers("admin"))
    assert put.status_code == 200 and put.json() == {"names": ["Riverside Clinic", "Sam Okafor"]}
    assert client.get(url, headers=tenant_a.headers("supervisor")).status_code == 403
    with ctx.system_db() as db:
        detail = db.scalar(sa.select(AuditEntry.detail).where(AuditEntry.tenant_id == tenant_id,
                                                              AuditEntry.action == "tenant.redaction_names"))
    assert detail == {"names_before": 0, "names_after": 2} and "Okafor" not in json.dumps(detail)


def test_reviewers_may_reveal_what_was_hidden_and_each_reveal_is_audited(
        ctx: Context, client: TestClient, tenant_a: Tenant, redacted: ClaimedStage) -> None:
    base = f"/api/v1/sessions/{redacted.session_id}"
    assert client.get(f"{base}/redactions?reveal=true", headers=tenant_a.headers("lead")).status_code == 403
    assert client.get(f"{base}/transcript/raw", headers=tenant_a.headers("lead")).status_code == 403
    revealed = client.get(f"{base}/redactions?reveal=true", headers=tenant_a.headers()).json()
    assert {item["kind"]: item["original"] for item in revealed} == PII
    raw = client.get(f"{base}/transcript/raw", headers=tenant_a.headers())
    assert raw.status_code == 200 and PII["email"] in raw.text
    with ctx.system_db() as db:
        reads = db.scalars(sa.select(AuditEntry.detail).where(AuditEntry.entity_id == str(redacted.session_id),
                                                              AuditEntry.action == "transcript.original_read")).all()
    assert sorted(r["what"] for r in reads) == ["raw", "redactions"]


def test_the_session_page_lists_redactions_and_a_supervisor_restores_one(
        ctx: Context, tenant_a: Tenant, redacted: ClaimedStage, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from tests.conftest import api_on_loopback, free_port

    app = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
    ctx.settings = ctx.settings.model_copy(update={"api_port": free_port()})
    with api_on_loopback(ctx) as url:
        monkeypatch.setenv("API_URL", url)
        at = AppTest.from_file(app, default_timeout=60)
        at.session_state["token"] = tenant_a.supervisor
        at.run()
        at.session_state["session_id"] = str(redacted.session_id)
        at.switch_page("pages/session.py").run()
        assert not at.exception
        assert "Redactions" in [s.value for s in at.subheader]
        page = " ".join(str(df.value) for df in at.dataframe)
        assert "[EMAIL]" in page and PII["email"] not in page

        at.toggle(key="reveal_pii").set_value(True).run()
        assert PII["email"] in " ".join(str(df.value) for df in at.dataframe)

        email = next(n for n, f in enumerate(json.loads(_object(ctx, redacted, TRANSCRIPT_REDACTIONS_NAME)))
                     if f["kind"] == "email")
        at.selectbox(key="redaction_finding").set_value(email)
        at.text_input(key="redaction_reason").input("the clinic's shared inbox, not the client's")
        at.button(key="FormSubmitter:redaction-Save decision").click().run()
        assert not at.exception and not at.error
    with ctx.system_db() as db:
        entry = db.scalar(sa.select(AuditEntry.detail).where(AuditEntry.entity_id == str(redacted.session_id),
                                                             AuditEntry.action == "review.override"))
    assert entry == {**entry, "field": f"redaction.{email}", "human_value": "restored"}
