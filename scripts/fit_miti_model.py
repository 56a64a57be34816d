"""Fit the MITI turn coder and the MI-quality model on AnnoMI; print cross-validated agreement only.

    python scripts/fit_miti_model.py [--data-dir ../shared/data] [--out vigil/analysis/miti/models] [--folds 5]

Every figure printed (and stored in each artifact's `meta`) is out-of-fold. Sessions are split into
`--folds` folds stratified by MI quality, so a session's turns never straddle train and test. Each
fold is predicted by models fitted on the other folds only. The quality model learns from session
features (turn-model probabilities, the session text score) that models which had not seen those
sessions produced (an inner split of the training folds), and picks its class weight and threshold
inside the training folds. Predictions are pooled over the folds before scoring. The artifacts
written are then fitted on every session of the file. Deterministic: the same data gives the same
bytes. Needs scikit-learn (a test extra); the product reads the artifacts with numpy alone.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vigil.analysis.miti.miti import (
    ARTIFACTS,
    BEHAVIOUR_ARTIFACT,
    BEHAVIOURS,
    QUALITY_ARTIFACT,
    QUESTION_ARTIFACT,
    REFLECTION_ARTIFACT,
    SESSION_FEATURES,
    SESSION_TEXT_ARTIFACT,
    QualityModel,
    TurnCoder,
    TurnReading,
    counselor_text,
    counselor_turns,
    miti_counts,
    session_features,
    text_score,
    turn_features,
)
from vigil.analysis.text.textmodel import TextModel, fit_text_model
from vigil.analysis.text.turns import Turn, read_turns
from vigil.evaluation.dataset import read_dataset, turn_behaviours
from vigil.evaluation.scores import accuracy, binary_scores, cohen_kappa, macro_f1
from vigil.schemas.analysis import TurnCode

DATASET = "annomi/annomi-dev.jsonl"
TURN_MODEL_PARAMS: dict[str, Any] = {"ngram_max": 2, "max_features": 5000, "min_df": 2, "sublinear_tf": True,
                                     "c": 1.0, "class_weight": "balanced"}
SESSION_TEXT_PARAMS: dict[str, Any] = {**TURN_MODEL_PARAMS, "c": 1.0}
MITI_ONLY_FEATURES = tuple(name for name in SESSION_FEATURES if name != "counselor_text_score")
QUALITY_C = 1.0
CLASS_WEIGHTS: tuple[str | None, ...] = ("balanced", None)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.951, 0.05))
SEED = 0


@dataclass(frozen=True)
class CodedSession:
    """A dataset session read as the analyzer reads a transcript, with its expert codes beside it."""

    id: str
    turns: list[Turn]
    texts: list[str]  # per counselor turn, what the turn models read
    behaviours: list[str | None]
    questions: list[str | None]  # open / closed where coded
    reflections: list[str | None]  # simple / complex where coded
    expert: list[TurnCode]
    quality: str | None


def read_sessions(path: Path) -> list[CodedSession]:
    sessions = []
    for labelled in read_dataset(path):
        turns = read_turns(labelled.to_transcript().segments)
        labels = {label.index: label.model_extra or {} for label in labelled.labels.turns}
        behaviours = turn_behaviours(labelled)
        mine = counselor_turns(turns)
        indices = [t.turn.segment.index for t in mine]
        coded_behaviours = [behaviours.get(i) for i in indices]
        questions = [labels.get(i, {}).get("question") for i in indices]
        reflections = [labels.get(i, {}).get("reflection") for i in indices]
        expert = [TurnCode(segment_index=i, behaviour=b,  # type: ignore[arg-type]
                           subtype=q if b == "question" else r if b == "reflection" else None)
                  for i, b, q, r in zip(indices, coded_behaviours, questions, reflections, strict=True) if b]
        sessions.append(CodedSession(labelled.id, turns, [turn_features(t) for t in mine], coded_behaviours,
                                     questions, reflections, expert, labelled.labels.mi_quality))
    return sessions


# ---------------------------------------------------------------- fitting
def fit_coder(sessions: Sequence[CodedSession], meta: dict[str, Any] | None = None) -> TurnCoder:
    def fit(field: str, name: str) -> TextModel:
        pairs = [(text, label) for s in sessions for text, label in zip(s.texts, getattr(s, field), strict=True)
                 if label]
        return fit_text_model([t for t, _ in pairs], [label for _, label in pairs], **TURN_MODEL_PARAMS,
                              meta={**(meta or {}), "artifact": name})

    return TurnCoder(behaviour=fit("behaviours", "behaviour"), question=fit("questions", "question subtype"),
                     reflection=fit("reflections", "reflection subtype"))


def fit_session_text(sessions: Sequence[CodedSession], meta: dict[str, Any] | None = None) -> TextModel:
    rated = [s for s in sessions if s.quality]
    return fit_text_model([counselor_text(s.turns) for s in rated], [str(s.quality) for s in rated],
                          **SESSION_TEXT_PARAMS, meta={**(meta or {}), "artifact": "session text"})


def feature_rows(coder: TurnCoder, session_text: TextModel, sessions: Sequence[CodedSession]
                 ) -> tuple[list[TurnReading], np.ndarray]:
    readings = [coder.read(s.turns) for s in sessions]
    rows = [session_features(s.turns, r, text_score(session_text, s.turns)) for s, r in zip(sessions, readings,
                                                                                            strict=True)]
    return readings, np.array([[row[name] for name in SESSION_FEATURES] for row in rows], dtype=float)


def out_of_fold_features(sessions: Sequence[CodedSession], folds: int, seed: int) -> np.ndarray:
    """Session features from turn and text models that never saw the session (an inner split)."""
    x = np.zeros((len(sessions), len(SESSION_FEATURES)))
    for train, test in stratified_folds([s.quality for s in sessions], folds, seed):
        training = [sessions[i] for i in train]
        _, x[test] = feature_rows(fit_coder(training), fit_session_text(training), [sessions[i] for i in test])
    return x


def fit_logistic(x: np.ndarray, y: Sequence[str], class_weight: str | None) -> tuple[np.ndarray, np.ndarray, Any]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a constant feature carries nothing; do not blow it up
    model = LogisticRegression(C=QUALITY_C, class_weight=class_weight, max_iter=1000)
    model.fit((x - mean) / scale, [label == "high" for label in y])
    return mean, scale, model


def choose_quality_setting(x: np.ndarray, y: Sequence[str], folds: int) -> tuple[str | None, float, float]:
    """Class weight and threshold with the best out-of-fold kappa within these sessions: (weight, threshold, kappa)."""
    best: tuple[str | None, float, float] = (CLASS_WEIGHTS[0], 0.5, -2.0)
    for weight in CLASS_WEIGHTS:
        p_high = np.zeros(len(y))
        for train, test in stratified_folds(y, folds, SEED + 1):
            mean, scale, model = fit_logistic(x[train], [y[i] for i in train], weight)
            p_high[test] = model.predict_proba((x[test] - mean) / scale)[:, 1]
        for threshold in sorted(THRESHOLDS, key=lambda t: abs(t - 0.5)):  # ties go to the plainer threshold
            kappa = cohen_kappa(list(y), ["high" if p >= threshold else "low" for p in p_high])
            if kappa is not None and kappa > best[2]:
                best = (weight, threshold, kappa)
    return best


def fit_quality(x: np.ndarray, y: Sequence[str | None], folds: int, features: Sequence[str] = SESSION_FEATURES,
                meta: dict[str, Any] | None = None) -> QualityModel:
    """The session model on the rated sessions' rows of `x` (columns: `features` of SESSION_FEATURES)."""
    rated = [i for i, label in enumerate(y) if label]
    x = x[np.ix_(rated, [SESSION_FEATURES.index(name) for name in features])]
    labels = [str(y[i]) for i in rated]
    weight, threshold, inner_kappa = choose_quality_setting(x, labels, folds)
    mean, scale, model = fit_logistic(x, labels, weight)
    chosen = {"class_weight": weight, "threshold": threshold, "kappa_inner_cv": round(inner_kappa, 4)}
    return QualityModel(features=tuple(features), mean=mean, scale=scale, coef=model.coef_[0].copy(),
                        intercept=float(model.intercept_[0]), threshold=threshold,
                        meta={**(meta or {}), "artifact": "mi quality", "chosen_by_inner_cv": chosen})


