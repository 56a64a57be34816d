"""Fit the offline risk model (`vigil/analysis/risk_model.py`) and say how well it does, honestly.

    python scripts/fit_risk_model.py [--data-dir ../shared/data] [--out vigil/analysis/models/risk-cssrs.json.gz]
                                     [--folds 5] [--seed 0]

Data: Reddit C-SSRS users (clinician-rated suicide risk) and AnnoMI counseling sessions (mostly hard
negatives), from `--data-dir`; nothing is copied into the repository. Figures are cross-validated
only: sessions are split into stratified folds (by source and label); for each held-out fold the
model is fitted on the others, where an inner cross-validation gives the stackers out-of-fold text
scores and picks the thresholds. The held-out sessions then go through the same `combine_flags`
the product runs. Pooled out-of-fold flags give P/R/F1 per set; the artifact is then fitted on all
the data, and the figures, parameters and the data files' sha256 go into its `meta`.

Needs scikit-learn (the `test` extra); the product reads the artifact with numpy alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vigil.analysis.risk_detection import RiskHit, combine_flags, find_risk_hits, flags_from_hits
from vigil.analysis.risk_model import (
    ANY_RISK,
    BEHAVIOR,
    IDEATION,
    MODEL_PATH,
    NONE,
    SELF_HARM,
    ClientTalk,
    RiskModel,
    RuleSummary,
    Stacker,
    judges,
    stack_features,
)
from vigil.analysis.textmodel import fit_text_model
from vigil.analysis.turns import Turn, read_turns
from vigil.evaluation.dataset import read_dataset
from vigil.evaluation.metrics import BinaryScores, multilabel_scores
from vigil.schemas import RiskCategory

SETS = {"cssrs": "cssrs/cssrs-dev.jsonl", "annomi": "annomi/annomi-dev.jsonl"}
SI, SH = RiskCategory.suicidal_ideation.value, RiskCategory.self_harm.value
TEXT_PARAMS: dict[str, Any] = {"ngram_max": 2, "max_features": 10000, "min_df": 2, "sublinear_tf": True, "c": 3.0,
                               "class_weight": "balanced"}
STACKER_C = 1.0
# Below this many client words the model abstains and the rules alone decide (see risk_model).
MIN_CLIENT_WORDS = 100
# The stacker flags only where the text model alone says risk is more likely than not (see risk_model).
MIN_TEXT_RISK = 0.5
# Recall first: the threshold is the one with the best F1 among those keeping at least this recall
# on the training folds (a missed risk costs far more than a false flag).
MIN_RECALL = {ANY_RISK: 0.9, SELF_HARM: 0.75}
_RECALL_SLACK = 0.02


@dataclass(frozen=True)
class Session:
    id: str
    source: str
    stratum: str
    risk: frozenset[str]
    turns: list[Turn]
    hits: list[RiskHit]
    rule_categories: frozenset[str]
    talk: ClientTalk

    @property
    def target(self) -> str:
        return BEHAVIOR if SH in self.risk else IDEATION if SI in self.risk else NONE


def load_sessions(data_dir: Path, sets: dict[str, str]) -> tuple[list[Session], dict[str, str]]:
    sessions: list[Session] = []
    digests: dict[str, str] = {}
    for source, relative in sets.items():
        path = data_dir / relative
        digests[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
        for labelled in read_dataset(path):
            turns = read_turns(labelled.to_transcript().segments)
            hits = find_risk_hits(turns)
            level = (labelled.labels.model_extra or {}).get("cssrs")
            risk = frozenset(category.value for category in labelled.labels.risk)
            sessions.append(Session(
                id=labelled.id, source=source, stratum=f"{source}:{level or sorted(risk)}", risk=risk,
                turns=turns, hits=hits, rule_categories=frozenset(f.category.value for f in flags_from_hits(hits)),
                talk=ClientTalk.of(turns)))
    return sessions, digests


def stratified_folds(strata: Sequence[str], k: int, seed: int) -> np.ndarray:
    """Fold of each item: every stratum dealt round-robin in a seeded order, continuing where the last
    one stopped, so even a stratum of one lands in a different fold from its neighbours'."""
    rng = np.random.default_rng(seed)
    members: dict[str, list[int]] = defaultdict(list)
    for index, stratum in enumerate(strata):
        members[stratum].append(index)
    folds = np.zeros(len(strata), dtype=int)
    dealt = 0
    for stratum in sorted(members):
        for position in rng.permutation(len(members[stratum])):
            folds[members[stratum][position]] = dealt % k
            dealt += 1
    return folds


