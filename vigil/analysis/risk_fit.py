"""Fitting the sentence risk model (`sentence_risk.py`): every setting chosen by cross-validation inside the data
it is given, which never includes the locked part (`vigil.evaluation.split`).

Per category, a logistic regression on sentence vectors learns from session labels (each sentence inherits its
session's label, each session weighs 1 in all, a written sentence `SEED_WEIGHT`); optionally a second pass keeps,
in each at-risk session, only the sentences the first pass scored highest (multiple-instance refinement). A
session's score is the mean of its `top_k` best sentence logits. An inner cross-validation picks C, refinement
and top_k by average precision, fits the Platt calibration on out-of-fold session scores, and sets the
thresholds there: `high` (recall first) is the highest that keeps recall >= 0.95 of at-risk sessions, whatever
it costs in false flags; `balanced` maximises F1 and flags at most 5 % of the counseling sessions without risk
(AnnoMI and the written hard negatives). `outer_cv` wraps that in an outer cross-validation for the figures.

Used by `scripts/fit_risk_sentences.py` (the shipped model, on the development part of ../shared/data and the
written sets in `training/`) and `vigil fit --from-reviews` (a tenant's model, adding its reviewed sessions).
Needs scikit-learn.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold

from vigil.analysis.encoder import shipped_encoder
from vigil.analysis.risk_detection import find_risk_hits, flags_from_hits
from vigil.analysis.sentence_risk import Head, SentenceEncoder, SentenceRiskModel, scored_sentences
from vigil.analysis.training.risk_seeds import SEEDS
from vigil.analysis.turns import read_turns
from vigil.evaluation.dataset import LabelledSession, read_dataset
from vigil.evaluation.metrics import binary_scores
from vigil.evaluation.split import development
from vigil.schemas import AgentTranscript, RiskCategory

SHARED_SETS = {"cssrs": "cssrs/cssrs-dev.jsonl", "annomi": "annomi/annomi-dev.jsonl"}
WRITTEN_SESSIONS = Path(__file__).parent / "training" / "risk-dev-sessions.jsonl"  # all development: never split
COUNSELING_SOURCES = ("annomi", "written", "reviews")  # sessions like the product's, for the false-flag budget
CATEGORIES = [RiskCategory.suicidal_ideation, RiskCategory.self_harm, RiskCategory.harm_to_others,
              RiskCategory.abuse_disclosure, RiskCategory.substance_crisis]
GRID = [{"c": c, "refine": refine} for c in (0.5, 4.0) for refine in (False, True)]
TOP_KS = (1, 3)
SEED_WEIGHT = 3.0
RECALL_TARGET = 0.95
MIN_POSITIVES_FOR_RECALL = 5  # fewer at-risk sessions than this: thresholds from the false-flag rate instead
FALSE_FLAG_RATE = {"high": 0.03, "balanced": 0.01}
BALANCED_FALSE_FLAGS = 0.05  # of counseling sessions without risk, at most, under `balanced`


@dataclass(frozen=True)
class FitSession:
    id: str
    source: str
    labels: frozenset[RiskCategory]
    vectors: np.ndarray  # (sentences, 384)
    rule_categories: frozenset[RiskCategory]


# ------------------------------------------------------------------ data
def session_of(transcript: AgentTranscript, session_id: str, source: str, labels: Iterable[RiskCategory],
               encoder: SentenceEncoder) -> FitSession:
    """A session as the fit sees it: its scored sentences' vectors (what the product scores), its labels, and the
    categories the rules flag (for the figures)."""
    turns = read_turns(transcript.segments)
    texts = [s.sentence.text for s in scored_sentences(turns)]
    rules = frozenset(flag.category for flag in flags_from_hits(find_risk_hits(turns)))
    return FitSession(session_id, source, frozenset(labels), encoder.encode(texts), rules)


def _of_record(record: LabelledSession, source: str, encoder: SentenceEncoder) -> FitSession:
    return session_of(record.to_transcript(), record.id, source, record.labels.risk, encoder)


def written_sessions(encoder: SentenceEncoder | None = None) -> list[FitSession]:
    encoder = encoder or shipped_encoder()
    return [_of_record(record, "written", encoder) for record in read_dataset(WRITTEN_SESSIONS)]


def shared_sessions(data_dir: Path, encoder: SentenceEncoder | None = None) -> tuple[list[FitSession], dict[str, str]]:
    """The development part of ../shared/data's sets that are present under `data_dir` (none: empty), with the
    sha256 of each file read."""
    encoder = encoder or shipped_encoder()
    sessions: list[FitSession] = []
    hashes = {}
    for source, name in SHARED_SETS.items():
        path = data_dir / name
        if not path.exists():
            continue
        hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        sessions += [_of_record(record, source, encoder) for record in development(read_dataset(path))]
        print(f"  {name}: {sum(s.source == source for s in sessions)} development sessions", file=sys.stderr)
    return sessions, hashes


def written_hashes() -> dict[str, str]:
    return {WRITTEN_SESSIONS.name: hashlib.sha256(WRITTEN_SESSIONS.read_bytes()).hexdigest()}


def seed_set() -> tuple[np.ndarray, list[frozenset[RiskCategory]], list[str | None]]:
    vectors = shipped_encoder().encode([text for text, *_ in SEEDS])
    return vectors, [frozenset(RiskCategory(c) for c in cats) for _, cats, _, _ in SEEDS], [s for _, _, s, _ in SEEDS]


# ------------------------------------------------------------------ one head
def fit_weights(sessions: Sequence[FitSession], category: RiskCategory, seeds: tuple, c: float,
                refine: bool) -> tuple[np.ndarray, float]:
    seed_vectors, seed_labels, _ = seeds
    rows, labels, weights = [seed_vectors], [np.array([category in s for s in seed_labels])], \
        [np.full(len(seed_vectors), SEED_WEIGHT)]
    for session in sessions:
        if len(session.vectors):
            rows.append(session.vectors)
            labels.append(np.full(len(session.vectors), category in session.labels))
            weights.append(np.full(len(session.vectors), 1.0 / len(session.vectors)))
    x, y, w = np.concatenate(rows), np.concatenate(labels), np.concatenate(weights)
    model = _logistic(x, y, w, c)
    if refine:  # keep, in each at-risk session, only its three best sentences as positives
        coef, bias = model.coef_[0], model.intercept_[0]
        rows, labels, weights = [seed_vectors], [np.array([category in s for s in seed_labels])], \
            [np.full(len(seed_vectors), SEED_WEIGHT)]
        for session in sessions:
            if not len(session.vectors):
                continue
            if category in session.labels:
                best = np.argsort(session.vectors @ coef + bias)[::-1][:3]
                rows.append(session.vectors[best])
                labels.append(np.ones(len(best), bool))
                weights.append(np.full(len(best), 1.0 / len(best)))
            else:
                rows.append(session.vectors)
                labels.append(np.zeros(len(session.vectors), bool))
                weights.append(np.full(len(session.vectors), 1.0 / len(session.vectors)))
        model = _logistic(np.concatenate(rows), np.concatenate(labels), np.concatenate(weights), c)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def _logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> LogisticRegression:
    positive = w[y].sum()
    balanced = np.where(y, w / max(positive, 1e-9), w / max(w[~y].sum(), 1e-9)) * len(y) / 2
    return LogisticRegression(C=c, max_iter=2000).fit(x, y, sample_weight=balanced)


def session_scores(sessions: Sequence[FitSession], coef: np.ndarray, bias: float, top_k: int) -> np.ndarray:
    out = np.full(len(sessions), -20.0)
    for i, session in enumerate(sessions):
        if len(session.vectors):
            logits = np.sort(session.vectors @ coef + bias)[::-1][:top_k]
            out[i] = logits.mean()
    return out


def session_means(sessions: Sequence[FitSession]) -> np.ndarray:
    return np.stack([s.vectors.mean(axis=0) if len(s.vectors) else np.zeros(384, np.float32) for s in sessions])


def fit_document_head(sessions: Sequence[FitSession], category: RiskCategory, seeds: tuple) -> tuple[np.ndarray, float]:
    """A linear head on the session's mean sentence vector: what the session is about as a whole."""
    seed_vectors, seed_labels, _ = seeds
    x = np.concatenate([seed_vectors, session_means(sessions)])
    y = np.array([category in s for s in seed_labels] + [category in s.labels for s in sessions])
    w = np.concatenate([np.full(len(seed_vectors), SEED_WEIGHT / 10), np.ones(len(sessions))])
    if y.all() or not y.any():
        return np.zeros(384, np.float32), 0.0
    model = _logistic(x, y, w, 1.0)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def calibration_features(sessions: Sequence[FitSession], sentence: np.ndarray, document: np.ndarray) -> np.ndarray:
    """[top-k sentence score, document logit, log(1 + sentences)]: a long session's best sentence scores
    higher by chance alone, so the calibration sees the length."""
    return np.column_stack([sentence, document, np.log1p([len(s.vectors) for s in sessions])])