def stratified_folds(labels: Sequence[str | None], folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    strata = [label or "unrated" for label in labels]
    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(strata)), strata))


# ---------------------------------------------------------------- measuring
def cross_validate(sessions: Sequence[CodedSession], folds: int) -> tuple[dict[str, Any], np.ndarray]:
    """Pooled out-of-fold figures, and the out-of-fold session features (what the final quality model learns from)."""
    codes: list[list[TurnCode]] = [[] for _ in sessions]
    x = np.zeros((len(sessions), len(SESSION_FEATURES)))
    subtypes: dict[str, tuple[list[str], list[str]]] = {"question": ([], []), "reflection": ([], [])}
    verdicts: dict[str, dict[int, str]] = {"mi_quality": {}, "mi_quality_without_text": {}}
    labels = [s.quality for s in sessions]
    for number, (train, test) in enumerate(stratified_folds(labels, folds, SEED), start=1):
        print(f"  fold {number}/{folds}: {len(train)} sessions to fit, {len(test)} to predict", file=sys.stderr)
        training = [sessions[i] for i in train]
        coder = fit_coder(training)
        readings, x[test] = feature_rows(coder, fit_session_text(training), [sessions[i] for i in test])
        for i, reading in zip(test, readings, strict=True):
            codes[i] = reading.codes
            s = sessions[i]
            for kind, model, coded in (("question", coder.question, s.questions),
                                       ("reflection", coder.reflection, s.reflections)):
                pairs = [(text, label) for text, label, b in zip(s.texts, coded, s.behaviours, strict=True)
                         if label and b == kind]
                if pairs:
                    subtypes[kind][0].extend(label for _, label in pairs)
                    subtypes[kind][1].extend(model.predict([text for text, _ in pairs]))
        inner_x = out_of_fold_features(training, folds, SEED + number)
        train_labels = [labels[i] for i in train]
        for name, features in (("mi_quality", SESSION_FEATURES), ("mi_quality_without_text", MITI_ONLY_FEATURES)):
            quality = fit_quality(inner_x, train_labels, folds, features)
            for i in test:
                if labels[i]:
                    row = dict(zip(SESSION_FEATURES, x[i], strict=True))
                    verdicts[name][i] = quality.verdict(row)[0]
    return {"folds": folds, "behaviour": behaviour_agreement(sessions, codes),
            **{f"{kind}_subtype": {"turns": len(truth), "accuracy": _round(accuracy(truth, guess))}
               for kind, (truth, guess) in subtypes.items()},
            **{name: quality_agreement(sessions, calls) for name, calls in verdicts.items()},
            "miti_summary": summary_agreement(sessions, codes)}, x


