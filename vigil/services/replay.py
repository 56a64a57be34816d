"""Offline replay: a candidate analyzer, prompt version or rubric version re-run against history or a labelled set,
side by side with the tenant's active configuration, without touching production results.

Sources:
- a labelled-session JSONL file (`--dataset`): truth is the file's labels;
- the tenant's reviewed sessions since a date (`--since`): truth is supervisor-final — the latest analysis with
  every supervisor override applied (a reviewed session's fields the supervisor left alone count as confirmed).
  The baseline there is what production actually said (the stored analysis), not a re-run.

Only the risk-and-rubric task is replayed (summaries are not scored). Metrics are computed from the predictions
alone, so anyone holding the printed predictions and the labels can recompute them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.analysis.analyzers.base import Analyzer
from vigil.analysis.analyzers.registry import ANALYZERS, build_analyzer
from vigil.analysis.risk.sentence_risk import RiskSettings, SentenceRiskModel
from vigil.context import Context
from vigil.db.models import Analysis, ConfigVersion, ReplayRun, Review, Session
from vigil.errors import NotFound, ValidationFailure
from vigil.evaluation.dataset import read_dataset, turn_behaviours
from vigil.evaluation.scores import accuracy, cohen_kappa, macro_f1, multilabel_scores
from vigil.schemas.analysis import AnalysisResult, PromptSet, RiskAssessment, RubricDefinition
from vigil.schemas.api import ReplayRunDetail, ReplayRunOut
from vigil.schemas.enums import RiskCategory
from vigil.schemas.transcripts import AgentTranscript
from vigil.services.access import Action, Principal
from vigil.services.governance import active_config
from vigil.services.reviews import ai_values
from vigil.settings import Settings
from vigil.storage.base import TRANSCRIPT_AGENT_NAME, artifact_key
from vigil.transcription.agent import spoken_transcript

CATEGORIES = [c.value for c in RiskCategory]
BEHAVIOURS = ["question", "reflection", "therapist_input", "other"]


@dataclass(frozen=True)
class Case:
    """One session to replay: its transcript and what is known to be true about it."""

    id: str
    transcript: AgentTranscript
    risk: frozenset[str]
    mi_quality: str | None = None
    turns: dict[int, str] = field(default_factory=dict)
    rubric: dict[str, int] = field(default_factory=dict)
    production: dict[str, Any] | None = None  # the stored prediction, for --since baselines


@dataclass(frozen=True)
class Candidate:
    label: str
    analyzer: Analyzer
    rubric: RubricDefinition | None


# ------------------------------------------------------------------ predictions
def prediction(case_id: str, assessment: RiskAssessment | AnalysisResult) -> dict[str, Any]:
    return {"id": case_id,
            "risk": sorted({flag.category.value for flag in assessment.flags}),
            "mi_quality": assessment.miti.mi_quality if assessment.miti else None,
            "turns": [{"index": code.segment_index, "behaviour": code.behaviour} for code in assessment.turn_codes],
            "rubric": {score.key: score.score for score in assessment.rubric}}


def predict(candidate: Candidate, cases: Sequence[Case], workers: int = 4,
            progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """One prediction per case, in the cases' order; a case the analyzer fails on predicts nothing and says why."""

    def one(case: Case) -> dict[str, Any]:
        try:
            return prediction(case.id, candidate.analyzer.assess(case.transcript, candidate.rubric))
        except Exception as exc:  # reported per case; one bad case must not sink a replay of hundreds
            return {"id": case.id, "risk": [], "mi_quality": None, "turns": [], "rubric": {},
                    "error": f"{type(exc).__name__}: {exc}"[:300]}
        finally:
            if progress:
                progress(1)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="replay") as pool:
        return list(pool.map(one, cases))


