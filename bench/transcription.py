"""Transcription, measured in one run:

  1. word error rate and real-time factor of each recognizer available offline, on
     ../shared/data/speech (spoken AnnoMI excerpts with reference text);
  2. one ~11-minute file (the five excerpts end to end) transcribed as one piece vs cut at silences
     into 2-minute chunks transcribed two at a time and stitched: wall time as a ratio, and WER of
     both, so stitching is shown to lose nothing.

AssemblyAI and Google need accounts; they are measured only when ASSEMBLYAI_API_KEY or
GOOGLE_APPLICATION_CREDENTIALS is set (never in CI).

    .venv/bin/python bench/transcription.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vigil.media import audio_duration, extract_audio, ffmpeg_binary  # noqa: E402
from vigil.settings import Settings  # noqa: E402
from vigil.transcription.chunking import cut_at_silences  # noqa: E402
from vigil.transcription.fanout import ChunkedAudio, run_providers  # noqa: E402
from vigil.transcription.quality import word_error_rate  # noqa: E402
from vigil.transcription.registry import build_transcriber  # noqa: E402
from vigil.transcription.whisper import WhisperTranscriber, default_model_dir  # noqa: E402

SPEECH = ROOT.parent / "shared" / "data" / "speech"


def available_recognizers() -> list[str]:
    names = ["whisper"]
    if os.environ.get("ASSEMBLYAI_API_KEY"):
        names.append("assemblyai")
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        names.append("google")
    return names


def per_recognizer(cases: list[dict], tmp: Path) -> None:
    settings = Settings()
    for name in available_recognizers():
        recognizer = build_transcriber(name, settings)
        audio_total = busy = 0.0
        errors = []
        for case in cases:
            audio = tmp / f"{case['audio']}.flac"
            extract_audio(SPEECH / case["audio"], audio, 600)
            started = time.perf_counter()
            result = recognizer.transcribe(audio)
            busy += time.perf_counter() - started
            audio_total += result.duration
            errors.append(word_error_rate(case["reference"], " ".join(w.text for w in result.words)))
        print(f"{name:<11} WER {sum(errors) / len(errors):.3f} (per file: "
              + ", ".join(f"{e:.3f}" for e in errors) + f"); {audio_total / busy:.1f}x real time")


def long_file(cases: list[dict], tmp: Path) -> None:
    listing = tmp / "list.txt"
    listing.write_text("".join(f"file '{SPEECH / c['audio']}'\n" for c in cases))
    joined = tmp / "long.flac"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-ar", "16000", "-ac", "1", str(joined)], check=True)
    reference = " ".join(c["reference"] for c in cases)
    duration = audio_duration(joined)

    whole = WhisperTranscriber(default_model_dir(), cpu_threads=2, num_workers=1)
    started = time.perf_counter()
    one = run_providers([whole], joined).transcripts[0]
    one_seconds = time.perf_counter() - started

    parallel = WhisperTranscriber(default_model_dir(), cpu_threads=1, num_workers=2)
    started = time.perf_counter()
    chunk_dir = tmp / "chunks"
    chunk_dir.mkdir()
    files = cut_at_silences(joined, duration, chunk_dir, target_seconds=120.0, overlap_seconds=1.0,
                            timeout_seconds=600)
    stitched = run_providers([parallel], joined, ChunkedAudio(files, duration, parallelism=2)).transcripts[0]
    chunked_seconds = time.perf_counter() - started

    one_wer = word_error_rate(reference, " ".join(w.text for w in one.words))
    stitched_wer = word_error_rate(reference, " ".join(w.text for w in stitched.words))
    print(f"\n{duration / 60:.1f}-minute file: 1 piece {one_seconds:.1f}s (WER {one_wer:.3f}) vs {len(files)} chunks,"
          f" 2 at a time, {chunked_seconds:.1f}s incl. cutting (WER {stitched_wer:.3f})"
          f" → speed-up {one_seconds / chunked_seconds:.2f}x")


def main() -> None:
    cases = json.loads((SPEECH / "cases.json").read_text())
    with tempfile.TemporaryDirectory(prefix="vigil-bench-asr-") as tmp:
        per_recognizer(cases, Path(tmp))
        long_file(cases, Path(tmp))


if __name__ == "__main__":
    main()
