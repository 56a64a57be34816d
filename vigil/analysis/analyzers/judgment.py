"""The three evaluations of risk detection, in one report (`vigil replay --report`):

1. development cross-validation: the nested CV figures the fit script stored in the sentence model's `meta`
   (every choice was made inside those folds; the locked part was never read);
2. the locked part (`vigil.evaluation.split`) of each shared data set, which no choice ever looked at;
3. the written hard-case suite (`eval/hard-cases.jsonl`): disclosures caught per kind, hard negatives flagged.

The analyzer runs in this process as the pipeline runs it (`assess` on the transcript), so no database, Ray or
API is needed. Figures are computed from the predictions alone, which the report carries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vigil.analysis.analyzers.base import Analyzer
from vigil.analysis.risk.sentence_risk import shipped_sentence_model
from vigil.evaluation.dataset import LabelledSession, read_dataset
from vigil.evaluation.scores import binary_scores, multilabel_scores
from vigil.evaluation.split import locked

REPO = Path(__file__).resolve().parents[3]
HARD_CASES = REPO / "eval" / "hard-cases.jsonl"
LOCKED_SETS = {"cssrs": "cssrs/cssrs-dev.jsonl", "annomi": "annomi/annomi-dev.jsonl"}
CATEGORIES = ["suicidal_ideation", "self_harm", "harm_to_others", "abuse_disclosure", "substance_crisis"]


def flagged_categories(analyzer: Analyzer, sessions: Sequence[LabelledSession], workers: int = 2,
                       progress: Callable[[int], None] | None = None) -> dict[str, list[str]]:
    def one(session: LabelledSession) -> tuple[str, list[str]]:
        assessment = analyzer.assess(session.to_transcript())
        if progress:
            progress(1)
        return session.id, sorted({flag.category.value for flag in assessment.flags})

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(pool.map(one, sessions))


def set_figures(sessions: Sequence[LabelledSession], predicted: dict[str, list[str]]) -> dict[str, Any]:
    truth = [{c.value for c in s.labels.risk} for s in sessions]
    guesses = [set(predicted[s.id]) for s in sessions]
    present = [c for c in CATEGORIES if any(c in t for t in truth)]
    scores = multilabel_scores(truth, guesses, present)
    out = {name: s.as_dict() for name, s in scores.items()}
    out["any_risk"] = binary_scores([bool(t) for t in truth], [bool(g) for g in guesses]).as_dict()
    out["sessions"] = len(sessions)
    return out


def hard_case_figures(sessions: Sequence[LabelledSession], predicted: dict[str, list[str]]) -> dict[str, Any]:
    """Per kind: disclosures caught (the session flagged in one of its labelled categories), or hard negatives
    flagged (any flag at all)."""
    kinds: dict[str, dict[str, Any]] = defaultdict(lambda: {"n": 0, "hits": 0, "missed": []})
    for session in sessions:
        case = (session.labels.model_extra or {}).get("hard_case", {})
        expect_flag = case.get("expect") == "flag"
        wanted = {c.value for c in session.labels.risk}
        flags = set(predicted[session.id])
        hit = bool(flags & wanted) if expect_flag else bool(flags)
        row = kinds[f"{'disclosure' if expect_flag else 'negative'}/{case.get('kind', 'unknown')}"]
        row["n"] += 1
        row["hits"] += hit
        if hit != expect_flag:
            row["missed"].append(session.id)
    disclosures = [k for k in kinds if k.startswith("disclosure/")]
    negatives = [k for k in kinds if k.startswith("negative/")]
    caught, total = sum(kinds[k]["hits"] for k in disclosures), sum(kinds[k]["n"] for k in disclosures)
    false, clean = sum(kinds[k]["hits"] for k in negatives), sum(kinds[k]["n"] for k in negatives)
    return {"disclosures_caught": caught, "disclosures": total, "recall": round(caught / total, 4) if total else None,
            "negatives_flagged": false, "negatives": clean,
            "negatives_flagged_share": round(false / clean, 4) if clean else None, "kinds": dict(sorted(kinds.items()))}


def judgment_report(analyzer: Analyzer, data_dir: Path, hard_cases: Path = HARD_CASES, workers: int = 2,
                    progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    meta = shipped_sentence_model().meta
    risk = getattr(analyzer, "risk", None)
    report: dict[str, Any] = {"analyzer": getattr(analyzer, "name", "?"), "model": meta.get("name"),
                              "sensitivity": getattr(risk, "sensitivity", None),
                              "development_cv": meta.get("development_cv", {}).get("figures"),
                              "calibration": meta.get("development_cv", {}).get("calibration"), "locked": {}}
    for name, relative in LOCKED_SETS.items():
        path = data_dir / relative
        if not path.exists():
            report["locked"][name] = {"missing": str(path)}
            continue
        sessions = locked(read_dataset(path))
        predicted = flagged_categories(analyzer, sessions, workers, progress)
        report["locked"][name] = {**set_figures(sessions, predicted), "predictions": predicted}
    suite = read_dataset(hard_cases)
    predicted = flagged_categories(analyzer, suite, workers, progress)
    report["hard_cases"] = {**hard_case_figures(suite, predicted), "predictions": predicted}
    return report


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report as a reader wants it first: precision, recall, F1 per set and category."""
    lines = [f"analyzer {report['analyzer']}, sentence model {report['model']} at {report.get('sensitivity')}"]

    def row(label: str, s: dict[str, Any]) -> str:
        return (f"  {label:<28} P {_f(s.get('precision'))}  R {_f(s.get('recall'))}  F1 {_f(s.get('f1'))}"
                f"  (tp {s.get('tp')} fp {s.get('fp')} fn {s.get('fn')})")

    for way, figures in (report.get("development_cv") or {}).items():
        lines.append(f"development CV, {way} (model alone unless '+rules'):")
        lines.extend(row(category, s) for category, s in figures.items())
    for name, figures in report["locked"].items():
        lines.append(f"locked part, {name} ({figures.get('sessions', 0)} sessions), rules + model:")
        lines.extend(row(category, s) for category, s in figures.items() if isinstance(s, dict)
                     and "f1" in s)
    hard = report["hard_cases"]
    lines.append(f"hard cases: {hard['disclosures_caught']}/{hard['disclosures']} disclosures caught, "
                 f"{hard['negatives_flagged']}/{hard['negatives']} hard negatives flagged")
    for kind, k in hard["kinds"].items():
        lines.append(f"  {kind:<34} {k['hits']}/{k['n']}")
    return lines


def _f(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"