# ---------------------------------------------------------------- fitting one model
def fit_risk_model(train: Sequence[Session], folds: int, seed: int, meta: dict[str, Any] | None = None) -> RiskModel:
    """Text model on all of `train`; stackers on inner out-of-fold text scores; thresholds on
    cross-validated stacker scores; all within `train`."""
    inner = stratified_folds([s.stratum for s in train], folds, seed + 1)
    probabilities = _out_of_fold_probabilities(train, inner, folds)
    features = [stack_features(p, RuleSummary.of(s.hits), s.talk) for p, s in zip(probabilities, train, strict=True)]
    names = tuple(features[0])
    matrix = np.array([[f[name] for name in names] for f in features])
    judged = np.array([judges(s.talk, MIN_CLIENT_WORDS) for s in train])
    read = np.flatnonzero(judged)  # the sessions the model will ever judge
    if len({s.target == NONE for s in (train[i] for i in read)}) < 2:
        raise ValueError("the sessions the model judges (clients speaking of their own risk) are all of one kind")
    targets = {ANY_RISK: np.array([s.target != NONE for s in train]),
               SELF_HARM: np.array([s.target == BEHAVIOR for s in train])}
    stackers: dict[str, Stacker] = {}
    scores: dict[str, np.ndarray] = {}  # cross-validated stacker scores, to choose thresholds on
    stack_folds = stratified_folds([train[i].target for i in read], folds, seed + 2)
    for key, target in targets.items():
        stackers[key] = _fit_stacker(names, matrix[read], target[read])
        scores[key] = np.zeros(len(train))
        for fold in range(folds):
            fitted, held = read[stack_folds != fold], read[stack_folds == fold]
            scores[key][held] = [_fit_stacker(names, matrix[fitted], target[fitted]).probability(features[i])
                                 for i in held]
    # The decision as the product makes it: a rule's flag, or the model where it may flag.
    may_flag = judged & (probabilities[:, 0] <= 1.0 - MIN_TEXT_RISK)
    by_rules = {key: np.array([category in s.rule_categories for s in train])
                for key, category in ((ANY_RISK, SI), (SELF_HARM, SH))}
    thresholds = {ANY_RISK: _choose_threshold(scores[ANY_RISK], may_flag, by_rules[ANY_RISK], targets[ANY_RISK],
                                              MIN_RECALL[ANY_RISK])}
    may_flag &= scores[ANY_RISK] >= thresholds[ANY_RISK]  # self-harm from the model comes with ideation
    thresholds[SELF_HARM] = _choose_threshold(scores[SELF_HARM], may_flag, by_rules[SELF_HARM], targets[SELF_HARM],
                                              MIN_RECALL[SELF_HARM])
    decided = {key: dataclasses.replace(stacker, threshold=thresholds[key]) for key, stacker in stackers.items()}
    return RiskModel(_text_model(train, meta).text, decided, MIN_CLIENT_WORDS, MIN_TEXT_RISK)


def _out_of_fold_probabilities(train: Sequence[Session], inner: np.ndarray, folds: int) -> np.ndarray:
    probabilities = np.zeros((len(train), 3))
    for fold in range(folds):
        held = np.flatnonzero(inner == fold)
        model = _text_model([s for s, f in zip(train, inner, strict=True) if f != fold])
        probabilities[held] = model.class_probabilities([train[i].talk.document for i in held])
    return probabilities


def _text_model(sessions: Sequence[Session], meta: dict[str, Any] | None = None) -> RiskModel:
    labels = [s.target for s in sessions]
    if len(set(labels)) < 3:
        raise ValueError(f"every fold needs sessions of all three kinds (none, ideation, behavior); got {set(labels)}")
    text = fit_text_model([s.talk.document for s in sessions], labels, meta=meta, **TEXT_PARAMS)
    return RiskModel(text, {}, MIN_CLIENT_WORDS, MIN_TEXT_RISK)


def _fit_stacker(names: tuple[str, ...], matrix: np.ndarray, target: np.ndarray) -> Stacker:
    from sklearn.linear_model import LogisticRegression

    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale[scale == 0] = 1.0
    classifier = LogisticRegression(C=STACKER_C, max_iter=2000).fit((matrix - mean) / scale, target)
    return Stacker(names, mean, scale, classifier.coef_[0].copy(), float(classifier.intercept_[0]), threshold=0.5)