def behaviour_agreement(sessions: Sequence[CodedSession], codes: Sequence[Sequence[TurnCode]]) -> dict[str, Any]:
    truth: list[str] = []
    guess: list[str] = []
    for s, coded in zip(sessions, codes, strict=True):
        predicted = {c.segment_index: c.behaviour for c in coded}
        for code in s.expert:
            truth.append(code.behaviour)
            guess.append(predicted[code.segment_index])
    per_class = {b: _round(binary_scores([t == b for t in truth], [g == b for g in guess]).f1) for b in BEHAVIOURS}
    return {"turns": len(truth), "macro_f1": _round(macro_f1(truth, guess, BEHAVIOURS)),
            "accuracy": _round(accuracy(truth, guess)), "kappa": _round(cohen_kappa(truth, guess)), "f1": per_class}


def quality_agreement(sessions: Sequence[CodedSession], calls: dict[int, str]) -> dict[str, Any]:
    truth = [str(sessions[i].quality) for i in sorted(calls)]
    guess = [calls[i] for i in sorted(calls)]
    low = binary_scores([t == "low" for t in truth], [g == "low" for g in guess])
    majority = max(set(truth), key=truth.count) if truth else None
    return {"sessions": len(truth), "accuracy": _round(accuracy(truth, guess)),
            "kappa": _round(cohen_kappa(truth, guess)), "low_recall": _round(low.recall),
            "low_precision": _round(low.precision),
            "majority_class_accuracy": _round(accuracy(truth, [majority] * len(truth)))}


def summary_agreement(sessions: Sequence[CodedSession], codes: Sequence[Sequence[TurnCode]]) -> dict[str, Any]:
    """Per session, the MITI summary scores from predicted codes against those from the expert codes."""
    bands = {"reflection_to_question": (1.0, 2.0), "percent_complex_reflections": (40.0, 50.0),
             "percent_open_questions": (50.0, 70.0)}
    pairs: dict[str, list[tuple[float, float]]] = {name: [] for name in bands}
    for s, coded in zip(sessions, codes, strict=True):
        expert, predicted = miti_counts(s.expert), miti_counts(coded)
        for name in bands:
            a, b = getattr(expert, name), getattr(predicted, name)
            if a is not None and b is not None:
                pairs[name].append((a, b))
    figures: dict[str, Any] = {}
    for name, (fair, good) in bands.items():
        expert_values = np.array([a for a, _ in pairs[name]])
        predicted_values = np.array([b for _, b in pairs[name]])
        def band(values: np.ndarray, fair: float = fair, good: float = good) -> list[int]:
            return [int(v >= fair) + int(v >= good) for v in values]
        figures[name] = {
            "sessions": len(expert_values),
            "mae": _round(float(np.abs(expert_values - predicted_values).mean())) if len(expert_values) else None,
            # What saying the expert average for every session would score: the MAE to beat.
            "mae_predicting_the_mean": (_round(float(np.abs(expert_values - expert_values.mean()).mean()))
                                        if len(expert_values) else None),
            "pearson": _round(_pearson(expert_values, predicted_values)),
            "same_band": _round(accuracy(band(expert_values), band(predicted_values))),  # below fair / fair / good
            "expert_mean": _round(float(expert_values.mean())) if len(expert_values) else None}
    return figures


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


