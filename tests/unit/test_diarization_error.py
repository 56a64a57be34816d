"""Diarization error rate and speaker-word accuracy, checked against cases worked by hand."""

from __future__ import annotations

import pytest

from vigil.evaluation.diarization import (
    aligned_reference_speakers,
    diarization_error,
    speaker_word_accuracy,
    turns_from_words,
)

REFERENCE = [("counselor", 0.0, 10.0), ("client", 10.0, 20.0)]


def test_a_perfect_hypothesis_under_other_names_scores_zero() -> None:
    error = diarization_error(REFERENCE, [("S2", 0.0, 10.0), ("S1", 10.0, 20.0)])
    assert error.der == 0.0
    assert error.mapping == {"S2": "counselor", "S1": "client"}


def test_missed_speech_and_false_alarm_count_against_the_reference_speech() -> None:
    # Nobody from 8 to 9 (missed 1), S2 (the client's) from 9 while the counselor still talks (confusion 1), S2
    # 3 s past the end (false alarm 3): (1 + 3 + 1) / 20.
    error = diarization_error(REFERENCE, [("S1", 0.0, 8.0), ("S2", 9.0, 23.0)])
    assert (error.missed, error.false_alarm, error.confusion) == pytest.approx((1.0, 3.0, 1.0))
    assert error.total == 20.0
    assert error.der == pytest.approx(5.0 / 20.0)


def test_one_hypothesis_speaker_for_everyone_confuses_the_smaller_side() -> None:
    error = diarization_error([("a", 0, 15), ("b", 15, 20)], [("S1", 0, 20)])
    assert error.mapping == {"S1": "a"}
    assert error.der == pytest.approx(5 / 20)


def test_an_extra_hypothesis_speaker_maps_to_nobody_and_is_confusion() -> None:
    error = diarization_error(REFERENCE, [("S1", 0, 10), ("S2", 10, 16), ("S3", 16, 20)])
    assert error.mapping == {"S1": "counselor", "S2": "client"}
    assert error.confusion == pytest.approx(4.0)
    assert error.der == pytest.approx(0.2)


def test_overlapping_reference_speech_counts_twice() -> None:
    # Both talk from 8 to 10; the hypothesis gives it to S1 only: 2 s missed of 22 s of reference speech.
    error = diarization_error([("a", 0, 10), ("b", 8, 20)], [("S1", 0, 10), ("S2", 10, 20)])
    assert error.total == pytest.approx(22.0)
    assert error.missed == pytest.approx(2.0)
    assert error.der == pytest.approx(2 / 22)


def test_word_accuracy_maps_labels_first_and_counts_unlabelled_words_wrong() -> None:
    reference = ["co", "co", "cl", "cl", "cl", None]
    assert speaker_word_accuracy(reference, ["B", "B", "A", "A", "A", "A"]) == 1.0
    assert speaker_word_accuracy(reference, ["B", "A", "A", "A", None, "A"]) == pytest.approx(3 / 5)


def test_reference_speakers_follow_the_words_through_recognition_errors() -> None:
    reference = [("counselor", "How are you today?"), ("client", "Not great, honestly.")]
    recognized = ["How", "are", "you", "to", "day?", "Not", "grate,", "honestly."]
    speakers = aligned_reference_speakers(reference, recognized)
    # "to day?" for "today?": one substitution (keeps the speaker) and one insertion (no reference word, None).
    assert speakers == ["counselor"] * 3 + [None, "counselor"] + ["client"] * 3
    times = [(i * 0.5, i * 0.5 + 0.4) for i in range(8)]
    turns = turns_from_words(["counselor"] * 5 + ["client"] * 3, times)
    assert turns == [("counselor", 0.0, 2.4), ("client", 2.5, 3.9)]
