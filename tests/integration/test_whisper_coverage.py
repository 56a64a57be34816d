"""No speech dropped, and the same audio gives the same words: the real Whisper model on the bundled check-in sample
(and on the spoken AnnoMI excerpts in ../shared/data/speech, when they are there).

A window Whisper fails on can come back empty or seek past speech. Here a decoder loses one stretch on purpose, the
way such a window does; the stretch must come back (decoded again on its own), or be marked inaudible with its times,
and never be silently missing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from faster_whisper import decode_audio

from serve.app import configure, create_app
from tests.conftest import SAMPLES, Tenant, api_on_loopback, free_port, isolated_context, make_tenant, process_session
from vigil.context import Context
from vigil.schemas.transcripts import Span
from vigil.storage.base import TRANSCRIPT_REFINED_NAME, artifact_key
from vigil.transcription.agent import transcript_metrics
from vigil.transcription.quality import normalise_words, word_error_rate
from vigil.transcription.whisper import WhisperTranscriber, _Decoded, default_model_dir

CHECKIN = SAMPLES / "checkin-risk.mp3"
REFERENCE = " ".join(turn["text"] for turn in json.loads((SAMPLES / "checkin-risk.json").read_text())["turns"])
DROPPED = (12.0, 21.5)  # segments starting here: the third and fourth turns, "That sounds exhausting … without me."
SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "speech"


def _outside(start: float, dropped: tuple[float, float]) -> bool:
    return not dropped[0] <= start < dropped[1]


class DroppingAWindow(WhisperTranscriber):
    """Its first pass loses every segment and word that starts in `dropped`, as a failed window does."""

    dropped = DROPPED

    def decode_all(self, audio: np.ndarray, hotwords: str | None) -> _Decoded:
        heard = super().decode_all(audio, hotwords)
        return _Decoded([w for w in heard.words if _outside(w.start, self.dropped)],
                        [s for s in heard.segments if _outside(s.start, self.dropped)], heard.raw)


class HearingNothingAgain(DroppingAWindow):
    """…and decoding the stretch again hears nothing either."""

    def decode_stretch(self, audio: np.ndarray, stretch: Span, hotwords: str | None) -> _Decoded:
        return _Decoded([], [], [])


def _text(words: list) -> str:  # type: ignore[type-arg]
    return " ".join(w.text for w in words)


def test_the_same_audio_gives_the_same_words_and_times_twice(whisper: WhisperTranscriber) -> None:
    first, second = whisper.transcribe(CHECKIN), whisper.transcribe(CHECKIN)

    assert [(w.text, w.start, w.end) for w in first.words] == [(w.text, w.start, w.end) for w in second.words]
    assert first.segments == second.segments
    assert first.raw["decoding"]["temperature"] == 0.0


def test_nothing_is_decoded_again_when_every_stretch_of_speech_is_covered(whisper: WhisperTranscriber) -> None:
    result = whisper.transcribe(CHECKIN)
    metrics = transcript_metrics(result)

    assert result.coverage is not None and result.coverage.speech
    assert (metrics.redecoded_stretches, metrics.inaudible_stretches) == (0, 0)
    assert metrics.speech_covered_seconds >= 0.95 * metrics.speech_detected_seconds


def test_a_dropped_window_is_decoded_again_and_its_words_come_back(whisper: WhisperTranscriber) -> None:
    intact = whisper.transcribe(CHECKIN)
    recovered = DroppingAWindow(default_model_dir()).transcribe(CHECKIN)
    metrics = transcript_metrics(recovered)

    (stretch,) = recovered.coverage.redecoded
    assert DROPPED[0] - 1 <= stretch.start and stretch.end <= DROPPED[1] + 1
    said_there = set(normalise_words(_text([w for w in intact.words if not _outside(w.start, DROPPED)])))
    assert len(said_there) >= 15
    assert len(said_there & set(normalise_words(_text(recovered.words)))) >= 0.8 * len(said_there)
    assert word_error_rate(REFERENCE, _text(recovered.words)) <= word_error_rate(REFERENCE, _text(intact.words)) + 0.03
    assert not any(s.inaudible for s in recovered.segments)
    assert [s.index for s in recovered.segments] == list(range(len(recovered.segments)))
    assert (metrics.redecoded_stretches, metrics.inaudible_stretches) == (1, 0)
    assert metrics.speech_covered_seconds >= 0.95 * metrics.speech_detected_seconds


def test_a_dropped_window_still_silent_is_marked_inaudible_with_its_times() -> None:
    result = HearingNothingAgain(default_model_dir()).transcribe(CHECKIN)
    metrics = transcript_metrics(result)

    (marker,) = [s for s in result.segments if s.inaudible]
    assert marker.text == f"[inaudible 00:{int(marker.start):02d}–00:{int(marker.end):02d}]"
    assert DROPPED[0] - 1 <= marker.start and marker.end <= DROPPED[1] + 1
    assert marker.speaker is None
    assert not any(marker.start <= w.start < marker.end for w in result.words)
    assert result.coverage.inaudible == result.coverage.redecoded == [Span(start=marker.start, end=marker.end)]
    assert (metrics.redecoded_stretches, metrics.inaudible_stretches) == (1, 1)
    missing = metrics.speech_detected_seconds - metrics.speech_covered_seconds
    assert missing == pytest.approx(marker.end - marker.start, abs=1.0)


@pytest.mark.skipif(not SPEECH.exists(), reason="needs ../shared/data/speech beside the checkout")
def test_on_a_spoken_annomi_excerpt_a_dropped_half_minute_comes_back(whisper: WhisperTranscriber) -> None:
    case = next(c for c in json.loads((SPEECH / "cases.json").read_text()) if c["audio"] == "annomi-37.flac")
    audio = SPEECH / case["audio"]
    dropping = DroppingAWindow(default_model_dir())
    dropping.dropped = (30.0, 60.0)

    intact, recovered = whisper.transcribe(audio), dropping.transcribe(audio)
    lost = dropping.decode_all(decode_audio(str(audio)), None)

    assert recovered.coverage.redecoded, "the dropped half minute was not noticed"
    assert not recovered.coverage.inaudible
    wer = {name: word_error_rate(case["reference"], _text(words))
           for name, words in (("intact", intact.words), ("recovered", recovered.words), ("lost", lost.words))}
    # Decoded on its own the half minute reads a little differently (0.274 against 0.231 when written), but the
    # words are back: without the second decode a quarter of the excerpt is missing.
    assert wer["recovered"] <= wer["intact"] + 0.06
    assert wer["lost"] >= wer["recovered"] + 0.15


# ------------------------------------------------------------------ through the stages and the API
@dataclass
class Marked:
    client: TestClient
    ctx: Context
    tenant: Tenant
    session_id: str


@pytest.fixture(scope="module")
def marked(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Marked]:
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("coverage"))
    tenant = make_tenant(ctx)
    session_id = process_session(ctx, tenant, CHECKIN, HearingNothingAgain(default_model_dir()))
    with TestClient(configure(create_app(), ctx)) as client:
        yield Marked(client, ctx, tenant, session_id)


def test_the_supervisor_sees_the_inaudible_marker_in_the_transcript(marked: Marked) -> None:
    transcript = marked.client.get(f"/api/v1/sessions/{marked.session_id}/transcript",
                                   headers=marked.tenant.headers()).json()

    (marker,) = [s for s in transcript["segments"] if s["inaudible"]]
    assert marker["text"].startswith("[inaudible 00:1") and marker["speaker"] is None
    assert marker["text"] in transcript["text"]
    assert transcript["metrics"]["inaudible_stretches"] == 1


def test_the_session_metrics_report_speech_covered_against_speech_detected(marked: Marked) -> None:
    metrics = marked.client.get(f"/api/v1/sessions/{marked.session_id}/metrics",
                                headers=marked.tenant.headers()).json()["transcripts"]["whisper"]

    assert metrics["speech_detected_seconds"] == pytest.approx(39.8, abs=1.0)
    assert metrics["speech_detected_seconds"] - metrics["speech_covered_seconds"] > 5
    assert (metrics["redecoded_stretches"], metrics["inaudible_stretches"]) == (1, 1)


def test_analysis_reads_the_words_but_not_the_marker(marked: Marked) -> None:
    session = marked.client.get(f"/api/v1/sessions/{marked.session_id}", headers=marked.tenant.headers()).json()
    tenant_id = marked.client.get("/api/v1/me", headers=marked.tenant.headers()).json()["tenant_id"]
    refined = json.loads(marked.ctx.store.get_bytes(artifact_key(tenant_id, marked.session_id,
                                                                 TRANSCRIPT_REFINED_NAME)))

    assert session["risk_level"] == "high"  # the disclosure after the marker is still read
    assert "inaudible" not in refined["text"]
    assert not any(s["inaudible"] for s in refined["segments"])


def test_the_session_page_shows_the_marker_and_warns_the_supervisor(marked: Marked,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    marked.ctx.settings = marked.ctx.settings.model_copy(update={"api_port": free_port()})
    with api_on_loopback(marked.ctx) as url:
        monkeypatch.setenv("API_URL", url)
        at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py"), default_timeout=60)
        at.session_state["token"] = marked.tenant.supervisor
        at.run()
        at.session_state["session_id"] = marked.session_id
        at.switch_page("pages/session.py").run()

    assert not at.exception
    assert any("[inaudible 00:1" in t.value for t in at.text)
    assert any("1 stretch(es) of speech could not be transcribed" in w.value for w in at.warning)
    assert any("of speech detected" in c.value for c in at.caption)
