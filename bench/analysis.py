"""The analyze stage, measured in one run:

  1. the four post-transcription tasks (refinement, analytics, risk + rubric, summary) run at once vs one after
     another, with the two model calls answered by a local Chat Completions stand-in
     (tests/standins/openai_server.py) after a latency drawn from 2–5 s — seeded, the same draws for both modes —
     through the real `openai` SDK: median wall time of each mode, sequential / parallel, and the slowest single
     task, to show that parallel takes about as long as the slowest task, not the sum;
  2. the offline analyzer's throughput in one process over the labelled AnnoMI and C-SSRS dev sessions: sessions
     and turns per second for the whole stage (`run_analysis_tasks`, parallel) and for `OfflineAnalyzer.analyze`
     alone. Skipped, saying so, when the data is not in --data-dir.

    .venv/bin/python bench/analysis.py [--data-dir ../shared/data] [--sessions 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.standins.openai_server import OpenAIStandin, serve_openai_standin  # noqa: E402
from vigil.analysis.analyzers.offline import OfflineAnalyzer  # noqa: E402
from vigil.analysis.analyzers.openai_analyzer import OpenAIAnalyzer  # noqa: E402
from vigil.evaluation.dataset import read_dataset  # noqa: E402
from vigil.schemas.transcripts import AgentTranscript, Segment, TranscriptMetrics
from vigil.services.pipeline import TaskRun, run_analysis_tasks  # noqa: E402

SETS = {"annomi": "annomi/annomi-dev.jsonl", "cssrs": "cssrs/cssrs-dev.jsonl"}
SEED = 20240611
API_KEY = "sk-bench-analysis"
MODEL = "gpt-4o-mini"
MODEL_CALLS = 2  # assess and summarize: one request each when the reply is valid


# ------------------------------------------------------------------ 1. parallel vs sequential
@dataclass
class ModeComparison:
    """Per session: the two model latencies drawn, each mode's wall time, and the slowest task of the parallel run."""

    latencies: list[tuple[float, float]] = field(default_factory=list)
    parallel_wall: list[float] = field(default_factory=list)
    sequential_wall: list[float] = field(default_factory=list)
    slowest_task: list[float] = field(default_factory=list)
    parallel_tasks: list[dict[str, float]] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        median = statistics.median
        return {
            "sessions": len(self.latencies),
            "latencies_seconds": [[round(a, 3), round(b, 3)] for a, b in self.latencies],
            "parallel_wall_seconds": round(median(self.parallel_wall), 3),
            "sequential_wall_seconds": round(median(self.sequential_wall), 3),
            "sequential_over_parallel": round(median(s / p for s, p in zip(self.sequential_wall,
                                                                          self.parallel_wall, strict=True)), 3),
            # What the latencies alone allow: (a + b) / max(a, b) per session.
            "ideal_ratio": round(median((a + b) / max(a, b) for a, b in self.latencies), 3),
            "slowest_task_seconds": round(median(self.slowest_task), 3),
            "parallel_over_slowest_task": round(median(p / s for p, s in zip(self.parallel_wall, self.slowest_task,
                                                                             strict=True)), 3),
            "parallel_task_seconds": {name: round(median(run[name] for run in self.parallel_tasks), 4)
                                      for name in self.parallel_tasks[0]},
        }


def model_reply(transcript: AgentTranscript) -> dict[str, Any]:
    """A reply either model call accepts: the two calls run at once, so either may take it. It carries every field
    of both schemas, and its one flag quotes a segment of this transcript verbatim (invented quotes are refused)."""
    segment = next(s for s in transcript.segments if s.text.strip())
    return {
        "risk_level": "low",
        "flags": [{"category": "other", "severity": "low", "confidence": 0.5,
                   "evidence": [{"quote": segment.text[:60].strip(), "segment_index": segment.index}],
                   "rationale": "Benchmark reply."}],
        "rubric": [{"key": "empathy", "label": "Empathy", "score": 3, "rationale": "Benchmark reply."},
                   {"key": "collaboration", "label": "Collaboration", "score": 3, "rationale": "Benchmark reply."}],
        "summary": "The client and counselor talked; this is a benchmark reply.",
        "action_items": ["Follow up next session."],
    }


