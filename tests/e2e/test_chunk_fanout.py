"""Chunks of long audio fanned out as Ray tasks (bounded in flight), stitched back in order."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tasks.stages import chunk_map_on_ray
from tests.conftest import SAMPLES
from vigil.media import audio_duration, extract_audio, ffmpeg_binary
from vigil.settings import Settings
from vigil.transcription.chunking import cut_chunk, find_silences, plan_chunks
from vigil.transcription.providers import ChunkedAudio, run_providers
from vigil.transcription.quality import word_error_rate

pytestmark = pytest.mark.ray


def test_chunks_run_as_ray_tasks_and_stitch_into_the_whole_conversation(ray_runtime: None, whisper,  # type: ignore[no-untyped-def]
                                                                         tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"file '{SAMPLES / 'checkin-risk.mp3'}'\n" * 3)
    joined = tmp_path / "long.mp3"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                    str(joined)], check=True)
    audio = tmp_path / "audio.flac"
    extract_audio(joined, audio, 120)
    duration = audio_duration(audio)
    chunks = plan_chunks(duration, find_silences(audio, 60), target_seconds=30.0, overlap_seconds=1.0)
    files = []
    for chunk in chunks:
        path = tmp_path / f"chunk-{chunk.index}.wav"
        cut_chunk(audio, chunk, path, 60)
        files.append((chunk, path))
    settings = Settings(whisper_threads=1, _env_file=None)
    chunked = ChunkedAudio(files, duration, parallelism=2, map_chunks=chunk_map_on_ray(settings))

    run = run_providers([whisper], audio, chunked)

    assert not run.failures and len(chunks) >= 3
    text = " ".join(w.text for w in run.transcripts[0].words)
    reference = " ".join(t["text"] for t in json.loads((SAMPLES / "checkin-risk.json").read_text())["turns"])
    assert word_error_rate(" ".join([reference] * 3), text) < 0.25
    starts = [w.start for w in run.transcripts[0].words]
    assert starts == sorted(starts) and starts[-1] > 100
    placements = [part["raw"].get("ray") for part in run.transcripts[0].raw["chunks"]]
    assert all(placements), "every chunk ran as a Ray task"
    assert all(p["pid"] != os.getpid() for p in placements), "in Ray workers, not in the caller"
