"""The Whisper models a deployment can name in WHISPER_MODEL, all from registry packages: tiny.en (the default) and
base, whose two wheel halves are joined into a cache directory on first use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from vigil.errors import PermanentError
from vigil.settings import Settings
from vigil.transcription.quality import word_error_rate
from vigil.transcription.whisper import DecodeOptions, WhisperTranscriber
from vigil.transcription.whisper_models import base_model_dir, model_dir_for, tiny_model_dir

CHECKIN = SAMPLES / "checkin-risk.mp3"
REFERENCE = " ".join(turn["text"] for turn in json.loads((SAMPLES / "checkin-risk.json").read_text())["turns"])


def test_the_default_is_tiny_en_window_by_window() -> None:
    transcriber = WhisperTranscriber.from_settings(Settings())

    assert transcriber.model_name == "faster-whisper:tiny.en"
    assert transcriber.model_dir == tiny_model_dir()
    assert (transcriber.options.beam_size, transcriber.options.batch_size) == (1, 0)


def test_base_is_joined_once_and_transcribes_the_check_in_batched(tmp_path: Path) -> None:
    """Which model hears better is measured on more speech by bench/transcription.py; here, that base works."""
    joined = base_model_dir(tmp_path)
    written = (joined / "model.bin").stat().st_mtime_ns
    assert base_model_dir(tmp_path) == joined and (joined / "model.bin").stat().st_mtime_ns == written
    assert not [p for p in joined.iterdir() if p.suffix.lstrip(".").isdigit()], "a partial file was left behind"

    base = WhisperTranscriber(joined, options=DecodeOptions(batch_size=8)).transcribe(CHECKIN)

    assert base.model == "faster-whisper:base" and base.raw["decoding"]["batched"]
    assert word_error_rate(REFERENCE, " ".join(w.text for w in base.words)) < 0.15
    assert 6 <= len(base.segments) <= 12  # sentences and turns, not whole 30-second pieces of speech


def test_a_whisper_model_that_is_neither_a_name_nor_a_model_directory_stops_the_provider(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="neither tiny.en nor base") as caught:
        model_dir_for(str(tmp_path))

    assert caught.value.code == "model_missing"
