"""Fitting the sentence risk model (`sentence_risk.py`): every setting chosen by cross-validation inside the data
it is given, which never includes the locked part (`vigil.evaluation.split`).

Per category, a logistic regression on sentence vectors learns from session labels (each sentence inherits its
session's label, each session weighs 1 in all, a written sentence `SEED_WEIGHT`); optionally a second pass keeps,
in each at-risk session, only the sentences the first pass scored highest (multiple-instance refinement). A
session's score is the mean of its `top_k` best sentence logits. An inner cross-validation picks C, refinement
and top_k by average precision, fits the Platt calibration on out-of-fold session scores, and sets the
thresholds there (`choose_thresholds`): recall first within a false-flag budget on counseling sessions without
risk. `outer_cv` wraps that in an outer cross-validation for the figures.

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

from vigil.analysis.risk.encoder import shipped_encoder
from vigil.analysis.risk.plain_reading import model_sentences
from vigil.analysis.risk.risk_detection import find_risk_hits, flags_from_hits
from vigil.analysis.risk.sentence_risk import NEVER, Head, SentenceEncoder, SentenceRiskModel, top_k_mean
from vigil.analysis.risk.training.risk_seeds import SEEDS
from vigil.analysis.text.turns import read_turns
from vigil.evaluation.dataset import LabelledSession, read_dataset
from vigil.evaluation.scores import binary_scores
from vigil.evaluation.split import development
from vigil.schemas.enums import RiskCategory
from vigil.schemas.transcripts import AgentTranscript

SHARED_SETS = {"cssrs": "cssrs/cssrs-dev.jsonl", "annomi": "annomi/annomi-dev.jsonl"}
WRITTEN_SESSIONS = Path(__file__).parent / "training" / "risk-dev-sessions.jsonl"  # all development: never split
COUNSELING_SOURCES = ("annomi", "written", "reviews")  # sessions like the product's, for the false-flag budget
CATEGORIES = [RiskCategory.suicidal_ideation, RiskCategory.self_harm, RiskCategory.harm_to_others,
              RiskCategory.abuse_disclosure, RiskCategory.substance_crisis]
GRID = [{"c": c, "refine": refine} for c in (0.5, 4.0) for refine in (False, True)]
# One sentence is enough: a session is scored by its best sentence, since a single disclosure among ordinary talk
# must flag. (Letting CV choose the mean of the best three favoured long Reddit posts full of risk talk, and missed
# a single "I took a razor to my thighs again" among talk of the garden.)
TOP_KS = (1,)
SEED_WEIGHT = 3.0
RECALL_TARGET = 0.95
# Fewer at-risk sessions than this and recall cannot be measured, so no threshold is set: the model does not flag
# the category on its own (the rules still do), until a tenant's reviews bring enough (`vigil fit --from-reviews`).
MIN_POSITIVES_FOR_RECALL = 30
COUNSELING_FALSE_FLAGS = {"high": 0.05, "balanced": 0.01}  # of counseling sessions without risk, at most


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
    texts = [s.text for s in model_sentences(turns)]
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


def session_scores(sessions: Sequence[FitSession], coef: np.ndarray, bias: float, top_k: int,
                   pad: float) -> np.ndarray:
    out = np.full(len(sessions), -20.0)
    for i, session in enumerate(sessions):
        if len(session.vectors):
            out[i] = top_k_mean(session.vectors @ coef + bias, top_k, pad)
    return out


def pad_logit(sessions: Sequence[FitSession], category: RiskCategory, coef: np.ndarray, bias: float) -> float:
    """The median sentence logit of the sessions without this risk: what an ordinary sentence scores."""
    rows = [s.vectors for s in sessions if category not in s.labels and len(s.vectors)]
    return float(np.median(np.concatenate(rows) @ coef + bias)) if rows else float(bias)


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
            pad = pad_logit([sessions[j] for j in train], category, coef, bias)
            for k in TOP_KS:
                oof[(i, k)][test] = session_scores(held, coef, bias, k, pad)
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
    pad = round(pad_logit(sessions, category, coef, bias), 6)
    chosen = {**GRID[best_i], "top_k": best_k, "inner_average_precision": round(ap[best], 4),
              "at_risk_sessions": int(truth.sum()), "flags_alone": thresholds["high"] < NEVER}
    return Head(coef, bias, best_k, calibrations[best], thresholds, doc_coef, doc_bias, pad), chosen


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
    """Recall first, within a false-flag budget on counseling sessions without risk (AnnoMI, the written hard
    negatives, a tenant's dismissed sessions): `high` keeps recall >= 0.95 of at-risk sessions unless that flags
    more than 5 % of them, `balanced` maximises F1 and flags at most 1 %. Without the budget, recall-first flags
    two thirds of ordinary counseling sessions (measured on the development part: 52 of 78 AnnoMI sessions and 84
    of 100 written hard negatives), and a queue where everything is flagged protects nobody."""
    floor = {name: float(np.quantile(probabilities[counseling_negatives], 1.0 - rate)) + 1e-6
             for name, rate in COUNSELING_FALSE_FLAGS.items()} if counseling_negatives.any() else \
        dict.fromkeys(COUNSELING_FALSE_FLAGS, 0.0)
    return {name: max(value, floor[name]) for name, value in _recall_thresholds(probabilities, truth).items()}


def _recall_thresholds(probabilities: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    if truth.sum() < MIN_POSITIVES_FOR_RECALL:
        return dict.fromkeys(("high", "balanced"), NEVER)
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