def _timed_run(standin: OpenAIStandin, analyzer: OpenAIAnalyzer, transcript: AgentTranscript,
               latencies: tuple[float, float], parallel: bool) -> tuple[float, TaskRun]:
    reply = model_reply(transcript)
    for seconds in latencies:
        standin.reply(reply, delay_seconds=seconds)
    asked_before = len(standin.requests)
    started = time.perf_counter()
    run = run_analysis_tasks(transcript, analyzer, parallel=parallel)
    wall = time.perf_counter() - started
    failed = {name: o.error for name, o in run.outcomes.items() if o.status != "succeeded"}
    if failed or len(standin.requests) - asked_before != MODEL_CALLS:
        # A retry or a failure would leave the scripted latencies out of step: the timing would mean nothing.
        raise RuntimeError(f"the analysis did not run as scripted ({'parallel' if parallel else 'sequential'}): "
                           f"failed tasks {failed}, {len(standin.requests) - asked_before} model calls")
    return wall, run


def compare_modes(transcripts: list[AgentTranscript], latency_range: tuple[float, float] = (2.0, 5.0),
                  seed: int = SEED) -> ModeComparison:
    """Each transcript analysed in parallel, then in sequence, the model calls taking the same two drawn latencies
    in both modes. (Which of the two parallel calls takes which latency is a race; neither wall time depends on it.)"""
    rng = random.Random(seed)
    standin = OpenAIStandin(api_key=API_KEY)
    comparison = ModeComparison()
    with serve_openai_standin(standin) as base_url:
        analyzer = OpenAIAnalyzer([MODEL], api_key=API_KEY, base_url=base_url,
                                  timeout_seconds=2 * latency_range[1] + 10)
        # Untimed: the first calls open connections and build the client's models, which would count against
        # whichever mode ran first.
        _timed_run(standin, analyzer, transcripts[0], (0.0, 0.0), parallel=True)
        for transcript in transcripts:
            latencies = (rng.uniform(*latency_range), rng.uniform(*latency_range))
            parallel_wall, run = _timed_run(standin, analyzer, transcript, latencies, parallel=True)
            sequential_wall, _ = _timed_run(standin, analyzer, transcript, latencies, parallel=False)
            comparison.latencies.append(latencies)
            comparison.parallel_wall.append(parallel_wall)
            comparison.sequential_wall.append(sequential_wall)
            comparison.slowest_task.append(max(o.seconds for o in run.outcomes.values()))
            comparison.parallel_tasks.append({name: o.seconds for name, o in run.outcomes.items()})
    return comparison


def sample_transcript() -> AgentTranscript:
    """For part 1 when the labelled data is absent: a short check-in."""
    lines = [("counselor", "Hi, thanks for coming in. How have you been this week?"),
             ("client", "Honestly not great. Work has been hard and I am not sleeping."),
             ("counselor", "That sounds exhausting. What has been keeping you up?"),
             ("client", "Mostly worrying about money, and I have been drinking more to get to sleep.")]
    segments = [Segment(index=i, start=4.0 * i, end=4.0 * i + 3.5, speaker=speaker, text=text)
                for i, (speaker, text) in enumerate(lines)]
    text = " ".join(s.text for s in segments)
    words = len(text.split())
    return AgentTranscript(session_id=uuid.uuid4(), provider="bench", language="en", duration=15.5, text=text,
                           segments=segments,
                           metrics=TranscriptMetrics(word_count=words, duration_seconds=15.5,
                                                     speaking_rate_wpm=round(words / 15.5 * 60, 1),
                                                     mean_confidence=None, low_confidence_share=None))


# ------------------------------------------------------------------ 2. offline throughput
@dataclass
class Throughput:
    sessions: int
    turns: int
    stage_seconds: float  # run_analysis_tasks(..., parallel=True) over every session
    analyze_seconds: float  # OfflineAnalyzer().analyze over every session
    failed_tasks: int

    def figures(self) -> dict[str, Any]:
        return {**asdict(self),
                "stage_sessions_per_second": round(self.sessions / self.stage_seconds, 2),
                "stage_turns_per_second": round(self.turns / self.stage_seconds, 1),
                "analyze_sessions_per_second": round(self.sessions / self.analyze_seconds, 2),
                "analyze_turns_per_second": round(self.turns / self.analyze_seconds, 1)}


