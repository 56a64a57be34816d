"""The stage functions on real ffmpeg, the real offline recognizer and the real database."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import SAMPLES, Tenant, garbled_m4a, objects_root
from vigil.context import Context
from vigil.db.models import Artifact, Transcript
from vigil.errors import PermanentError
from vigil.schemas.transcripts import AgentTranscript
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload
from vigil.services.jobs import ClaimedStage, claim_next_stage
from vigil.services.pipeline import run_extract, run_transcribe
from vigil.storage.base import AUDIO_NAME, TRANSCRIPT_AGENT_NAME, artifact_key
from vigil.transcription.quality import word_error_rate
from vigil.transcription.whisper import WhisperTranscriber

pytestmark = pytest.mark.own_database  # claims stages by hand


def _upload_and_claim(ctx: Context, tenant: Tenant, data: bytes, name: str) -> ClaimedStage:
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    session, job = accept_upload(ctx, principal, io.BytesIO(data), name, None)
    with ctx.system_db() as db:
        claim = claim_next_stage(db, lease_seconds=60)
    assert claim is not None and claim.job_id == job.id
    return claim


def test_extract_turns_video_into_16k_mono_flac(ctx: Context, tenant_a: Tenant) -> None:
    import av

    claim = _upload_and_claim(ctx, tenant_a, (SAMPLES / "support-video.webm").read_bytes(), "v.webm")
    run_extract(ctx, claim)
    key = artifact_key(claim.tenant_id, claim.session_id, AUDIO_NAME)
    local = Path(ctx.settings.data_dir) / "check.flac"
    ctx.store.download(key, local)
    with av.open(str(local)) as container:
        stream = container.streams.audio[0]
        assert (stream.rate, stream.channels, stream.codec_context.name) == (16000, 1, "flac")
        assert not container.streams.video


def test_extract_twice_writes_the_audio_once(ctx: Context, tenant_a: Tenant) -> None:
    claim = _upload_and_claim(ctx, tenant_a, (SAMPLES / "routine-coaching.m4a").read_bytes(), "r.m4a")
    run_extract(ctx, claim)
    path = objects_root(ctx) / artifact_key(claim.tenant_id, claim.session_id, AUDIO_NAME)
    first = path.stat().st_mtime_ns
    run_extract(ctx, claim)
    assert path.stat().st_mtime_ns == first
    with ctx.system_db() as db:
        kinds = db.scalars(sa.select(Artifact.kind).where(Artifact.session_id == claim.session_id)).all()
    assert sorted(kinds) == ["audio", "original"]


def test_truncated_media_fails_extraction_permanently_with_a_readable_reason(ctx: Context,
                                                                           tenant_a: Tenant) -> None:
    data = (SAMPLES / "support-video.webm").read_bytes()
    claim = _upload_and_claim(ctx, tenant_a, data[: len(data) // 2], "cut.webm")
    with pytest.raises(PermanentError) as failure:
        run_extract(ctx, claim)
    assert failure.value.code == "truncated_media"
    assert "truncated" in failure.value.message
    assert not ctx.store.exists(artifact_key(claim.tenant_id, claim.session_id, AUDIO_NAME))


def test_corrupt_media_fails_extraction_permanently_with_ffmpegs_reason(ctx: Context,
                                                                       tenant_a: Tenant) -> None:
    claim = _upload_and_claim(ctx, tenant_a, garbled_m4a(), "garbled.m4a")
    with pytest.raises(PermanentError) as failure:
        run_extract(ctx, claim)
    assert failure.value.code == "corrupt_media"
    assert "Invalid data" in failure.value.message
    assert not ctx.store.exists(artifact_key(claim.tenant_id, claim.session_id, AUDIO_NAME))


def test_transcribe_keeps_word_timestamps_and_matches_the_reference(ctx: Context, tenant_a: Tenant,
                                                                   whisper: WhisperTranscriber) -> None:
    claim = _upload_and_claim(ctx, tenant_a, (SAMPLES / "checkin-risk.mp3").read_bytes(), "c.mp3")
    run_extract(ctx, claim)
    run_transcribe(ctx, claim, [whisper])
    agent = AgentTranscript.model_validate_json(
        ctx.store.get_bytes(artifact_key(claim.tenant_id, claim.session_id, TRANSCRIPT_AGENT_NAME)))
    raw = json.loads(ctx.store.get_bytes(artifact_key(claim.tenant_id, claim.session_id,
                                                      "transcript/raw/whisper.json")))
    assert raw["words"] and all(w["end"] >= w["start"] for w in raw["words"])
    assert agent.segments[0].start < agent.segments[-1].start
    reference = " ".join(t["text"] for t in json.loads((SAMPLES / "checkin-risk.json").read_text())["turns"])
    assert word_error_rate(reference, " ".join(s.text for s in agent.segments)) < 0.25
    with ctx.system_db() as db:
        row = db.scalar(sa.select(Transcript).where(Transcript.session_id == claim.session_id))
    assert row.word_count == agent.metrics.word_count > 50
    assert "killing myself" in agent.text


def test_transcribe_redelivered_does_not_duplicate_the_transcript(ctx: Context, tenant_a: Tenant,
                                                                whisper: WhisperTranscriber) -> None:
    claim = _upload_and_claim(ctx, tenant_a, (SAMPLES / "support-video.webm").read_bytes(), "s.webm")
    run_extract(ctx, claim)
    run_transcribe(ctx, claim, [whisper])
    run_transcribe(ctx, claim, [whisper])
    with ctx.system_db() as db:
        count = db.scalar(sa.select(sa.func.count()).select_from(Transcript)
                          .where(Transcript.session_id == claim.session_id))
    assert count == 1


@pytest.mark.parametrize("container,args", [
    ("wav", ["-c:a", "pcm_s16le"]),
    ("mp4", ["-f", "lavfi", "-i", "color=c=gray:s=160x90:r=2", "-shortest", "-c:v", "mpeg4", "-c:a", "aac"]),
])
def test_wav_and_mp4_uploads_extract_to_the_same_audio(ctx: Context, tenant_a: Tenant, tmp_path: Path,
                                                       container: str, args: list[str]) -> None:
    import subprocess

    import av

    from vigil.media import ffmpeg_binary

    source = tmp_path / f"session.{container}"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-i", str(SAMPLES / "checkin-risk.mp3"), *args, str(source)],
                   check=True)
    claim = _upload_and_claim(ctx, tenant_a, source.read_bytes(), source.name)
    run_extract(ctx, claim)
    local = tmp_path / "out.flac"
    ctx.store.download(artifact_key(claim.tenant_id, claim.session_id, AUDIO_NAME), local)
    with av.open(str(local)) as decoded:
        stream = decoded.streams.audio[0]
        seconds = float(stream.duration * stream.time_base)
    assert (stream.rate, stream.channels) == (16000, 1)
    assert 38 < seconds < 42


def test_two_providers_are_kept_apart_and_reconciled_into_the_agent_transcript(
        ctx: Context, tenant_a: Tenant, whisper: WhisperTranscriber) -> None:
    from vigil.transcription.standin import StandinTranscriber

    claim = _upload_and_claim(ctx, tenant_a, (SAMPLES / "support-video.webm").read_bytes(), "two.webm")
    run_extract(ctx, claim)
    run_transcribe(ctx, claim, [whisper, StandinTranscriber(latency_seconds=0.1)])
    agent = AgentTranscript.model_validate_json(
        ctx.store.get_bytes(artifact_key(claim.tenant_id, claim.session_id, TRANSCRIPT_AGENT_NAME)))
    assert agent.provider == "reconciled" and agent.providers == ["whisper", "standin"]
    assert agent.reconciliation is not None and set(agent.reconciliation.pairwise_wer) == {"whisper|standin"}
    assert "safety plan" in agent.text.lower(), "the confident, fuller transcript carries the vote"
    with ctx.system_db() as db:
        rows = db.scalars(sa.select(Transcript.provider).where(Transcript.session_id == claim.session_id)).all()
    assert sorted(rows) == ["reconciled", "standin", "whisper"]
    for provider in ("whisper", "standin"):
        assert ctx.store.exists(artifact_key(claim.tenant_id, claim.session_id, f"transcript/raw/{provider}.json"))


def test_long_audio_is_cut_at_silences_transcribed_in_chunks_and_stitched_in_order(
        ctx: Context, tenant_a: Tenant, whisper: WhisperTranscriber, long_sample: Path) -> None:
    ctx.settings.chunk_seconds = 30.0
    claim = _upload_and_claim(ctx, tenant_a, long_sample.read_bytes(), "long.mp3")
    run_extract(ctx, claim)
    run_transcribe(ctx, claim, [whisper])
    raw = json.loads(ctx.store.get_bytes(artifact_key(claim.tenant_id, claim.session_id,
                                                      "transcript/raw/whisper.json")))
    assert len(raw["raw"]["chunks"]) >= 3, "the two-minute audio was cut"
    starts = [w["start"] for w in raw["words"]]
    assert starts == sorted(starts) and starts[-1] > 100, "absolute times, in order, to the end"
    text = " ".join(s["text"] for s in raw["segments"])
    reference = " ".join(t["text"] for t in json.loads((SAMPLES / "checkin-risk.json").read_text())["turns"])
    assert word_error_rate(" ".join([reference] * 3), text) < 0.25
    assert text.lower().count("thank you for trusting me") == 3, "each seam's words appear once"