def folds(sessions: Sequence[FitSession], category: RiskCategory, n: int, seed: int) -> list[tuple[list, list]]:
    strata = [f"{s.source}:{category in s.labels}:{bool(s.labels)}" for s in sessions]
    counts = {k: strata.count(k) for k in set(strata)}
    strata = [k if counts[k] >= n else f"{k.split(':')[0]}:rare" for k in strata]
    splitter = StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)
    return [(list(a), list(b)) for a, b in splitter.split(np.zeros(len(sessions)), strata)]


def fit_head(sessions: Sequence[FitSession], category: RiskCategory, seeds: tuple, inner: int,
             seed: int) -> tuple[Head, dict[str, Any]]:
    """Choose settings by inner CV on `sessions`, calibrate and set thresholds on inner out-of-fold scores,
    then fit the weights on all of `sessions`."""
    truth = np.array([category in s.labels for s in sessions])
    oof = {(i, k): np.zeros(len(sessions)) for i in range(len(GRID)) for k in TOP_KS}
    document = np.zeros(len(sessions))
    for train, test in folds(sessions, category, inner, seed):
        held = [sessions[j] for j in test]
        doc_coef, doc_bias = fit_document_head([sessions[j] for j in train], category, seeds)
        document[test] = session_means(held) @ doc_coef + doc_bias
        for i, params in enumerate(GRID):
            coef, bias = fit_weights([sessions[j] for j in train], category, seeds, **params)
            for k in TOP_KS:
                oof[(i, k)][test] = session_scores(held, coef, bias, k)
    features = {key: calibration_features(sessions, scores, document) for key, scores in oof.items()}
    calibrations = {key: platt(f, truth) for key, f in features.items()}
    probabilities = {key: calibrated(features[key], calibrations[key]) for key in oof}
    enough = truth.sum() >= 2
    ap = {key: average_precision_score(truth, p) if enough else 0.0 for key, p in probabilities.items()}
    best = max(ap, key=lambda key: (ap[key], -key[0], -key[1]))  # ties: smaller C, no refine, top 1
    best_i, best_k = best
    counseling_negatives = np.array([s.source in COUNSELING_SOURCES and not s.labels for s in sessions])
    thresholds = choose_thresholds(probabilities[best], truth, counseling_negatives)
    coef, bias = fit_weights(sessions, category, seeds, **GRID[best_i])
    doc_coef, doc_bias = fit_document_head(sessions, category, seeds)
    chosen = {**GRID[best_i], "top_k": best_k, "inner_average_precision": round(ap[best], 4)}
    return Head(coef, bias, best_k, calibrations[best], thresholds, doc_coef, doc_bias), chosen


