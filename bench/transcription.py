"""Transcription, measured in one run:

  1. word error rate and real-time factor of each recognizer available offline, on
     ../shared/data/speech (spoken AnnoMI excerpts with reference text);
  2. one ~11-minute file (the five excerpts end to end) transcribed as one piece vs cut at silences
     into 2-minute chunks transcribed two at a time and stitched: wall time as a ratio, and WER of
     both, so stitching is shown to lose nothing;
  3. diarization, each setting side by side on the bundled samples and ../shared/data/speech: diarization
     error rate, speaker accuracy of the recognized words, speakers found, speed (`diarization`); and the
     transcribe stage's two halves, Whisper and diarization, one after the other vs at once as the stage runs
     them (`diarization_overlap`);
  4. decoding settings side by side: greedy vs beam 5, with and without VAD, batched (faster-whisper's
     BatchedInferencePipeline) vs window by window, tiny.en vs Whisper base: WER and real-time factor on
     ../shared/data/speech and on the bundled samples, through WhisperTranscriber (so including the coverage
     check and its re-decodes), and on the ~11-minute file, tiny.en in one piece batched vs not.

AssemblyAI and Google need accounts; they are measured only when ASSEMBLYAI_API_KEY or
GOOGLE_APPLICATION_CREDENTIALS is set (never in CI).

    .venv/bin/python bench/transcription.py            # everything
    .venv/bin/python bench/transcription.py decoding   # only section 4 (or: recognizers, chunks, diarization)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.media import join_audio  # noqa: E402
from vigil.evaluation.diarization import (  # noqa: E402
    aligned_reference_speakers,
    diarization_error,
    speaker_word_accuracy,
    turns_from_words,
)
from vigil.media import audio_duration, extract_audio  # noqa: E402
from vigil.schemas.transcripts import ProviderTranscript  # noqa: E402
from vigil.settings import Settings  # noqa: E402
from vigil.transcription.agent import transcript_metrics  # noqa: E402
from vigil.transcription.chunking import cut_at_silences  # noqa: E402
from vigil.transcription.diarization import build_diarizer, diarize_in_thread, diarizer_for  # noqa: E402
from vigil.transcription.fanout import ChunkedAudio, run_providers  # noqa: E402
from vigil.transcription.quality import word_error_rate  # noqa: E402
from vigil.transcription.registry import build_transcriber  # noqa: E402
from vigil.transcription.speakers import split_by_speaker  # noqa: E402
from vigil.transcription.whisper import DecodeOptions, WhisperTranscriber, default_model_dir  # noqa: E402
from vigil.transcription.whisper_models import base_model_dir, tiny_model_dir  # noqa: E402

SPEECH = ROOT.parent / "shared" / "data" / "speech"
SAMPLES = ROOT / "samples"


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
    joined = join_audio([SPEECH / c["audio"] for c in cases], tmp / "long.flac")
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


SAMPLES = ROOT / "samples"
# (label, embedder, hop seconds, fixed speaker count or None to estimate 2..4)
DIARIZATION_SETTINGS = [
    ("resemblyzer, hop 0.75 s, 2-4 estimated (default)", "resemblyzer", 0.75, None),
    ("resemblyzer, hop 0.375 s, 2-4 estimated", "resemblyzer", 0.375, None),
    ("resemblyzer, hop 0.75 s, 2 fixed", "resemblyzer", 0.75, 2),
    ("log-mel statistics (no model), hop 0.75 s, 2-4", "logmel", 0.75, None),
]


def diarization_cases(tmp: Path) -> list[dict]:
    """Each file once through Whisper: its words, their reference speakers, and reference turns. The samples'
    reference turns have times; `shared/data/speech` gives speakers and text only, so there the reference speaker
    of each recognized word comes from aligning the reference text to it, and reference turns span those words."""
    whisper = WhisperTranscriber(default_model_dir(), cpu_threads=2, num_workers=1)
    found = []
    sources = [(SAMPLES / s["media"], s["turns"], True) for s in
               (json.loads(p.read_text()) for p in sorted(SAMPLES.glob("*.json")))]
    sources += [(SPEECH / c["audio"], c["turns"], False) for c in json.loads((SPEECH / "cases.json").read_text())]
    for media, turns, timed in sources:
        audio = tmp / f"{media.stem}.flac"
        extract_audio(media, audio, 600)
        transcript = whisper.transcribe(audio)
        words = [w.text for w in transcript.words]
        ref_words = aligned_reference_speakers([(t["speaker"], t["text"]) for t in turns], words)
        ref_turns = ([(t["speaker"], t["start"], t["end"]) for t in turns] if timed else
                     turns_from_words(ref_words, [(w.start, w.end) for w in transcript.words]))
        found.append({"name": media.stem, "set": "samples" if timed else "speech", "audio": audio,
                      "transcript": transcript, "ref_words": ref_words, "ref_turns": ref_turns,
                      "speakers": len({t["speaker"] for t in turns})})
    return found


def diarization(tmp: Path) -> None:
    cases = diarization_cases(tmp)
    print("\nDiarization (DER: missed + false alarm + confusion over reference speech, no collar; words: share of "
          "recognized words given their reference speaker)")
    for label, embedder, hop, fixed in DIARIZATION_SETTINGS:
        diarizer = build_diarizer(embedder, hop_seconds=hop, speakers=fixed)
        diarizer.diarize(cases[0]["audio"])  # warm: first-call costs (imports, JIT) are not per session
        rows: dict[str, list] = {"samples": [], "speech": []}
        for case in cases:
            started = time.perf_counter()
            result = diarizer.diarize(case["audio"])
            seconds = time.perf_counter() - started
            error = diarization_error(case["ref_turns"], [(t.speaker, t.start, t.end) for t in result.turns])
            labelled = split_by_speaker(case["transcript"], result.turns)
            accuracy = speaker_word_accuracy(case["ref_words"], [w.speaker for w in labelled.words])
            rows[case["set"]].append((case["name"], error, accuracy, result.speakers == case["speakers"],
                                      case["transcript"].duration, seconds))
        print(f"  {label}")
        for name, found in rows.items():
            errors = [r[1] for r in found]
            pooled = sum(e.missed + e.false_alarm + e.confusion for e in errors) / sum(e.total for e in errors)
            confusion = sum(e.confusion for e in errors) / sum(e.total for e in errors)
            print(f"    {name:<8} DER {pooled:.3f} (confusion {confusion:.3f}; per file "
                  + ", ".join(f"{e.der:.3f}" for e in errors)
                  + f"); words {sum(r[2] for r in found) / len(found):.3f} (per file "
                  + ", ".join(f"{r[2]:.3f}" for r in found)
                  + f"); speaker count right {sum(r[3] for r in found)}/{len(found)}; "
                  + f"{sum(r[4] for r in found) / sum(r[5] for r in found):.0f}x real time")


def diarization_overlap(tmp: Path) -> None:
    """Whisper then diarization, against both at once as `run_transcribe` starts them (diarization in a thread
    here; a Ray task in the running app), over the five spoken excerpts; three rounds, alternating the order."""
    settings = Settings()
    whisper = WhisperTranscriber(default_model_dir(), cpu_threads=settings.whisper_threads, num_workers=1)
    diarizer = diarizer_for(settings)
    assert diarizer is not None
    files = []
    for case in json.loads((SPEECH / "cases.json").read_text()):
        audio = tmp / f"overlap-{case['audio']}.flac"
        extract_audio(SPEECH / case["audio"], audio, 600)
        files.append(audio)
    diarizer.diarize(files[0])  # warm
    sequential = overlapped = alone_whisper = alone_diarize = 0.0
    for _ in range(3):
        for audio in files:
            started = time.perf_counter()
            whisper.transcribe(audio)
            middle = time.perf_counter()
            diarizer.diarize(audio)
            ended = time.perf_counter()
            alone_whisper, alone_diarize = alone_whisper + middle - started, alone_diarize + ended - middle
            sequential += ended - started
            started = time.perf_counter()
            wait = diarize_in_thread(settings, audio)
            whisper.transcribe(audio)
            wait()
            overlapped += time.perf_counter() - started
    print(f"\nTranscribe stage, 5 files x 3 rounds: Whisper {alone_whisper:.1f}s + diarization {alone_diarize:.1f}s "
          f"one after the other {sequential:.1f}s; at once {overlapped:.1f}s -> {sequential / overlapped:.2f}x, "
          f"at once / Whisper alone {overlapped / alone_whisper:.2f}")


def _sample_cases() -> list[tuple[Path, str]]:
    return [(media, " ".join(t["text"] for t in json.loads(media.with_suffix(".json").read_text())["turns"]))
            for media in sorted(SAMPLES.iterdir()) if media.suffix in (".mp3", ".m4a", ".webm")]


@dataclass
class _Tally:
    """One setting's results on one set of files."""

    errors: list[float] = field(default_factory=list)
    audio_seconds: float = 0.0
    busy_seconds: float = 0.0
    redecoded: int = 0
    inaudible: int = 0

    def add(self, result: ProviderTranscript, reference: str, seconds: float) -> None:
        metrics = transcript_metrics(result)
        self.errors.append(word_error_rate(reference, " ".join(w.text for w in result.words)))
        self.audio_seconds += result.duration
        self.busy_seconds += seconds
        self.redecoded += metrics.redecoded_stretches or 0
        self.inaudible += metrics.inaudible_stretches or 0

    @property
    def wer(self) -> float:
        return sum(self.errors) / len(self.errors)

    @property
    def rtf(self) -> float:
        return self.audio_seconds / self.busy_seconds


