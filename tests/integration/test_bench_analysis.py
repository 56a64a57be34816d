"""bench/analysis.py's measurements, at small scale: the model calls answered by the Chat Completions stand-in over
127.0.0.1 after 0.2–0.4 s, so the parallel/sequential difference is large against overhead."""

from __future__ import annotations

from pathlib import Path

from bench.analysis import SETS, compare_modes, load_sets, offline_throughput, sample_transcript, total

LATENCY = (0.2, 0.4)
SEED = 5  # draws two close latencies per session (0.33–0.39 s): run at once, they take about half their sum


def test_parallel_takes_about_the_slowest_task_and_sequential_the_sum() -> None:
    comparison = compare_modes([sample_transcript(), sample_transcript()], latency_range=LATENCY, seed=SEED)
    for parallel, sequential, slowest, (a, b) in zip(comparison.parallel_wall, comparison.sequential_wall,
                                                      comparison.slowest_task, comparison.latencies, strict=True):
        assert LATENCY[0] <= a <= LATENCY[1] and LATENCY[0] <= b <= LATENCY[1]
        assert parallel < 0.8 * sequential
        assert sequential >= a + b and max(a, b) <= slowest <= parallel
    figures = comparison.figures()
    assert figures["sessions"] == 2 and len(figures["latencies_seconds"]) == 2
    assert set(figures["parallel_task_seconds"]) == {"refinement", "analytics", "risk", "summary"}
    assert figures["sequential_over_parallel"] > 1.25 and figures["ideal_ratio"] > 1.5
    assert 1.0 <= figures["parallel_over_slowest_task"] < 1.5


def test_offline_throughput_counts_sessions_turns_and_no_failures() -> None:
    result = offline_throughput([sample_transcript(), sample_transcript()])
    assert (result.sessions, result.turns, result.failed_tasks) == (2, 8, 0)
    assert result.stage_seconds > 0 and result.analyze_seconds > 0
    figures = total([result, result]).figures()
    assert (figures["sessions"], figures["turns"]) == (4, 16)
    assert figures["stage_sessions_per_second"] > 0 and figures["analyze_turns_per_second"] > 0


def test_missing_data_is_reported_not_fatal(tmp_path: Path) -> None:
    found, missing = load_sets(tmp_path)
    assert found == {} and missing == [tmp_path / relative for relative in SETS.values()]
