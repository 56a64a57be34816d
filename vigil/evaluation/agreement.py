"""How far two raters agree on one field, with a confidence interval: percent agreement; Cohen's kappa for a nominal
field (scikit-learn); Krippendorff's alpha for an ordinal one (the `krippendorff` package, which also takes missing
values). Pure functions over pairs of answers; `vigil.services.agreement` feeds them reviewers' sheets."""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

Pair = tuple[Hashable | None, Hashable | None]


@dataclass(frozen=True)
class Agreement:
    pairs: int  # pairs where both answered
    percent: float | None
    statistic: str  # cohen_kappa | krippendorff_alpha
    value: float | None  # None where it is undefined (e.g. every answer the same)
    ci_low: float | None
    ci_high: float | None


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else float(value)


def kappa(pairs: Sequence[Pair]) -> float | None:
    complete = [(a, b) for a, b in pairs if a is not None and b is not None]
    if not complete or len({v for p in complete for v in p}) < 2:
        return None  # one category only: chance agreement is total, kappa is undefined
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _finite(cohen_kappa_score([str(a) for a, _ in complete], [str(b) for _, b in complete]))


def alpha(pairs: Sequence[Pair], order: Sequence[Hashable]) -> float | None:
    """Ordinal Krippendorff's alpha; `order` ranks the values (e.g. none < low < medium < high)."""
    rank = {value: i for i, value in enumerate(order)}
    data = np.array([[rank[a] if a is not None else np.nan for a, _ in pairs],
                     [rank[b] if b is not None else np.nan for _, b in pairs]], dtype=float)
    values = data[~np.isnan(data)]
    if values.size < 2 or np.unique(values).size < 2:
        return None
    try:
        return _finite(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal",
                                          value_domain=list(range(len(order)))))
    except (ValueError, ZeroDivisionError):
        return None


def percent_agreement(pairs: Sequence[Pair]) -> float | None:
    complete = [(a, b) for a, b in pairs if a is not None and b is not None]
    return sum(a == b for a, b in complete) / len(complete) if complete else None


def agreement(pairs: Sequence[Pair], order: Sequence[Hashable] | None = None, resamples: int = 1000,
              seed: int = 0) -> Agreement:
    """The statistic for the field's kind (ordinal when `order` is given) and a 95 % percentile bootstrap interval
    over units (resampled with a fixed seed, so the same data gives the same interval)."""
    def statistic(sample: Sequence[Pair]) -> float | None:
        return alpha(sample, order) if order is not None else kappa(sample)

    value = statistic(pairs)
    low = high = None
    if value is not None and len(pairs) > 1:
        draw = random.Random(seed)
        boots = [v for v in (statistic([pairs[draw.randrange(len(pairs))] for _ in pairs])
                             for _ in range(resamples)) if v is not None]
        if boots:
            low, high = (float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5)))
    complete = sum(a is not None and b is not None for a, b in pairs)
    return Agreement(pairs=complete, percent=percent_agreement(pairs),
                     statistic="krippendorff_alpha" if order is not None else "cohen_kappa",
                     value=value, ci_low=low, ci_high=high)
