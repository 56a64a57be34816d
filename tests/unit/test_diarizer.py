"""The diarizer's own decisions, on made-up embeddings and frames: how many speakers, and what is a turn."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.transcription.diarization import FRAME, ResemblyzerEmbedder, cluster_windows, turns_from_frames


def voices(count: int, windows_each: int = 20, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count, 64))
    return np.concatenate([c + 0.15 * rng.normal(size=(windows_each, 64)) for c in centres])


@pytest.mark.parametrize("count", [2, 3, 4])
def test_the_number_of_speakers_is_estimated_up_to_four(count: int) -> None:
    clustering = cluster_windows(voices(count))
    assert clustering.speakers == count
    assert len(set(clustering.labels.tolist())) == count


def test_two_is_the_answer_unless_more_separate_clearly_better() -> None:
    clustering = cluster_windows(voices(2), max_speakers=4)
    assert clustering.speakers == 2 and set(clustering.silhouettes) == {2, 3, 4}


def test_a_fixed_count_is_used_as_given() -> None:
    assert cluster_windows(voices(3), speakers=2).speakers == 2


def frames(*runs: tuple[int, float]) -> np.ndarray:
    return np.concatenate([np.full(int(round(seconds / FRAME)), label) for label, seconds in runs])


def test_a_short_run_touching_another_speaker_is_a_seam_and_joins_it() -> None:
    turns = turns_from_frames(frames((0, 3.0), (1, 0.3), (-1, 0.6), (1, 2.0)))
    assert [(t.speaker, t.start, t.end) for t in turns] == [("S1", 0.0, 3.3), ("S2", 3.9, 5.9)]


def test_a_short_answer_between_pauses_stays_a_turn() -> None:
    turns = turns_from_frames(frames((0, 3.0), (-1, 0.6), (1, 0.3), (-1, 0.6), (0, 2.0)))
    assert [t.speaker for t in turns] == ["S1", "S2", "S1"]


def test_a_speakers_short_pause_is_bridged() -> None:
    turns = turns_from_frames(frames((0, 2.0), (-1, 0.3), (0, 2.0), (-1, 0.6), (1, 1.0)))
    assert [(t.speaker, t.start, t.end) for t in turns] == [("S1", 0.0, 4.3), ("S2", 4.9, 5.9)]


def test_the_voice_encoders_weights_come_whole_from_the_resemblyzer_wheel() -> None:
    encoder = ResemblyzerEmbedder()  # load_state_dict is strict: a missing or misshapen weight raises
    noise = np.random.default_rng(1).normal(scale=0.1, size=16000 * 3).astype(np.float32)
    embeddings, starts = encoder.embed(noise, 0.75)
    assert embeddings.shape[1] == 256 and list(starts[:2]) == [0.0, 0.75]
