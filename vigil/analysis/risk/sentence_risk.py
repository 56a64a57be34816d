"""Risk read sentence by sentence: every client sentence that is not a question is encoded (all-MiniLM-L6-v2)
and scored by one linear head per category; a session's score is the mean of its `top_k` highest sentence
scores, turned into a calibrated probability (Platt scaling fitted on out-of-fold development scores), and
flagged from the threshold of the tenant's sensitivity. The evidence is the sentences that carried the score,
so a quote is always the client's own words.

Severity follows the C-SSRS ladder: passive wish (low) → active thoughts (medium) → method, plan, intent or
preparation (high); self-harm is medium, or high when the sentence is nearest the written examples of
serious acts (`risk_detection` also raises recent self-harm alongside suicidal thinking to high). Each level
is the evidence sentence's nearest level centroid of the written development examples
(`training/risk_seeds.py`).

The artifact (`models/risk-sentences.json.gz`) is built by `scripts/fit_risk_sentences.py`, which chooses
every setting by nested cross-validation inside the development part of the data; its `meta` records how.
Encoding sentences, nearly all of the cost, sits behind `SentenceEncoder`, so the pipeline can send it to the
Ray Serve deployment (`serve/sentence_encoder.py`, batched) and replay can run it in-process; the heads, a
few dot products per sentence, run where the session's model is known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from vigil.analysis.risk.encoder import DIMENSIONS
from vigil.analysis.risk.plain_reading import ClientSentence
from vigil.analysis.text.textmodel import read_artifact, rounded, write_artifact
from vigil.schemas.enums import RiskCategory, RiskLevel

MODEL_PATH = Path(__file__).parent / "models" / "risk-sentences.json.gz"
FORMAT = "vigil-sentence-risk/1"
SENSITIVITIES = ("high", "balanced")
DEFAULT_SENSITIVITY = "high"
NEVER = 1.01  # a threshold no probability reaches: the model does not flag this category on its own
_MAX_EVIDENCE = 3
_MAX_CONFIDENCE = 0.99
_LEVELS = {level.value: level for level in RiskLevel}


@dataclass(frozen=True)
class Head:
    """One category: a linear sentence scorer and a linear head on the session's mean sentence vector; the
    session's probability is a logistic calibration (fitted on out-of-fold development sessions) of the mean of
    its `top_k` best sentence logits, the document logit and log(1 + sentences), since a long session's best
    sentence scores higher by chance alone. A session with fewer than `top_k` sentences counts the missing ones
    as ordinary sentences (`pad`: the median sentence logit of sessions without this risk), so one sentence
    weighs what it would among others. Thresholds on that probability, per sensitivity; `NEVER` where the
    development data had too few at-risk sessions to set one (the rules alone flag that category)."""

    weights: np.ndarray  # (384,)
    bias: float
    top_k: int
    calibration: tuple[float, ...]  # coefficients of (sentence score, document logit, log1p(n)), intercept
    thresholds: dict[str, float]
    document_weights: np.ndarray
    document_bias: float
    pad: float | None = None

    def document_logit(self, vectors: np.ndarray) -> float:
        return float(vectors.mean(axis=0) @ self.document_weights + self.document_bias) if len(vectors) else 0.0

    def session_probability(self, logits: np.ndarray, document: float) -> float:
        """`logits`: this head's score of each sentence; `document`: its `document_logit` of the session."""
        if not len(logits):
            return 0.0
        sentence = top_k_mean(logits, self.top_k, self.pad)
        a, b, c, intercept = self.calibration
        z = a * sentence + b * document + c * math.log1p(len(logits)) + intercept
        return 1.0 / (1.0 + math.exp(-z))

    def as_json(self) -> dict[str, Any]:
        return {"weights": rounded(self.weights), "bias": self.bias, "top_k": self.top_k,
                "calibration": list(self.calibration), "thresholds": self.thresholds,
                "document_weights": rounded(self.document_weights), "document_bias": self.document_bias,
                "pad": self.pad}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Head:
        return cls(np.asarray(data["weights"], dtype=np.float32), float(data["bias"]), int(data["top_k"]),
                   tuple(float(v) for v in data["calibration"]),
                   {key: float(value) for key, value in data["thresholds"].items()},
                   np.asarray(data["document_weights"], dtype=np.float32), float(data["document_bias"]),
                   None if data.get("pad") is None else float(data["pad"]))


def top_k_mean(logits: np.ndarray, top_k: int, pad: float | None) -> float:
    """The mean of the `top_k` highest logits, missing ones counted as `pad` (when given)."""
    best = np.sort(logits)[::-1][:top_k]
    if pad is not None and len(best) < top_k:
        best = np.concatenate([best, np.full(top_k - len(best), pad)])
    return float(best.mean())


@dataclass(frozen=True)
class SentenceScores:
    """What the scorer says of one session's sentences: a logit per sentence and category, the document logit
    per category (of all the sentences together), and per sentence and category the severity level whose
    written examples the sentence is nearest."""

    logits: np.ndarray  # (sentences, categories) in `SentenceRiskModel.categories` order
    document: np.ndarray  # (categories,)
    levels: list[dict[str, str]]