DECODINGS: list[tuple[str, dict[str, Any]]] = [
    ("greedy", {"batch_size": 0}), ("greedy + VAD", {"batch_size": 0, "vad_filter": True}),
    ("beam 5", {"batch_size": 0, "beam_size": 5}),
    ("beam 5 + VAD", {"batch_size": 0, "beam_size": 5, "vad_filter": True}),
    ("batched greedy", {"batch_size": 8}), ("batched beam 5", {"batch_size": 8, "beam_size": 5}),
]


def decoding(cases: list[dict], tmp: Path) -> None:
    """Section 3. Every setting decodes each file in turn before the next file, so a busy spell on this shared
    machine falls on all settings alike; times are each setting's own decode (and coverage check) only."""
    files: list[tuple[str, Path, str]] = []
    for case in cases:
        audio = tmp / f"{case['audio']}.flac"
        if not audio.exists():
            extract_audio(SPEECH / case["audio"], audio, 600)
        files.append(("speech", audio, case["reference"]))
    for media, reference in _sample_cases():
        audio = tmp / f"{media.stem}.flac"
        extract_audio(media, audio, 600)
        files.append(("samples", audio, reference))
    models = {"tiny.en": tiny_model_dir(), "base": base_model_dir(tmp / "base")}
    transcribers = {(model, label): WhisperTranscriber(model_dir, cpu_threads=2, options=DecodeOptions(**options))
                    for model, model_dir in models.items() for label, options in DECODINGS
                    if model == "tiny.en" or "VAD" not in label}  # VAD changes nothing here (see the tiny.en rows)
    for transcriber in transcribers.values():
        transcriber.transcribe(files[-1][1])  # warm up: the first decode pays one-off costs
    tallies = {(key, group): _Tally() for key in transcribers for group in ("speech", "samples")}
    for group, audio, reference in files:
        for key, transcriber in transcribers.items():
            started = time.perf_counter()
            result = transcriber.transcribe(audio)
            tallies[(key, group)].add(result, reference, time.perf_counter() - started)
    baseline = tallies[(("tiny.en", "greedy"), "speech")].busy_seconds
    print(f"\n{'model':<8} {'decoding':<15} {'WER speech':>10} {'RTF speech':>10} {'time ÷ tiny greedy':>18} "
          f"{'WER samples':>11} {'RTF samples':>11}  re-decoded/inaudible; WER per speech file")
    for model, label in transcribers:
        speech, samples = tallies[((model, label), "speech")], tallies[((model, label), "samples")]
        print(f"{model:<8} {label:<15} {speech.wer:>10.3f} {speech.rtf:>9.1f}x {speech.busy_seconds / baseline:>18.2f} "
              f"{samples.wer:>11.3f} {samples.rtf:>10.1f}x  {speech.redecoded + samples.redecoded}/"
              f"{speech.inaudible + samples.inaudible}; " + ", ".join(f"{e:.3f}" for e in speech.errors))