# ---------------------------------------------------------------- the run
def run(data_dir: Path, out: Path, folds: int) -> dict[str, Any]:
    import sklearn

    path = data_dir / DATASET
    sessions = read_sessions(path)
    print(f"{path}: {len(sessions)} sessions, {sum(len(s.expert) for s in sessions)} coded counselor turns; "
          f"{folds}-fold cross-validation", file=sys.stderr)
    cv, oof_features = cross_validate(sessions, folds)
    meta = {"data": {"file": DATASET, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                     "sessions": len(sessions), "coded_counselor_turns": cv["behaviour"]["turns"]},
            "params": {"turn_models": TURN_MODEL_PARAMS, "session_text_model": SESSION_TEXT_PARAMS,
                       "quality_c": QUALITY_C, "quality_features": list(SESSION_FEATURES),
                       "class_weights_tried": list(CLASS_WEIGHTS), "thresholds_tried": list(THRESHOLDS),
                       "seed": SEED},
            "cv": cv, "fitted_on": "every session of the data file, after cross-validation",
            "scikit_learn": sklearn.__version__}
    coder = fit_coder(sessions, meta)
    session_text = fit_session_text(sessions, meta)
    # The session model learns from features of sessions the turn and text models had not seen, as in use.
    quality = fit_quality(oof_features, [s.quality for s in sessions], folds, meta=meta)
    out.mkdir(parents=True, exist_ok=True)
    coder.behaviour.save(out / BEHAVIOUR_ARTIFACT)
    coder.question.save(out / QUESTION_ARTIFACT)
    coder.reflection.save(out / REFLECTION_ARTIFACT)
    session_text.save(out / SESSION_TEXT_ARTIFACT)
    quality.save(out / QUALITY_ARTIFACT)
    print_figures(cv)
    for name in ARTIFACTS:
        print(f"wrote {out / name} ({(out / name).stat().st_size / 1024:.0f} KiB)")
    return cv


def print_figures(cv: dict[str, Any]) -> None:
    b = cv["behaviour"]
    print(f"cross-validated ({cv['folds']} folds by session, pooled out-of-fold predictions)")
    print(f"  behaviour ({b['turns']} counselor turns): macro-F1 {b['macro_f1']}, accuracy {b['accuracy']}, "
          f"kappa {b['kappa']}; F1 " + ", ".join(f"{k} {v}" for k, v in b["f1"].items()))
    for kind in ("question", "reflection"):
        s = cv[f"{kind}_subtype"]
        print(f"  {kind} subtype (expert-coded {kind}s, {s['turns']}): accuracy {s['accuracy']}")
    for name, title in (("mi_quality", "MI quality"), ("mi_quality_without_text", "  without the text score")):
        q = cv[name]
        print(f"  {title} ({q['sessions']} sessions): accuracy {q['accuracy']}, kappa {q['kappa']}, "
              f"low recall {q['low_recall']}, low precision {q['low_precision']} "
              f"(always 'high': accuracy {q['majority_class_accuracy']})")
    for name, f in cv["miti_summary"].items():
        print(f"  {name} per session ({f['sessions']}): MAE {f['mae']} (saying the expert mean "
              f"{f['expert_mean']} every time: {f['mae_predicting_the_mean']}), r {f['pearson']}, "
              f"same MITI band {f['same_band']}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data-dir", type=Path, default=root.parent / "shared" / "data",
                        help=f"folder holding {DATASET}")
    parser.add_argument("--out", type=Path, default=root / "vigil" / "analysis" / "miti" / "models")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (2 for a quick check)")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    run(args.data_dir, args.out, args.folds)


if __name__ == "__main__":
    main()
