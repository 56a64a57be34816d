"""Measure the offline analyzer on the labelled evaluation sets.

    python bench/analyzer.py [--data-dir ../shared/data] [--show-misses N]

Prints, per set: recall / precision / F1 of "any risk flagged" against "labelled with a risk",
once counting every flag and once counting only medium or high ones; recall per labelled
category; the flag rate per C-SSRS level; and for AnnoMI how the rubric separates high- from
low-quality sessions and how well turn behaviours (question / reflection / open) are recognised.
The data stays outside the repository; each labelled item becomes an `AgentTranscript` here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.analysis.offline import OfflineAnalyzer
from vigil.analysis.rubric import classify_counselor_turns, is_open_question_turn
from vigil.analysis.turns import read_turns
from vigil.schemas import AgentTranscript, AnalysisResult, RiskLevel, Segment, TranscriptMetrics

_SETS = {"annomi": "annomi/annomi-dev.jsonl", "cssrs": "cssrs/cssrs-dev.jsonl"}


@dataclass(frozen=True)
class Scored:
    item: dict[str, Any]
    result: AnalysisResult


def load_items(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def to_transcript(item: dict[str, Any]) -> AgentTranscript:
    """One segment per turn; a turn ends where the next begins, times are 0 when the set has none."""
    turns = item["turns"]
    starts = [float(turn.get("start") or 0.0) for turn in turns]
    segments = [
        Segment(
            index=i,
            start=starts[i],
            end=float(turn.get("end") or (starts[i + 1] if i + 1 < len(turns) else starts[i])),
            text=turn["text"],
            speaker=turn.get("speaker"),
        )
        for i, turn in enumerate(turns)
    ]
    text = "\n".join(segment.text for segment in segments)
    words = len(text.split())
    duration = max((segment.end for segment in segments), default=0.0)
    return AgentTranscript(
        session_id=uuid.uuid5(uuid.NAMESPACE_URL, f"vigil-bench/{item['id']}"),
        provider="dataset",
        language="en",
        duration=duration,
        text=text,
        segments=segments,
        metrics=TranscriptMetrics(
            word_count=words,
            duration_seconds=duration,
            speaking_rate_wpm=words / (duration / 60) if duration else 0.0,
            mean_confidence=None,
            low_confidence_share=None,
        ),
    )


def flagged(result: AnalysisResult, floor: RiskLevel) -> bool:
    return result.risk_level is not RiskLevel.none and result.risk_level.rank >= floor.rank


def print_detection(name: str, scored: Sequence[Scored], seconds: float) -> None:
    positives = sum(1 for s in scored if s.item["labels"]["risk"])
    print(f"\n== {name}: {len(scored)} sessions, {positives} labelled with a risk, "
          f"{1000 * seconds / max(len(scored), 1):.1f} ms/session")
    for floor in (RiskLevel.low, RiskLevel.medium):
        tp = sum(1 for s in scored if s.item["labels"]["risk"] and flagged(s.result, floor))
        fp = sum(1 for s in scored if not s.item["labels"]["risk"] and flagged(s.result, floor))
        fn = positives - tp
        recall = tp / positives if positives else float("nan")
        precision = tp / (tp + fp) if tp + fp else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        print(f"  any risk, flags >= {floor.value:<6}: recall {recall:.3f}  precision {precision:.3f}  "
              f"F1 {f1:.3f}   (tp {tp}, fp {fp}, fn {fn})")
    by_category: dict[str, list[bool]] = defaultdict(list)
    for s in scored:
        found = {flag.category.value for flag in s.result.flags}
        for category in s.item["labels"]["risk"]:
            by_category[category].append(category in found)
    for category, hits in sorted(by_category.items()):
        print(f"  recall {category:<18}: {sum(hits) / len(hits):.3f}  ({sum(hits)}/{len(hits)})")


def print_cssrs_levels(scored: Sequence[Scored]) -> None:
    levels: dict[str, Counter[str]] = defaultdict(Counter)
    for s in scored:
        levels[s.item["labels"]["cssrs"]][s.result.risk_level.value] += 1
    print("  risk level by C-SSRS label:")
    for label in ("Supportive", "Indicator", "Ideation", "Behavior", "Attempt"):
        counts = levels[label]
        total = sum(counts.values())
        shown = "  ".join(f"{level} {counts[level]:>3}" for level in ("none", "low", "medium", "high"))
        print(f"    {label:<10} n={total:>3}: {shown}")


def print_rubric(scored: Sequence[Scored]) -> None:
    by_quality: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for s in scored:
        quality = s.item["labels"].get("mi_quality")
        if quality:
            for score in s.result.rubric:
                by_quality[quality][score.key].append(score.score)
    keys = sorted({key for scores in by_quality.values() for key in scores})
    print("  mean rubric score by MI quality label:")
    for quality in ("high", "low"):
        cells = "  ".join(f"{key} {statistics.mean(by_quality[quality][key]):.2f}" for key in keys
                          if by_quality[quality][key])
        print(f"    {quality:<4}: {cells}")


def print_turn_codes(items: Sequence[dict[str, Any]]) -> None:
    """Agreement of the turn classifier with AnnoMI's per-turn counselor codes."""
    confusion: Counter[tuple[str, str]] = Counter()
    open_agree = open_total = 0
    for item in items:
        codes = {code["index"]: code for code in item["labels"].get("turns") or []}
        for turn, guess in classify_counselor_turns(read_turns(to_transcript(item).segments)):
            code = codes.get(turn.segment.index)
            if code is None or "behaviour" not in code:
                continue
            truth = code["behaviour"] if code["behaviour"] in ("question", "reflection") else "other"
            confusion[(truth, guess)] += 1
            if truth == "question" and guess == "question" and code.get("question") in ("open", "closed"):
                open_total += 1
                open_agree += is_open_question_turn(turn) == (code["question"] == "open")
    print("  counselor turn codes (AnnoMI):")
    for kind in ("question", "reflection"):
        tp = confusion[(kind, kind)]
        truth_total = sum(n for (t, _), n in confusion.items() if t == kind)
        guess_total = sum(n for (_, g), n in confusion.items() if g == kind)
        print(f"    {kind:<10}: recall {tp / max(truth_total, 1):.3f}  precision {tp / max(guess_total, 1):.3f}")
    print(f"    open vs closed on agreed questions: accuracy {open_agree / max(open_total, 1):.3f}")


