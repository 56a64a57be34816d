"""Replay runs side by side: every measure of every run lands in its own row and column."""

from __future__ import annotations

from dashboard.comparison import measures, side_by_side


def _run(candidate: dict, baseline: dict, name: str = "active (offline)") -> dict:
    return {"baseline": name, "metrics": {"candidate": candidate, "baseline": baseline}}


def test_measures_flatten_risk_agreement_and_rubric() -> None:
    side = {"risk": {"any": {"precision": 0.8, "recall": 0.9, "f1": 0.847}},
            "mi_quality": {"n": 10, "accuracy": 0.9, "kappa": 0.6},
            "rubric": {"empathy": {"n": 10, "accuracy": 0.7, "kappa": 0.4}}}
    assert measures(side) == {"risk any P": 0.8, "risk any R": 0.9, "risk any F1": 0.847,
                              "mi_quality accuracy": 0.9, "mi_quality kappa": 0.6,
                              "rubric empathy accuracy": 0.7, "rubric empathy kappa": 0.4}


def test_two_runs_side_by_side_against_the_first_runs_baseline() -> None:
    first = _run({"risk": {"any": {"precision": 0.5, "recall": 1.0, "f1": 0.667}}},
                 {"risk": {"any": {"precision": 0.4, "recall": 0.5, "f1": 0.444}}})
    second = _run({"risk": {"any": {"precision": 0.6, "recall": 0.75, "f1": 0.667},
                            "self_harm": {"precision": 1.0, "recall": 0.5, "f1": 0.667}}}, {})
    frame = side_by_side([first, second], ["run A", "run B"])
    assert frame.columns == ["measure", "run A", "run B", "baseline (active (offline))"]
    rows = {row["measure"]: row for row in frame.iter_rows(named=True)}
    assert rows["risk any R"] == {"measure": "risk any R", "run A": 1.0, "run B": 0.75,
                                  "baseline (active (offline))": 0.5}
    assert rows["risk self_harm P"]["run A"] is None and rows["risk self_harm P"]["run B"] == 1.0
    assert frame.height == 6


def test_no_runs_is_an_empty_table() -> None:
    assert side_by_side([], []).columns == ["measure"]