@dataclass(frozen=True)
class SentenceRiskModel:
    heads: dict[RiskCategory, Head]
    centroids: dict[RiskCategory, dict[str, np.ndarray]]  # category → level → unit vector
    meta: dict[str, Any]

    @property
    def categories(self) -> list[RiskCategory]:
        return list(self.heads)

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "risk-sentences"))

    def score_vectors(self, vectors: np.ndarray) -> SentenceScores:
        """Heads and severity centroids applied to one session's encoded sentences (what the Serve deployment
        runs)."""
        weights = np.stack([head.weights for head in self.heads.values()], axis=1)
        document = np.array([head.document_logit(vectors) for head in self.heads.values()], dtype=np.float32)
        logits = vectors @ weights + np.array([head.bias for head in self.heads.values()], dtype=np.float32)
        levels: list[dict[str, str]] = [{} for _ in range(len(vectors))]
        for category, by_level in self.centroids.items():
            names = list(by_level)
            nearest = (vectors @ np.stack([by_level[n] for n in names], axis=1)).argmax(axis=1)
            for row, index in enumerate(nearest):
                levels[row][category.value] = names[index]
        return SentenceScores(logits.astype(np.float32), document, levels)

    def save(self, path: Path) -> None:
        write_artifact(path, self.payload())

    def payload(self) -> dict[str, Any]:
        """The artifact as JSON (what `save` writes, and a tenant's fitted model stores as a config version)."""
        return {"format": FORMAT, "meta": self.meta, "heads": {c.value: h.as_json() for c, h in self.heads.items()},
                "centroids": {c.value: {level: rounded(v) for level, v in by_level.items()}
                              for c, by_level in self.centroids.items()}}

    @classmethod
    def load(cls, path: Path) -> SentenceRiskModel:
        return cls.from_payload(read_artifact(path, FORMAT))

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> SentenceRiskModel:
        if payload.get("format") != FORMAT:
            raise ValueError(f"not a sentence risk model (format {payload.get('format')!r}, expected {FORMAT!r})")
        heads = {RiskCategory(c): Head.from_json(data) for c, data in payload["heads"].items()}
        centroids = {RiskCategory(c): {level: np.asarray(v, dtype=np.float32) for level, v in by_level.items()}
                     for c, by_level in payload["centroids"].items()}
        widths = {len(h.weights) for h in heads.values()} | {len(h.document_weights) for h in heads.values()} | \
            {len(v) for by_level in centroids.values() for v in by_level.values()}
        if widths != {DIMENSIONS}:
            raise ValueError(f"a sentence risk model's vectors are {DIMENSIONS} wide, not {sorted(widths)}")
        if any(set(h.thresholds) != set(SENSITIVITIES) for h in heads.values()):
            raise ValueError(f"every head needs a threshold for each of {', '.join(SENSITIVITIES)}")
        return cls(heads, centroids, payload["meta"])


@dataclass(frozen=True)
class RiskSettings:
    """A tenant's choice: which fitted model (None → the shipped one) and which operating point."""

    model: SentenceRiskModel | None = None
    model_version: str | None = None
    sensitivity: str = DEFAULT_SENSITIVITY

    def __post_init__(self) -> None:
        if self.sensitivity not in SENSITIVITIES:
            raise ValueError(f"unknown sensitivity {self.sensitivity!r}: {' | '.join(SENSITIVITIES)}")


@lru_cache(maxsize=1)
def shipped_sentence_model() -> SentenceRiskModel:
    return SentenceRiskModel.load(MODEL_PATH)


class SentenceEncoder(Protocol):
    """Texts in, unit vectors out (`vigil.analysis.risk.encoder` in this process, or the Ray Serve deployment)."""

    def encode(self, sentences: Sequence[str]) -> np.ndarray: ...


# ---------------------------------------------------------------- from sentences to findings
@dataclass(frozen=True)
class SentenceFinding:
    """One category the model flags in a session, with the sentences that carried it (best first)."""

    category: RiskCategory
    probability: float
    threshold: float
    severity: RiskLevel
    evidence: tuple[ClientSentence, ...]

    @property
    def confidence(self) -> float:
        return round(min(self.probability, _MAX_CONFIDENCE), 2)


def find_sentence_risks(model: SentenceRiskModel, sentences: Sequence[ClientSentence], encoder: SentenceEncoder,
                        sensitivity: str = DEFAULT_SENSITIVITY) -> list[SentenceFinding]:
    """`sentences`: what the model reads of a session (`plain_reading.model_sentences`)."""
    if not sentences:
        return []
    scores = model.score_vectors(encoder.encode([s.text for s in sentences]))
    return findings_from_scores(model, sentences, scores, sensitivity)


def findings_from_scores(model: SentenceRiskModel, sentences: Sequence[ClientSentence], scores: SentenceScores,
                         sensitivity: str = DEFAULT_SENSITIVITY) -> list[SentenceFinding]:
    findings: dict[RiskCategory, SentenceFinding] = {}
    for column, (category, head) in enumerate(model.heads.items()):
        logits = scores.logits[:, column]
        probability = head.session_probability(logits, float(scores.document[column]))
        threshold = head.thresholds[sensitivity]
        if probability < threshold:
            continue
        ranked = sorted(range(len(sentences)), key=lambda i: (-logits[i], i))[:_MAX_EVIDENCE]
        carried = [i for i in ranked if logits[i] >= logits[ranked[0]] - 2.0] or ranked[:1]
        level = _LEVELS[scores.levels[carried[0]].get(category.value, RiskLevel.medium.value)]
        findings[category] = SentenceFinding(category, probability, threshold, level,
                                             tuple(sentences[i] for i in carried))
    return sorted(findings.values(), key=lambda f: (-f.severity.rank, list(RiskCategory).index(f.category)))