def offline_throughput(transcripts: list[AgentTranscript]) -> Throughput:
    """Transcripts are built before timing; one warm-up session first, so lazy loading is not counted. The two
    ways are timed session by session, one after the other, so a change in the machine's load hits both alike."""
    analyzer = OfflineAnalyzer()
    run_analysis_tasks(transcripts[0], analyzer)
    analyzer.analyze(transcripts[0])
    stage = alone = 0.0
    failed = 0
    for transcript in transcripts:
        started = time.perf_counter()
        run = run_analysis_tasks(transcript, analyzer, parallel=True)
        stage += time.perf_counter() - started
        failed += sum(o.status != "succeeded" for o in run.outcomes.values())
        started = time.perf_counter()
        analyzer.analyze(transcript)
        alone += time.perf_counter() - started
    return Throughput(sessions=len(transcripts), turns=sum(len(t.segments) for t in transcripts),
                      stage_seconds=round(stage, 4), analyze_seconds=round(alone, 4), failed_tasks=failed)


def total(results: list[Throughput]) -> Throughput:
    return Throughput(sessions=sum(r.sessions for r in results), turns=sum(r.turns for r in results),
                      stage_seconds=round(sum(r.stage_seconds for r in results), 4),
                      analyze_seconds=round(sum(r.analyze_seconds for r in results), 4),
                      failed_tasks=sum(r.failed_tasks for r in results))


def load_sets(data_dir: Path) -> tuple[dict[str, list[AgentTranscript]], list[Path]]:
    """The labelled sets found under `data_dir` as transcripts, and the paths that were not there."""
    found: dict[str, list[AgentTranscript]] = {}
    missing: list[Path] = []
    for name, relative in SETS.items():
        path = data_dir / relative
        if path.is_file():
            found[name] = [session.to_transcript() for session in read_dataset(path)]
        else:
            missing.append(path)
    return found, missing


# ------------------------------------------------------------------ report
def _rate(sessions: int, turns: int, seconds: float) -> str:
    return f"{sessions / seconds:,.1f} sessions/s ({turns / seconds:,.0f} turns/s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sessions", type=int, default=3, help="sessions timed in each mode in part 1")
    parser.add_argument("--json", action="store_true", help="also print every figure as one JSON object")
    args = parser.parse_args()
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")

    sets, missing = load_sets(args.data_dir)
    pool = sets.get("annomi") or [sample_transcript()]
    chosen = [pool[i % len(pool)] for i in range(args.sessions)]
    comparison = compare_modes(chosen).figures()
    c = comparison
    source = "AnnoMI dev sessions" if "annomi" in sets else "a built-in sample session"
    print(f"(1) four analysis tasks, model calls 2–5 s from a local Chat Completions stand-in (seed {SEED}), "
          f"{c['sessions']} × {source}, medians:")
    print("    latencies drawn for the two model calls: " + ", ".join(f"{a:.2f}+{b:.2f}s"
                                                                    for a, b in c["latencies_seconds"]))
    print(f"    parallel {c['parallel_wall_seconds']:.2f}s vs sequential {c['sequential_wall_seconds']:.2f}s "
          f"→ sequential/parallel {c['sequential_over_parallel']:.2f} "
          f"(ideal for these latencies {c['ideal_ratio']:.2f})")
    print(f"    slowest single task {c['slowest_task_seconds']:.2f}s → parallel/slowest "
          f"{c['parallel_over_slowest_task']:.3f}; per task in parallel: "
          + ", ".join(f"{k} {v:.3f}s" for k, v in c["parallel_task_seconds"].items()))

    throughput: dict[str, Any] | None = None
    for path in missing:
        print(f"(2) {path} not found: skipping it")
    if sets:
        results = {name: offline_throughput(transcripts) for name, transcripts in sets.items()}
        if len(results) > 1:
            results["all"] = total(list(results.values()))
        print("(2) offline analyzer, one process (whole stage = run_analysis_tasks, parallel; alone = analyze()):")
        for name, r in results.items():
            print(f"    {name:<7} {r.sessions:>4} sessions, {r.turns:>6,} turns: whole stage "
                  f"{_rate(r.sessions, r.turns, r.stage_seconds)}; analyze() alone "
                  f"{_rate(r.sessions, r.turns, r.analyze_seconds)}; stage/alone time "
                  f"{r.stage_seconds / r.analyze_seconds:.2f}; failed tasks {r.failed_tasks}")
        throughput = {name: r.figures() for name, r in results.items()}

    if args.json:
        print(json.dumps({"parallel_vs_sequential": comparison, "offline_throughput": throughput,
                          "missing_data": [str(p) for p in missing]}))


if __name__ == "__main__":
    main()