def long_file_batched(cases: list[dict], tmp: Path) -> None:
    """The ~11-minute file as one piece, tiny.en greedy: sequential windows vs batched, alternated twice."""
    joined = join_audio([SPEECH / c["audio"] for c in cases], tmp / "long.flac")
    reference = " ".join(c["reference"] for c in cases)
    ways = {"sequential": WhisperTranscriber(tiny_model_dir(), cpu_threads=2, options=DecodeOptions(batch_size=0)),
            "batched 8": WhisperTranscriber(tiny_model_dir(), cpu_threads=2, options=DecodeOptions(batch_size=8))}
    for round_ in (1, 2):
        timings = {}
        for label, transcriber in ways.items():
            started = time.perf_counter()
            result = transcriber.transcribe(joined)
            timings[label] = time.perf_counter() - started
            wer = word_error_rate(reference, " ".join(w.text for w in result.words))
            print(f"{result.duration / 60:.1f}-minute file, round {round_}, {label}: {timings[label]:.1f}s "
                  f"({result.duration / timings[label]:.1f}x real time), WER {wer:.3f}", flush=True)
        print(f"round {round_}: batched ÷ sequential wall time {timings['batched 8'] / timings['sequential']:.2f}")


def main() -> None:
    cases = json.loads((SPEECH / "cases.json").read_text())
    only = sys.argv[1:]
    print(f"bench/transcription.py, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="vigil-bench-asr-") as tmp:
        if not only or "recognizers" in only:
            per_recognizer(cases, Path(tmp))
        if not only or "chunks" in only:
            long_file(cases, Path(tmp))
        if not only or "diarization" in only:
            diarization(Path(tmp))
            diarization_overlap(Path(tmp))
        if not only or "decoding" in only:
            decoding(cases, Path(tmp))
            long_file_batched(cases, Path(tmp))


if __name__ == "__main__":
    main()
