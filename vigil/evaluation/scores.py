"""Agreement metrics, written out so anyone can check them: precision/recall/F1 and Cohen's kappa.

Conventions: a metric with an empty denominator is None (not 0, not 1), so "no positives to find"
never reads as perfect or as failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class BinaryScores:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        """2PR/(P+R); 0 when nothing true was found but there was something to find or something was claimed
        (as scikit-learn reports it), None when there was neither."""
        if self.tp == 0:
            return 0.0 if self.fn or self.fp else None
        p, r = self.precision, self.recall
        assert p is not None and r is not None
        return 2 * p * r / (p + r)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "support": self.tp + self.fn, "precision": _round(self.precision),
                "recall": _round(self.recall), "f1": _round(self.f1)}


def binary_scores(truth: Sequence[bool], predicted: Sequence[bool]) -> BinaryScores:
    _same_length(truth, predicted)
    tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t and p)
    fp = sum(1 for t, p in zip(truth, predicted, strict=True) if not t and p)
    fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t and not p)
    return BinaryScores(tp=tp, fp=fp, fn=fn, tn=len(truth) - tp - fp - fn)


def multilabel_scores(truth: Sequence[set[str]], predicted: Sequence[set[str]],
                      labels: Sequence[str]) -> dict[str, BinaryScores]:
    """One-vs-rest scores per label, plus `any` (at least one label vs none)."""
    _same_length(truth, predicted)
    scores = {label: binary_scores([label in t for t in truth], [label in p for p in predicted]) for label in labels}
    scores["any"] = binary_scores([bool(t) for t in truth], [bool(p) for p in predicted])
    return scores


def accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float | None:
    _same_length(truth, predicted)
    return _ratio(sum(1 for t, p in zip(truth, predicted, strict=True) if t == p), len(truth))


def cohen_kappa(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float | None:
    """Agreement beyond chance: (p_o - p_e) / (1 - p_e); None when chance agreement is total."""
    _same_length(truth, predicted)
    n = len(truth)
    if n == 0:
        return None
    observed = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p) / n
    truth_counts, predicted_counts = Counter(truth), Counter(predicted)
    expected = sum(truth_counts[label] * predicted_counts[label] for label in truth_counts) / (n * n)
    if expected == 1.0:
        return None
    return (observed - expected) / (1 - expected)


def macro_f1(truth: Sequence[Hashable], predicted: Sequence[Hashable],
             labels: Sequence[Hashable] | None = None) -> float | None:
    """Unweighted mean of per-label F1 over `labels` (default: the labels present in `truth`)."""
    _same_length(truth, predicted)
    labels = list(labels) if labels is not None else sorted(set(truth), key=str)
    f1s = [binary_scores([t == label for t in truth], [p == label for p in predicted]).f1 for label in labels]
    known = [f for f in f1s if f is not None]
    return sum(known) / len(known) if known else None


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _same_length(a: Sequence[Any], b: Sequence[Any]) -> None:
    if len(a) != len(b):
        raise ValueError(f"truth and predictions differ in length ({len(a)} vs {len(b)})")