def platt(features: np.ndarray, truth: np.ndarray) -> tuple[float, ...]:
    """Logistic calibration on out-of-fold session features: (coefficients..., intercept)."""
    if truth.sum() == 0 or truth.all():
        return (1.0, 0.0, 0.0, 0.0)
    model = LogisticRegression(C=10.0, max_iter=1000).fit(features, truth)
    return (*map(float, model.coef_[0]), float(model.intercept_[0]))


def calibrated(features: np.ndarray, calibration: tuple[float, ...]) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(features @ np.asarray(calibration[:-1]) + calibration[-1])))


def choose_thresholds(probabilities: np.ndarray, truth: np.ndarray,
                      counseling_negatives: np.ndarray) -> dict[str, float]:
    """`high`: recall first, whatever it costs in false flags (a supervisor dismisses one in seconds; a missed
    disclosure may cost a life). `balanced`: the F1-best threshold, no lower than `high`'s, raised until it flags
    at most 5 % of the counseling sessions without risk."""
    thresholds = _recall_thresholds(probabilities, truth)
    if counseling_negatives.any():
        floor = float(np.quantile(probabilities[counseling_negatives], 1.0 - BALANCED_FALSE_FLAGS)) + 1e-6
        thresholds["balanced"] = max(thresholds["balanced"], floor)
    return thresholds


