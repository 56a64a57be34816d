"""Chunk planning at silences and stitching: absolute times, a seam word once, nothing dropped."""

from __future__ import annotations

from vigil.schemas.transcripts import ProviderTranscript, Segment, Word
from vigil.transcription.chunking import Chunk, plan_chunks, stitch


def test_cuts_move_to_the_middle_of_the_nearest_silence() -> None:
    chunks = plan_chunks(300.0, silences=[(50.0, 51.0), (112.0, 113.0), (241.0, 242.0)], target_seconds=120.0,
                         overlap_seconds=1.0, search_seconds=20.0)
    assert [(c.own_start, c.own_end) for c in chunks] == [(0.0, 112.5), (112.5, 241.5), (241.5, 300.0)]
    assert [(c.start, c.end) for c in chunks] == [(0.0, 113.5), (111.5, 242.5), (240.5, 300.0)]


def test_without_a_silence_nearby_the_cut_stays_at_the_target() -> None:
    chunks = plan_chunks(400.0, silences=[], target_seconds=120.0, overlap_seconds=0.5)
    assert [c.own_end for c in chunks] == [120.0, 240.0, 360.0, 400.0]


def test_a_tail_shorter_than_a_quarter_chunk_joins_the_previous_chunk() -> None:
    chunks = plan_chunks(250.0, silences=[], target_seconds=120.0)
    assert [c.own_end for c in chunks] == [120.0, 250.0]


def test_short_audio_is_one_chunk() -> None:
    assert plan_chunks(90.0, silences=[(40.0, 41.0)], target_seconds=120.0) == [Chunk(0, 0.0, 90.0, 0.0, 90.0)]


def _transcript(words: list[tuple[str, float, float]]) -> ProviderTranscript:
    return ProviderTranscript(
        provider="p", model="m", duration=0.0,
        words=[Word(text=t, start=s, end=e, confidence=0.9) for t, s, e in words],
        segments=[Segment(index=0, start=words[0][1], end=words[-1][2], text=" ".join(t for t, _, _ in words))])


def test_a_word_on_the_seam_appears_once_with_absolute_times() -> None:
    first = Chunk(0, 0.0, 11.0, 0.0, 10.0)
    second = Chunk(1, 9.0, 20.0, 10.0, 20.0)
    # Both chunks hear "seam" (9.8–10.1 absolute); its midpoint 9.95 belongs to the first chunk.
    part_one = _transcript([("before", 8.0, 8.5), ("seam", 9.8, 10.1), ("after", 10.4, 10.8)])
    part_two = _transcript([("seam", 0.8, 1.1), ("after", 1.4, 1.8), ("later", 5.0, 5.5)])
    stitched = stitch([(second, part_two), (first, part_one)], duration=20.0)
    assert [(w.text, w.start) for w in stitched.words] == [("before", 8.0), ("seam", 9.8), ("after", 10.4),
                                                           ("later", 14.0)]


def test_the_last_chunk_keeps_words_ending_at_the_very_end() -> None:
    only = Chunk(0, 0.0, 5.0, 0.0, 5.0)
    stitched = stitch([(only, _transcript([("end", 4.9, 5.2)]))], duration=5.0)
    assert [w.text for w in stitched.words] == ["end"]
