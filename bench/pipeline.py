"""Offline recognizer accuracy and per-stage timings, measured on the bundled samples and, when
present, on ../shared/data/speech (spoken AnnoMI excerpts with reference text).

Runs the real stage code in-process: ffmpeg extraction; the transcribe stage's two halves at once as it runs them
(faster-whisper tiny.en, and diarization in a thread where the app uses a Ray task); the offline analyzer.
Prints word error rate per file and, side by side, each stage's time and its real-time factor.

    .venv/bin/python bench/pipeline.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vigil.analysis.analyzers.offline import OfflineAnalyzer  # noqa: E402
from vigil.media import extract_audio  # noqa: E402
from vigil.settings import Settings  # noqa: E402
from vigil.transcription.agent import build_agent_transcript  # noqa: E402
from vigil.transcription.diarization import diarize_in_thread, diarizer_for  # noqa: E402
from vigil.transcription.quality import word_error_rate  # noqa: E402
from vigil.transcription.whisper import WhisperTranscriber, default_model_dir  # noqa: E402

SPEECH = ROOT.parent / "shared" / "data" / "speech"


def cases() -> list[tuple[str, Path, str]]:
    found = []
    for meta in sorted((ROOT / "samples").glob("*.json")):
        spec = json.loads(meta.read_text())
        found.append(("sample", ROOT / "samples" / spec["media"], " ".join(t["text"] for t in spec["turns"])))
    if (SPEECH / "cases.json").exists():
        for case in json.loads((SPEECH / "cases.json").read_text()):
            found.append(("annomi", SPEECH / case["audio"], case["reference"]))
    return found


def main() -> None:
    load_started = time.perf_counter()
    whisper = WhisperTranscriber(default_model_dir())
    load_seconds = time.perf_counter() - load_started
    settings = Settings()
    load_started = time.perf_counter()
    diarizer = diarizer_for(settings)
    diarizer_seconds = time.perf_counter() - load_started
    analyzer = OfflineAnalyzer()
    rows = []
    print(f"model load: {load_seconds:.2f}s ({whisper.model_name}, int8, greedy); diarizer "
          f"({settings.diarization}) {diarizer_seconds:.2f}s\n")
    print(f"{'set':<7} {'file':<24} {'audio s':>8} {'extract s':>10} {'transcribe s':>13} {'analyze s':>10}"
          f" {'x realtime':>11} {'WER':>6}")
    for kind, path, reference in cases():
        with tempfile.TemporaryDirectory() as tmp:
            audio = Path(tmp) / "audio.flac"
            t0 = time.perf_counter()
            duration = extract_audio(path, audio, timeout_seconds=600)
            t1 = time.perf_counter()
            wait = diarize_in_thread(settings, audio) if diarizer else None
            transcript = whisper.transcribe(audio)
            if wait:
                wait()
            t2 = time.perf_counter()
            agent = build_agent_transcript(uuid.uuid4(), transcript)
            analyzer.analyze(agent)
            t3 = time.perf_counter()
        wer = word_error_rate(reference, " ".join(s.text for s in transcript.segments))
        row = {"set": kind, "file": path.name, "audio": duration, "extract": t1 - t0, "transcribe": t2 - t1,
               "analyze": t3 - t2, "wer": wer}
        rows.append(row)
        total = row["extract"] + row["transcribe"] + row["analyze"]
        print(f"{kind:<7} {path.name:<24} {duration:>8.1f} {row['extract']:>10.2f} {row['transcribe']:>13.2f}"
              f" {row['analyze']:>10.3f} {duration / total:>11.1f} {wer:>6.3f}")
    print()
    for kind in ("sample", "annomi"):
        subset = [r for r in rows if r["set"] == kind]
        if not subset:
            continue
        audio = sum(r["audio"] for r in subset)
        words_wer = statistics.mean(r["wer"] for r in subset)
        stage_totals = {s: sum(r[s] for r in subset) for s in ("extract", "transcribe", "analyze")}
        print(f"{kind}: {len(subset)} files, {audio:.0f}s of audio, mean WER {words_wer:.3f}; "
              + ", ".join(f"{s} {t:.2f}s ({audio / t:.0f}x realtime)" for s, t in stage_totals.items()))


if __name__ == "__main__":
    main()