def _recall_thresholds(probabilities: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    negatives = np.sort(probabilities[~truth])
    if truth.sum() < MIN_POSITIVES_FOR_RECALL:
        return {name: float(np.quantile(negatives, 1.0 - rate)) + 1e-6 if len(negatives) else 0.5
                for name, rate in FALSE_FLAG_RATE.items()}
    positives = np.sort(probabilities[truth])
    allowed_misses = int(np.floor((1.0 - RECALL_TARGET) * len(positives)))
    high = float(positives[allowed_misses]) - 1e-6
    candidates = np.unique(probabilities)
    f1 = [binary_scores(list(truth), list(probabilities >= t)).f1 or 0.0 for t in candidates]
    balanced = float(candidates[int(np.argmax(f1))])
    return {"high": high, "balanced": max(balanced, high)}


# ------------------------------------------------------------------ severity
def level_centroids(seeds: tuple) -> dict[RiskCategory, dict[str, np.ndarray]]:
    vectors, labels, levels = seeds
    out: dict[RiskCategory, dict[str, np.ndarray]] = {}
    for category in CATEGORIES:
        by_level: dict[str, np.ndarray] = {}
        for level in ("low", "medium", "high"):
            rows = [vectors[i] for i in range(len(labels)) if category in labels[i] and levels[i] == level]
            if rows:
                mean = np.mean(rows, axis=0)
                by_level[level] = (mean / np.linalg.norm(mean)).astype(np.float32)
        out[category] = by_level
    return out


# ------------------------------------------------------------------ the whole model and its evaluation
def fit_model(sessions: Sequence[FitSession], seeds: tuple, inner: int, seed: int) -> tuple[SentenceRiskModel, dict]:
    heads, chosen = {}, {}
    for category in CATEGORIES:
        heads[category], chosen[category.value] = fit_head(sessions, category, seeds, inner, seed)
    return SentenceRiskModel(heads, level_centroids(seeds), {}), chosen


def probability(head: Head, session: FitSession) -> float:
    return head.session_probability(session.vectors @ head.weights + head.bias, head.document_logit(session.vectors))


def flagged(model: SentenceRiskModel, session: FitSession, sensitivity: str) -> frozenset[RiskCategory]:
    return frozenset(category for category, head in model.heads.items()
                     if len(session.vectors) and probability(head, session) >= head.thresholds[sensitivity])


def outer_cv(sessions: list[FitSession], seeds: tuple, outer: int, inner: int, seed: int) -> dict[str, Any]:
    predictions: dict[str, dict[str, frozenset[RiskCategory]]] = {}
    probabilities: list[tuple[float, bool]] = []
    for number, (train, test) in enumerate(folds(sessions, RiskCategory.suicidal_ideation, outer, seed), 1):
        model, _ = fit_model([sessions[i] for i in train], seeds, inner, seed)
        head = model.heads[RiskCategory.suicidal_ideation]
        for i in test:
            s = sessions[i]
            predictions[s.id] = {sens: flagged(model, s, sens) for sens in ("high", "balanced")}
            probabilities.append((probability(head, s), RiskCategory.suicidal_ideation in s.labels))
        print(f"  outer fold {number}/{outer} done", file=sys.stderr)
    return {"figures": figures(sessions, predictions), "calibration": calibration_table(probabilities)}


def figures(sessions: Sequence[FitSession], predictions: dict[str, dict[str, frozenset[RiskCategory]]]) -> dict:
    out: dict[str, Any] = {}
    for source in sorted({s.source for s in sessions}):
        group = [s for s in sessions if s.source == source]
        for way in ("high", "balanced", "rules", "high+rules"):
            def predicted(s: FitSession, way: str = way) -> frozenset[RiskCategory]:
                if way == "rules":
                    return s.rule_categories
                if way == "high+rules":
                    return predictions[s.id]["high"] | s.rule_categories
                return predictions[s.id][way]
            row = {"any_risk": binary_scores([bool(s.labels) for s in group],
                                             [bool(predicted(s)) for s in group]).as_dict()}
            for category in CATEGORIES:
                if any(category in s.labels for s in group):
                    row[category.value] = binary_scores([category in s.labels for s in group],
                                                        [category in predicted(s) for s in group]).as_dict()
            out[f"{source}/{way}"] = row
    return out


def calibration_table(pairs: list[tuple[float, bool]], bins: int = 5) -> dict[str, Any]:
    """Reliability of the out-of-fold suicidal-ideation probabilities, and the expected calibration error."""
    table, error = [], 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(p, t) for p, t in pairs if low <= p < high or (b == bins - 1 and p == 1.0)]
        if inside:
            mean_p = float(np.mean([p for p, _ in inside]))
            rate = float(np.mean([t for _, t in inside]))
            table.append({"bin": f"{low:.1f}-{high:.1f}", "n": len(inside), "mean_p": round(mean_p, 3),
                          "observed": round(rate, 3)})
            error += len(inside) / len(pairs) * abs(mean_p - rate)
    return {"bins": table, "ece": round(error, 4)}