def print_misses(scored: Sequence[Scored], limit: int) -> None:
    misses = [s for s in scored if s.item["labels"]["risk"] and not flagged(s.result, RiskLevel.low)]
    false_flags = [s for s in scored if not s.item["labels"]["risk"] and flagged(s.result, RiskLevel.low)]
    for title, group in (("missed", misses), ("false flags", false_flags)):
        print(f"  {title}: {', '.join(s.item['id'] for s in group[:limit])}")
        for s in group[:limit]:
            for flag in s.result.flags:
                quotes = " | ".join(e.quote[:120] for e in flag.evidence)
                print(f"    {s.item['id']} {flag.category.value}/{flag.severity.value}: {quotes}")


def run(data_dir: Path, show_misses: int) -> None:
    analyzer = OfflineAnalyzer()
    for name, relative in _SETS.items():
        path = data_dir / relative
        if not path.exists():
            print(f"\n== {name}: {path} not found, skipped")
            continue
        items = list(load_items(path))
        began = time.perf_counter()
        scored = [Scored(item, analyzer.analyze(to_transcript(item))) for item in items]
        elapsed = time.perf_counter() - began
        print_detection(name, scored, elapsed)
        if name == "cssrs":
            print_cssrs_levels(scored)
        else:
            print_rubric(scored)
            print_turn_codes(items)
        if show_misses:
            print_misses(scored, show_misses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data-dir", type=Path, default=default_data, help="folder holding annomi/ and cssrs/")
    parser.add_argument("--show-misses", type=int, default=0, help="list up to N misses and false flags per set")
    args = parser.parse_args()
    run(args.data_dir, args.show_misses)


if __name__ == "__main__":
    main()
