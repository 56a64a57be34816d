"""bench/reconcile.py's arithmetic: which single provider counts as best, and how ROVER is set against it."""

from __future__ import annotations

from bench.reconcile import RECONCILED, Comparison, FileScore, score_file
from vigil.schemas.transcripts import ProviderTranscript, Word


def transcript(provider: str, text: str) -> ProviderTranscript:
    words = [Word(text=t, start=i * 0.5, end=i * 0.5 + 0.4, confidence=0.9) for i, t in enumerate(text.split())]
    return ProviderTranscript(provider=provider, model="m", duration=len(words) * 0.5, words=words, segments=[])


def test_each_transcript_is_scored_in_word_errors_against_the_reference() -> None:
    score = score_file("f", "she said she would call", [
        transcript("whisper", "she said she would call"),
        transcript("assemblyai", "he said she would fall"),
        transcript("google", "he said she could fall"),
    ])
    assert score.words == 5
    assert score.errors == {"whisper": 0, "assemblyai": 2, "google": 3, RECONCILED: 2}
    assert score.best_provider == "whisper"


def test_rover_is_set_against_each_files_best_and_against_the_best_on_average() -> None:
    comparison = Comparison([
        FileScore("a", 100, {"whisper": 10, "assemblyai": 20, "google": 30, RECONCILED: 12}),
        FileScore("b", 100, {"whisper": 20, "assemblyai": 16, "google": 30, RECONCILED: 16}),
    ])
    figures = comparison.figures()
    assert figures["best_on_average"] == "whisper"  # 30 errors in 200 words; assemblyai 36
    assert figures["pooled"] == {"whisper": 0.15, "assemblyai": 0.18, "google": 0.3, RECONCILED: 0.14}
    assert figures["best_per_file_pooled"] == 0.13  # whisper's 10 on a, assemblyai's 16 on b
    assert figures["reconciled_over_best_on_average"] == 0.933
    assert figures["reconciled_over_best_per_file"] == 1.077  # ROVER loses to picking in hindsight
