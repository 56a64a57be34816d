"""Agreement statistics against values worked by hand (the working is in each test's docstring)."""

from __future__ import annotations

import pytest

from vigil.evaluation.agreement import agreement, alpha, kappa, percent_agreement

LEVELS = ["none", "low", "medium", "high"]


def test_cohens_kappa_of_ten_flag_decisions() -> None:
    """Rater A: 5 confirmed then 5 dismissed; rater B agrees on 8 (4 + 4). p_o = 0.8; each confirms half, so
    p_e = 0.5·0.5 + 0.5·0.5 = 0.5; kappa = (0.8 − 0.5) / (1 − 0.5) = 0.6."""
    a = ["confirmed"] * 5 + ["dismissed"] * 5
    b = ["confirmed"] * 4 + ["dismissed"] * 5 + ["confirmed"]
    pairs = list(zip(a, b, strict=True))
    assert percent_agreement(pairs) == 0.8
    assert kappa(pairs) == pytest.approx(0.6)


def test_ordinal_alpha_of_four_rubric_scores() -> None:
    """Units (1,1) (2,2) (3,3) (1,2). Coincidences: o11 = o22 = o33 = 2, o12 = o21 = 1; n1 = 3, n2 = 3, n3 = 2,
    n = 8. Ordinal δ²: 12 → (6 − 3)² = 9, 13 → (8 − 2.5)² = 30.25, 23 → (5 − 2.5)² = 6.25.
    D_o = (1·9 + 1·9) / 8 = 2.25; D_e = 2·(3·3·9 + 3·2·30.25 + 3·2·6.25) / (8·7) = 600 / 56;
    alpha = 1 − 2.25·56 / 600 = 0.79."""
    pairs = [(1, 1), (2, 2), (3, 3), (1, 2)]
    assert alpha(pairs, [1, 2, 3, 4, 5]) == pytest.approx(0.79)
    assert percent_agreement(pairs) == 0.75


def test_a_missing_answer_is_left_out_not_counted_as_disagreement() -> None:
    """The same four units and a fifth only one rater answered: alpha's coincidences ignore an unpaired value, so
    alpha stays 0.79; percent agreement counts the four paired units only."""
    pairs = [(1, 1), (2, 2), (3, 3), (1, 2), (4, None)]
    assert alpha(pairs, [1, 2, 3, 4, 5]) == pytest.approx(0.79)
    assert percent_agreement(pairs) == 0.75


def test_undefined_statistics_are_none_not_a_number() -> None:
    same = [("high", "high")] * 5
    assert kappa(same) is None and alpha(same, LEVELS) is None and percent_agreement(same) == 1.0
    assert kappa([]) is None and percent_agreement([]) is None


def test_the_interval_holds_the_value_and_is_the_same_on_the_same_data() -> None:
    pairs = [("low", "low"), ("medium", "medium"), ("high", "medium"), ("none", "none"), ("high", "high"),
             ("medium", "low"), ("low", "low"), ("high", "high")] * 3
    first, again = agreement(pairs, LEVELS), agreement(pairs, LEVELS)
    assert first == again and first.statistic == "krippendorff_alpha" and first.pairs == 24
    assert first.ci_low is not None and first.ci_high is not None
    assert first.ci_low <= first.value <= first.ci_high  # type: ignore[operator]
    assert first.ci_high - first.ci_low > 0.01, "resampling 24 pairs moves the estimate"
    assert agreement([("confirmed", "dismissed"), ("dismissed", "dismissed")]).statistic == "cohen_kappa"
