"""ROVER-style reconciliation on known hypotheses."""

from __future__ import annotations

import pytest

from vigil.schemas.transcripts import ProviderTranscript, Segment, Word
from vigil.transcription.reconcile import reconcile_transcripts


def hypothesis(provider: str, text: str, confidences: list[float] | None = None,
               segments: list[tuple[float, float]] | None = None) -> ProviderTranscript:
    tokens = text.split()
    confidences = confidences or [0.9] * len(tokens)
    words = [Word(text=t, start=i * 0.5, end=i * 0.5 + 0.4, confidence=c)
             for i, (t, c) in enumerate(zip(tokens, confidences, strict=True))]
    frames = segments or [(0.0, len(tokens) * 0.5)]
    segs = [Segment(index=i, start=s, end=e, text="", speaker=f"S{i % 2 + 1}") for i, (s, e) in enumerate(frames)]
    return ProviderTranscript(provider=provider, model="m", duration=len(tokens) * 0.5, words=words, segments=segs)


def texts(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join(w.text for w in result.words)


def test_the_vote_fixes_a_word_one_provider_got_wrong() -> None:
    result = reconcile_transcripts([
        hypothesis("whisper", "everyone would be mad or off without me"),
        hypothesis("assemblyai", "everyone would be better off without me"),
        hypothesis("google", "everyone would be better off without me"),
    ])
    assert texts(result) == "everyone would be better off without me"
    fixed = result.words[3]
    assert (fixed.text, fixed.votes, fixed.source) == ("better", 2, "assemblyai")
    assert result.summary.wins == {"assemblyai": 1}


def test_a_missing_word_is_restored_by_the_others() -> None:
    result = reconcile_transcripts([
        hypothesis("whisper", "i have saved some pills"),
        hypothesis("assemblyai", "i have saved up some pills"),
        hypothesis("google", "i have saved up some pills"),
    ])
    assert texts(result) == "i have saved up some pills"


def test_a_lone_low_confidence_insertion_is_dropped() -> None:
    result = reconcile_transcripts([
        hypothesis("whisper", "thanks for coming um in today", [0.9, 0.9, 0.9, 0.2, 0.9, 0.9]),
        hypothesis("assemblyai", "thanks for coming in today"),
        hypothesis("google", "thanks for coming in today"),
    ])
    assert texts(result) == "thanks for coming in today"


def test_between_two_providers_the_more_confident_word_wins() -> None:
    result = reconcile_transcripts([
        hypothesis("whisper", "my boss would kill me", [0.9, 0.3, 0.9, 0.9, 0.9]),
        hypothesis("google", "my mask would kill me", [0.9, 0.8, 0.9, 0.9, 0.9]),
    ])
    assert texts(result) == "my mask would kill me"
    assert result.summary.agreement_rate == pytest.approx(0.8)
    region = result.summary.disagreements[0]
    assert region.candidates == {"whisper": "boss", "google": "mask"}
    assert (region.start, region.end) == (0.5, 0.9)


def test_punctuation_and_case_do_not_count_as_disagreement() -> None:
    result = reconcile_transcripts([hypothesis("a", "Hello, world."), hypothesis("b", "hello world")])
    assert result.summary.agreement_rate == 1.0
    assert texts(result) == "Hello, world."


def test_a_single_provider_comes_through_unchanged() -> None:
    only = hypothesis("whisper", "nothing to compare here")
    result = reconcile_transcripts([only])
    assert [w.text for w in result.words] == [w.text for w in only.words]
    assert result.summary.agreement_rate == 1.0 and result.summary.pairwise_wer == {}


def test_summary_reports_pairwise_error_and_mean_confidence() -> None:
    result = reconcile_transcripts([
        hypothesis("a", "one two three four", [1.0, 1.0, 1.0, 1.0]),
        hypothesis("b", "one two tree four", [0.5, 0.5, 0.5, 0.5]),
    ])
    assert result.summary.pairwise_wer == {"a|b": 0.25}
    assert result.summary.mean_confidence == {"a": 1.0, "b": 0.5}


def test_words_are_regrouped_into_the_primary_providers_segments() -> None:
    result = reconcile_transcripts([
        hypothesis("a", "hello there how are you", segments=[(0.0, 0.9), (1.0, 2.5)]),
        hypothesis("b", "hello there how are you"),
    ])
    assert [s.text for s in result.segments] == ["hello there", "how are you"]
    assert [s.speaker for s in result.segments] == ["S1", "S2"]


def test_nothing_to_reconcile_is_an_error() -> None:
    with pytest.raises(ValueError):
        reconcile_transcripts([])


def test_speakers_come_from_a_provider_that_diarized_even_if_it_is_not_the_primary() -> None:
    primary = hypothesis("whisper", "hello there how are you", segments=[(0.0, 2.5)])
    primary = primary.model_copy(update={"segments": [s.model_copy(update={"speaker": None})
                                                      for s in primary.segments]})
    diarized = hypothesis("assemblyai", "hello there how are you", segments=[(0.0, 0.9), (1.0, 2.5)])
    result = reconcile_transcripts([primary, diarized])
    assert [(s.text, s.speaker) for s in result.segments] == [("hello there", "S1"), ("how are you", "S2")]
