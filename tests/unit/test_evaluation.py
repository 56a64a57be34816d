"""Replay metrics agree with scikit-learn's, and the dataset reader reads the documented format."""

from __future__ import annotations

import json
import random

import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, precision_score, recall_score

from vigil.evaluation.dataset import read_dataset
from vigil.evaluation.scores import accuracy, binary_scores, cohen_kappa, macro_f1, multilabel_scores


def test_metrics_match_sklearn():
    rng = random.Random(7)
    truth = [rng.choice("abcd") for _ in range(300)]
    predicted = [t if rng.random() < 0.6 else rng.choice("abcd") for t in truth]
    assert cohen_kappa(truth, predicted) == pytest.approx(cohen_kappa_score(truth, predicted))
    assert macro_f1(truth, predicted) == pytest.approx(f1_score(truth, predicted, average="macro"))
    binary_t, binary_p = [t == "a" for t in truth], [p == "a" for p in predicted]
    scores = binary_scores(binary_t, binary_p)
    assert scores.precision == pytest.approx(precision_score(binary_t, binary_p))
    assert scores.recall == pytest.approx(recall_score(binary_t, binary_p))
    assert scores.f1 == pytest.approx(f1_score(binary_t, binary_p))
    assert accuracy(truth, predicted) == pytest.approx(sum(t == p for t, p in zip(truth, predicted, strict=True)) / 300)


def test_empty_denominators_are_none_not_perfect():
    scores = multilabel_scores([set(), set()], [set(), {"self_harm"}], ["self_harm"])
    assert scores["self_harm"].recall is None
    assert scores["self_harm"].precision == 0.0
    assert cohen_kappa(["high", "high"], ["high", "high"]) is None
    with pytest.raises(ValueError, match="differ in length"):
        accuracy([1, 2], [1])


def test_dataset_reader(tmp_path):
    path = tmp_path / "set.jsonl"
    rows = [
        {"id": "s1", "turns": [{"speaker": "counselor", "text": "How are you?", "start": 0.0},
                               {"speaker": "client", "text": "I want to die.", "start": 3.5}],
         "labels": {"risk": ["suicidal_ideation"], "mi_quality": "high",
                    "turns": [{"index": 0, "behaviour": "question", "question": "open"}]}},
        {"id": "s2", "turns": [{"speaker": "client", "text": "Fine."}], "labels": {"risk": [], "cssrs": "Supportive"}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    sessions = read_dataset(path)
    assert [s.id for s in sessions] == ["s1", "s2"]
    transcript = sessions[0].to_transcript()
    assert [(seg.start, seg.end) for seg in transcript.segments] == [(0.0, 3.5), (3.5, 4.5)]
    assert sessions[1].to_transcript().segments[0].end == 1.0
    path.write_text('{"id": "x", "turns": [], "labels": {"risk": ["bogus"]}}\n')
    with pytest.raises(ValueError, match="set.jsonl:1"):
        read_dataset(path)
