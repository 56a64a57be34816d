"""Chunks of long audio fanned out as Ray tasks (bounded in flight), stitched back in order."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tasks.stages import chunk_map_on_ray
from tests.conftest import SAMPLES
from vigil.media import audio_duration, extract_audio
from vigil.settings import Settings
from vigil.transcription.chunking import cut_at_silences
from vigil.transcription.fanout import ChunkedAudio, run_providers
from vigil.transcription.quality import word_error_rate

pytestmark = pytest.mark.ray


def test_chunks_run_as_ray_tasks_and_stitch_into_the_whole_conversation(ray_runtime: None, whisper,  # type: ignore[no-untyped-def]
                                                                         long_sample: Path, tmp_path: Path) -> None:
    audio = tmp_path / "audio.flac"
    extract_audio(long_sample, audio, 120)
    duration = audio_duration(audio)
    files = cut_at_silences(audio, duration, tmp_path, target_seconds=30.0, overlap_seconds=1.0, timeout_seconds=60)
    settings = Settings(whisper_threads=1, _env_file=None)
    chunked = ChunkedAudio(files, duration, parallelism=2, map_chunks=chunk_map_on_ray(settings))

    run = run_providers([whisper], audio, chunked)

    assert not run.failures and len(files) >= 3
    text = " ".join(w.text for w in run.transcripts[0].words)
    reference = " ".join(t["text"] for t in json.loads((SAMPLES / "checkin-risk.json").read_text())["turns"])
    assert word_error_rate(" ".join([reference] * 3), text) < 0.25
    starts = [w.start for w in run.transcripts[0].words]
    assert starts == sorted(starts) and starts[-1] > 100
    placements = [part["raw"].get("ray") for part in run.transcripts[0].raw["chunks"]]
    assert all(placements), "every chunk ran as a Ray task"
    assert all(p["pid"] != os.getpid() for p in placements), "in Ray workers, not in the caller"
