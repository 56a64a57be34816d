"""Diarization as a Ray task of its own, started before the recognizer and joined after it, as the transcribe
stage runs them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tasks.stages import diarize_on_ray
from tests.conftest import SAMPLES
from vigil.evaluation.diarization import diarization_error
from vigil.media import extract_audio
from vigil.settings import Settings

pytestmark = pytest.mark.ray


def test_diarization_runs_as_a_ray_task_while_the_recognizer_runs_here(ray_runtime: None, whisper,  # type: ignore[no-untyped-def]
                                                                        tmp_path: Path) -> None:
    audio = tmp_path / "audio.flac"
    extract_audio(SAMPLES / "checkin-risk.mp3", audio, 120)
    started = time.perf_counter()
    wait = diarize_on_ray(Settings(_env_file=None), audio)
    launched = time.perf_counter() - started
    transcript = whisper.transcribe(audio)
    found = wait()

    assert launched < 1.0, "starting it does not wait for it"
    assert transcript.words and found.speakers == 2
    reference = json.loads((SAMPLES / "checkin-risk.json").read_text())["turns"]
    error = diarization_error([(t["speaker"], t["start"], t["end"]) for t in reference],
                              [(t.speaker, t.start, t.end) for t in found.turns])
    assert error.der < 0.15