# ------------------------------------------------------------------ metrics
def score(cases: Sequence[Case], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Risk P/R/F1 per category (and any), MI quality accuracy and kappa, per-turn behaviour accuracy, kappa and
    macro-F1, rubric item agreement — each over the cases that have that label."""
    by_id = {p["id"]: p for p in predictions}
    ordered = [by_id[case.id] for case in cases]
    risk = multilabel_scores([set(c.risk) for c in cases], [set(p["risk"]) for p in ordered], CATEGORIES)
    metrics: dict[str, Any] = {
        "sessions": len(cases),
        "errors": sum(1 for p in ordered if "error" in p),
        "risk": {name: s.as_dict() for name, s in risk.items()},
    }
    quality = [(c.mi_quality, p["mi_quality"] or "none") for c, p in zip(cases, ordered, strict=True) if c.mi_quality]
    if quality:
        truth, predicted = zip(*quality, strict=True)
        metrics["mi_quality"] = {"n": len(quality), "accuracy": _r(accuracy(truth, predicted)),
                                 "kappa": _r(cohen_kappa(truth, predicted))}
    turn_pairs = []
    for case, pred in zip(cases, ordered, strict=True):
        coded = {t["index"]: t["behaviour"] for t in pred["turns"]}
        turn_pairs.extend((label, coded.get(index, "none")) for index, label in sorted(case.turns.items()))
    if turn_pairs:
        truth, predicted = zip(*turn_pairs, strict=True)
        metrics["turns"] = {"n": len(turn_pairs), "accuracy": _r(accuracy(truth, predicted)),
                            "kappa": _r(cohen_kappa(truth, predicted)),
                            "macro_f1": _r(macro_f1(truth, predicted, BEHAVIOURS)),
                            "f1": {b: _r(macro_f1(truth, predicted, [b])) for b in BEHAVIOURS}}
    rubric: dict[str, dict[str, Any]] = {}
    keys = sorted({key for case in cases for key in case.rubric})
    for key in keys:
        pairs = [(c.rubric[key], p["rubric"].get(key, -1)) for c, p in zip(cases, ordered, strict=True)
                 if key in c.rubric]
        truth, predicted = zip(*pairs, strict=True)
        rubric[key] = {"n": len(pairs), "accuracy": _r(accuracy(truth, predicted)),
                       "kappa": _r(cohen_kappa(truth, predicted))}
    if rubric:
        metrics["rubric"] = rubric
    return metrics


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# ------------------------------------------------------------------ sources
def dataset_cases(path: Path) -> list[Case]:
    return [Case(id=s.id, transcript=s.to_transcript(), risk=frozenset(c.value for c in s.labels.risk),
                 mi_quality=s.labels.mi_quality, turns=turn_behaviours(s)) for s in read_dataset(path)]


def history_cases(ctx: Context, db: DbSession, tenant_id: uuid.UUID, since: datetime) -> list[Case]:
    """The tenant's reviewed sessions analysed since `since`, with supervisor-final labels."""
    sessions = db.scalars(sa.select(Session).where(
        Session.tenant_id == tenant_id, Session.reviewed_at.is_not(None), Session.analysis_ready_at >= since)
        .order_by(Session.created_at)).all()
    cases = []
    for session in sessions:
        analysis = db.scalar(sa.select(Analysis)
                             .where(Analysis.session_id == session.id, Analysis.tenant_id == tenant_id)
                             .order_by(Analysis.analysis_version.desc()).limit(1))
        key = artifact_key(tenant_id, session.id, TRANSCRIPT_AGENT_NAME)
        if analysis is None or not ctx.store.exists(key):
            continue
        result = AnalysisResult.model_validate(analysis.result)
        final = ai_values(result)
        for review in db.scalars(sa.select(Review).where(Review.session_id == session.id,
                                                         Review.tenant_id == tenant_id).order_by(Review.created_at)):
            final[review.field] = review.human_value["value"]
        cases.append(Case(
            id=str(session.id),
            transcript=spoken_transcript(AgentTranscript.model_validate_json(ctx.store.get_bytes(key))),
            risk=frozenset(c for c in CATEGORIES if final.get(f"flag.{c}") in ("flagged", "confirmed")),
            mi_quality=final.get("mi_quality"),
            rubric={k.removeprefix("rubric."): v for k, v in final.items() if k.startswith("rubric.")},
            production=prediction(str(session.id), result)))
    return cases


# ------------------------------------------------------------------ candidates
def resolve_candidate(name: str, settings: Settings, db: DbSession, tenant_id: uuid.UUID) -> Candidate:
    """`active` (the tenant's configuration), an analyzer name (offline, openai) with the tenant's active rubric,
    or a stored prompt, rubric or risk-model version of the tenant's (a risk model at the tenant's sensitivity)."""
    config = active_config(db, tenant_id)
    if name == "active":
        analyzer = build_analyzer(settings).with_risk_settings(config.risk)
        if config.prompts is not None and config.prompt_version:
            analyzer = analyzer.with_prompts(config.prompts, config.prompt_version)
        label = f"active ({settings.analyzer}, {config.prompt_version or 'built-in prompt'}, " \
                f"{config.rubric_version or 'built-in rubric'}, {config.risk.model_version or 'shipped risk model'}" \
                f" at {config.risk.sensitivity})"
        return Candidate(label, analyzer, config.rubric)
    if name in ANALYZERS:
        return Candidate(name, build_analyzer(settings.model_copy(update={"analyzer": name})), config.rubric)
    row = db.scalar(sa.select(ConfigVersion).where(ConfigVersion.tenant_id == tenant_id,
                                                   ConfigVersion.version == name))
    if row is None:
        raise NotFound(f"no analyzer or stored version called {name!r} (analyzers: {', '.join(sorted(ANALYZERS))}; "
                       "versions: see GET /api/v1/tenants/{id}/config-versions)")
    if row.kind == "rubric":
        return Candidate(name, build_analyzer(settings), RubricDefinition.model_validate(row.content))
    if row.kind == "risk_model":
        risk = RiskSettings(SentenceRiskModel.from_payload(row.content), name, config.risk.sensitivity)
        analyzer = build_analyzer(settings).with_risk_settings(risk)
        return Candidate(f"{name} (risk model at {risk.sensitivity})", analyzer, config.rubric)
    if settings.analyzer == "offline":
        raise ValidationFailure(f"{name} is a prompt version; prompts need a model analyzer (ANALYZER=openai)")
    return Candidate(name, build_analyzer(settings).with_prompts(PromptSet.model_validate(row.content), name),
                     config.rubric)


def _identity(candidate: Candidate) -> tuple[str, str | None, str | None, str | None, str | None]:
    """What decides a candidate's predictions: analyzer, prompt version, rubric content, risk model and sensitivity."""
    rubric = candidate.rubric.model_dump_json() if candidate.rubric else None
    risk = getattr(candidate.analyzer, "risk", None)
    return (candidate.analyzer.name, getattr(candidate.analyzer, "prompt_version", None), rubric,
            getattr(risk, "model_version", None), getattr(risk, "sensitivity", None))


ANALYSIS = Path(__file__).resolve().parents[1] / "analysis"
MODEL_DIRS = (ANALYSIS / "risk" / "models", ANALYSIS / "miti" / "models")  # every shipped model artifact


def artifacts_fitted_on(path: Path, *models_dirs: Path) -> list[str]:
    """The shipped model artifacts (in `models_dirs`, default every shipped one) whose recorded training data is
    this very file (same sha256): figures on it are in-sample for those parts and must not be reported as the
    analyzer's accuracy."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return sorted(artifact.name for directory in (models_dirs or MODEL_DIRS) for artifact in directory.glob("*.json.gz")
                  if digest in _hashes(json.loads(gzip.decompress(artifact.read_bytes())).get("meta", {})))


def _hashes(value: Any) -> set[str]:
    """Every sha256-shaped string anywhere in an artifact's meta (artifacts record their data files' hashes)."""
    if isinstance(value, dict):
        return {h for item in value.values() for h in _hashes(item)}
    if isinstance(value, list):
        return {h for item in value for h in _hashes(item)}
    return {value.lower()} if isinstance(value, str) and _SHA256.fullmatch(value) else set()


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


# ------------------------------------------------------------------ the run
@dataclass
class ReplayOutcome:
    run_id: uuid.UUID | None
    metrics: dict[str, Any]
    predictions: list[dict[str, Any]]
    baseline_predictions: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "predictions": self.predictions}


def replay(ctx: Context, tenant_id: uuid.UUID, candidate_name: str, *, dataset: Path | None = None,
           since: datetime | None = None, workers: int = 4, store: bool = True,
           progress: Callable[[int], None] | None = None) -> ReplayOutcome:
    if (dataset is None) == (since is None):
        raise ValidationFailure("give exactly one of --dataset or --since")
    started = time.perf_counter()
    with ctx.tenant_db(tenant_id) as db:
        candidate = resolve_candidate(candidate_name, ctx.settings, db, tenant_id)
        if dataset is not None:
            cases, source = dataset_cases(dataset), f"dataset:{dataset}"
            baseline = resolve_candidate("active", ctx.settings, db, tenant_id)
        else:
            assert since is not None
            cases, source = history_cases(ctx, db, tenant_id, since), f"since:{since.isoformat()}"
            baseline = None
    predictions = predict(candidate, cases, workers, progress)
    if baseline is not None:
        baseline_label = baseline.label
        same = _identity(baseline) == _identity(candidate)
        baseline_predictions = predictions if same else predict(baseline, cases, workers)
    else:
        baseline_label = "production (stored analyses)"
        baseline_predictions = [case.production or {} for case in cases]
    metrics = {"candidate": {"name": candidate.label, **score(cases, predictions)},
               "baseline": {"name": baseline_label, **score(cases, baseline_predictions)},
               "source": source, "seconds": round(time.perf_counter() - started, 2),
               "in_sample_artifacts": artifacts_fitted_on(dataset) if dataset is not None else []}
    run_id = None
    if store:
        with ctx.tenant_db(tenant_id) as db:
            run = ReplayRun(tenant_id=tenant_id, candidate=candidate.label[:200], baseline=baseline_label[:200],
                            source=source[:1000], session_count=len(cases), duration_seconds=metrics["seconds"],
                            metrics=metrics, predictions={"candidate": predictions, "baseline": baseline_predictions})
            db.add(run)
            db.commit()
            run_id = run.id
        metrics["run_id"] = str(run_id)
    return ReplayOutcome(run_id, metrics, predictions, baseline_predictions)


# ---------------------------------------------------------------- stored runs, read by the tenant's readers
def _out(run: ReplayRun) -> ReplayRunOut:
    return ReplayRunOut(id=run.id, candidate=run.candidate, baseline=run.baseline, source=run.source,
                        session_count=run.session_count, duration_seconds=run.duration_seconds, metrics=run.metrics,
                        created_at=run.created_at)


def list_runs(db: DbSession, principal: Principal, limit: int = 50) -> list[ReplayRunOut]:
    principal.require(Action.read_content)
    runs = db.scalars(sa.select(ReplayRun).where(ReplayRun.tenant_id == principal.tenant_id)
                      .order_by(ReplayRun.created_at.desc()).limit(limit))
    return [_out(run) for run in runs]


def get_run(db: DbSession, principal: Principal, run_id: uuid.UUID) -> ReplayRunDetail:
    principal.require(Action.read_content)
    run = db.scalar(sa.select(ReplayRun).where(ReplayRun.id == run_id, ReplayRun.tenant_id == principal.tenant_id))
    if run is None:
        raise NotFound("replay run not found")
    return ReplayRunDetail(**_out(run).model_dump(), predictions=run.predictions)