def _choose_threshold(scores: np.ndarray, eligible: np.ndarray, by_rules: np.ndarray, truth: np.ndarray,
                      min_recall: float) -> float:
    """Best F1 of "rules or model" among thresholds keeping `min_recall`. Where no threshold reaches it
    (the model cannot flag sessions without the client's own risk talk), the floor is the best reachable
    recall less `_RECALL_SLACK`, so the last percent of recall is not bought by flagging everyone."""
    candidates = sorted(set(np.round(scores[eligible], 4)))
    if not candidates:
        return 0.5
    rows = []
    for threshold in candidates:
        flagged = by_rules | (eligible & (scores >= threshold))
        tp = int(np.sum(flagged & truth))
        recall = tp / max(int(truth.sum()), 1)
        precision = tp / max(int(flagged.sum()), 1)
        rows.append((recall, 2 * precision * recall / (precision + recall) if tp else 0.0, float(threshold)))
    floor = min(min_recall, max(recall for recall, _, _ in rows) - _RECALL_SLACK)
    # Ties go to the higher threshold: as many risks found with fewer flags.
    return max((f1, threshold) for recall, f1, threshold in rows if recall >= floor)[1]


# ---------------------------------------------------------------- cross-validation
def cross_validate(sessions: Sequence[Session], folds: int, seed: int) -> dict[str, list[set[str]]]:
    """Out-of-fold flags per session (categories), in `sessions` order; also the rules alone."""
    assignment = stratified_folds([s.stratum for s in sessions], folds, seed)
    predicted: list[set[str]] = [set() for _ in sessions]
    for fold in range(folds):
        model = fit_risk_model([s for s, f in zip(sessions, assignment, strict=True) if f != fold], folds, seed)
        for index, session in enumerate(sessions):
            if assignment[index] == fold:
                flags = combine_flags(session.turns, session.hits, model)
                predicted[index] = {flag.category.value for flag in flags}
        print(f"  fold {fold + 1}/{folds} done", file=sys.stderr, flush=True)
    return {"combined": predicted, "rules": [set(s.rule_categories) for s in sessions]}


def figures(sessions: Sequence[Session], predicted: Sequence[set[str]]) -> dict[str, Any]:
    by_source: dict[str, Any] = {}
    for source in sorted({s.source for s in sessions}):
        chosen = [i for i, s in enumerate(sessions) if s.source == source]
        scores: dict[str, BinaryScores] = multilabel_scores([set(sessions[i].risk) for i in chosen],
                                                            [predicted[i] for i in chosen], [SI, SH])
        false_flags = [sessions[i].id for i in chosen if predicted[i] and not sessions[i].risk]
        by_source[source] = {**{key: value.as_dict() for key, value in scores.items()},
                             "sessions": len(chosen), "false_flags": false_flags}
    return by_source


def print_figures(title: str, table: dict[str, Any]) -> None:
    print(f"\n{title}")
    for source, scores in table.items():
        for key in ("any", SI, SH):
            s = scores[key]
            print(f"  {source:<7} {key:<18} P {_show(s['precision'])}  R {_show(s['recall'])}  F1 {_show(s['f1'])}"
                  f"   (tp {s['tp']}, fp {s['fp']}, fn {s['fn']}, support {s['support']})")
        if scores["false_flags"]:
            print(f"  {source:<7} false flags: {', '.join(scores['false_flags'])}")


def _show(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--folds", type=int, default=5, help="outer and inner cross-validation folds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    sessions, digests = load_sessions(args.data_dir, SETS)
    print(f"{len(sessions)} sessions; {args.folds}-fold cross-validation (nested thresholds)", file=sys.stderr)
    predicted = cross_validate(sessions, args.folds, args.seed)
    cv = {name: figures(sessions, flags) for name, flags in predicted.items()}
    print_figures("Rules alone (nothing fitted):", cv["rules"])
    print_figures("Rules + model, cross-validated (pooled out-of-fold):", cv["combined"])

    meta = {"name": args.out.name.removesuffix(".json.gz"), "fitted": dt.date.today().isoformat(),
            "data": digests, "sessions": len(sessions),
            "params": {"text": TEXT_PARAMS, "stacker_c": STACKER_C, "min_client_words": MIN_CLIENT_WORDS,
                       "min_text_risk": MIN_TEXT_RISK,
                       "min_recall": MIN_RECALL, "folds": args.folds,
                       "seed": args.seed, "classes": [NONE, IDEATION, BEHAVIOR]},
            "cross_validated": cv["combined"], "rules_alone": cv["rules"]}
    model = fit_risk_model(sessions, args.folds, args.seed, meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"\nwrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB); thresholds "
          f"any={model.stackers[ANY_RISK].threshold:.3f} self_harm={model.stackers[SELF_HARM].threshold:.3f}")


if __name__ == "__main__":
    main()
