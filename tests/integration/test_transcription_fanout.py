"""The transcribe stage with three real clients at once: Whisper, AssemblyAI's SDK against its REST
stand-in, Google's client against its gRPC stand-in. The stand-ins say what was really said (the
sample's reference text), so the vote has something true to converge on."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import grpc
import pytest

from tests.conftest import SAMPLES, RecordedTelemetry, Tenant
from tests.standins.assemblyai_server import AssemblyAIStandin, serve_standin
from tests.standins.google_speech_server import GoogleSpeechStandin, SpokenWord, running_standin
from vigil.context import Context
from vigil.errors import TransientError
from vigil.schemas import AgentTranscript
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload
from vigil.services.jobs import ClaimedStage, claim_next_stage
from vigil.services.pipeline import run_extract, run_transcribe
from vigil.storage import TRANSCRIPT_AGENT_NAME, artifact_key
from vigil.transcription import providers
from vigil.transcription.base import build_transcriber
from vigil.transcription.quality import word_error_rate

pytestmark = pytest.mark.own_database  # claims stages by hand

REFERENCE = json.loads((SAMPLES / "checkin-risk.json").read_text())["turns"]
REFERENCE_TEXT = " ".join(t["text"] for t in REFERENCE)
KEY = "stand-in-key"


def _spoken_words() -> list[SpokenWord]:
    words = []
    for turn in REFERENCE:
        tokens = turn["text"].split()
        step = (turn["end"] - turn["start"]) / len(tokens)
        speaker = 1 if turn["speaker"] == "counselor" else 2
        words += [SpokenWord(tok, round(turn["start"] + i * step, 3), round(turn["start"] + (i + 0.9) * step, 3),
                             0.8, speaker) for i, tok in enumerate(tokens)]
    return words


@pytest.fixture
def assemblyai() -> Iterator[tuple[AssemblyAIStandin, str]]:
    standin = AssemblyAIStandin(api_key=KEY, script=[("A" if t["speaker"] == "counselor" else "B", t["text"])
                                                     for t in REFERENCE])
    with serve_standin(standin) as url:
        yield standin, url


@pytest.fixture
def google() -> Iterator[tuple[GoogleSpeechStandin, str]]:
    standin = GoogleSpeechStandin(words=_spoken_words())
    with running_standin(standin) as endpoint:
        yield standin, endpoint


@pytest.fixture(autouse=True)
def fresh_breakers() -> None:
    providers._breakers.clear()


def _configure(ctx: Context, names: str, assemblyai_url: str, google_endpoint: str) -> list:  # type: ignore[type-arg]
    ctx.settings = ctx.settings.model_copy(update={
        "transcribers": names, "assemblyai_api_key": KEY, "assemblyai_base_url": assemblyai_url,
        "google_speech_endpoint": google_endpoint, "google_speech_insecure": True, "provider_timeout_seconds": 30})
    return [build_transcriber(name, ctx.settings) for name in names.split(",")]


def _extracted(ctx: Context, tenant: Tenant) -> ClaimedStage:
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    _, job = accept_upload(ctx, principal, io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()), "c.mp3", None)
    with ctx.system_db() as db:
        claim = claim_next_stage(db, 60)
    assert claim is not None and claim.job_id == job.id
    run_extract(ctx, claim)
    return claim


def _agent(ctx: Context, claim: ClaimedStage) -> AgentTranscript:
    return AgentTranscript.model_validate_json(
        ctx.store.get_bytes(artifact_key(claim.tenant_id, claim.session_id, TRANSCRIPT_AGENT_NAME)))


def test_three_providers_reconciled_beat_the_offline_recognizer_alone(ctx: Context, tenant_a: Tenant, assemblyai,  # type: ignore[no-untyped-def]
                                                                      google, whisper) -> None:
    claim = _extracted(ctx, tenant_a)
    transcribers = _configure(ctx, "whisper,assemblyai,google", assemblyai[1], google[1])
    transcribers[0] = whisper  # the session's already-loaded model
    run_transcribe(ctx, claim, transcribers)
    agent = _agent(ctx, claim)
    assert agent.provider == "reconciled" and agent.providers == ["whisper", "assemblyai", "google"]
    assert agent.failed_providers == {}
    raw = json.loads(ctx.store.get_bytes(artifact_key(claim.tenant_id, claim.session_id,
                                                      "transcript/raw/whisper.json")))
    alone = word_error_rate(REFERENCE_TEXT, " ".join(w["text"] for w in raw["words"]))
    together = word_error_rate(REFERENCE_TEXT, " ".join(s.text for s in agent.segments))
    assert together < alone, (together, alone)
    summary = agent.reconciliation
    assert summary is not None and summary.agreement_rate < 1.0 and summary.wins
    assert set(summary.pairwise_wer) == {"whisper|assemblyai", "whisper|google", "assemblyai|google"}


def test_a_failing_provider_is_recorded_and_the_others_carry_the_transcript(ctx: Context, tenant_a: Tenant,  # type: ignore[no-untyped-def]
                                                                           assemblyai, google, whisper) -> None:
    assemblyai[0].fail_next(5, 500)
    claim = _extracted(ctx, tenant_a)
    transcribers = _configure(ctx, "whisper,assemblyai,google", assemblyai[1], google[1])
    transcribers[0] = whisper
    run_transcribe(ctx, claim, transcribers)
    agent = _agent(ctx, claim)
    assert agent.providers == ["whisper", "google"]
    assert agent.failed_providers["assemblyai"].startswith("provider_unavailable")
    assert not ctx.store.exists(artifact_key(claim.tenant_id, claim.session_id, "transcript/raw/assemblyai.json"))


def test_a_provider_answering_out_of_contract_is_a_parse_error_and_the_others_carry_the_transcript(  # type: ignore[no-untyped-def]
        ctx: Context, tenant_a: Tenant, assemblyai, google, recorded_telemetry: RecordedTelemetry) -> None:
    assemblyai[0].complete_transcripts_with({"utterances": [{"speaker": "A", "start": 0, "end": 500, "text": "hi",
                                                             "confidence": 3.0, "words": []}]})
    claim = _extracted(ctx, tenant_a)
    run_transcribe(ctx, claim, _configure(ctx, "assemblyai,google", assemblyai[1], google[1]))
    agent = _agent(ctx, claim)
    assert agent.providers == ["google"]
    assert agent.failed_providers["assemblyai"].startswith("provider_invalid_output")
    assert "segments.0.confidence" in agent.failed_providers["assemblyai"]
    assert recorded_telemetry.parse_errors == [("speech", "assemblyai")]
    assert not ctx.store.exists(artifact_key(claim.tenant_id, claim.session_id, "transcript/raw/assemblyai.json"))
    assert ctx.store.exists(artifact_key(claim.tenant_id, claim.session_id, "transcript/raw/google.json"))


def test_when_every_provider_fails_the_stage_fails_transiently_and_writes_no_transcript(  # type: ignore[no-untyped-def]
        ctx: Context, tenant_a: Tenant, assemblyai, google) -> None:
    assemblyai[0].fail_next(5, 503)
    google[0].fail_next(5, grpc.StatusCode.UNAVAILABLE)
    claim = _extracted(ctx, tenant_a)
    transcribers = _configure(ctx, "assemblyai,google", assemblyai[1], google[1])
    with pytest.raises(TransientError) as failure:
        run_transcribe(ctx, claim, transcribers)
    assert failure.value.code == "all_providers_failed"
    assert not ctx.store.exists(artifact_key(claim.tenant_id, claim.session_id, TRANSCRIPT_AGENT_NAME))


def test_api_keys_stay_out_of_settings_repr(ctx: Context, assemblyai, google) -> None:  # type: ignore[no-untyped-def]
    _configure(ctx, "assemblyai", assemblyai[1], google[1])
    assert KEY not in repr(ctx.settings)


