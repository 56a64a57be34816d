"""A small linear text classifier that ships as data: TF-IDF word n-grams → logistic regression.

Fitting uses scikit-learn (`fit_text_model`, only in the scripts that rebuild an artifact); reading
and predicting need only numpy, so the product carries a few hundred kilobytes of JSON, not a
training library. `tests/unit/test_textmodel.py` proves the numpy path gives the same probabilities
as the scikit-learn pipeline it was exported from.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# scikit-learn's default token pattern: words of two or more word characters.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
FORMAT = "vigil-textmodel/1"


@dataclass(frozen=True)
class TextModel:
    classes: tuple[str, ...]
    vocabulary: dict[str, int]
    idf: np.ndarray  # (features,)
    coef: np.ndarray  # (1, features) for two classes, else (classes, features)
    intercept: np.ndarray
    ngram_max: int
    sublinear_tf: bool
    meta: dict[str, Any]

    # ------------------------------------------------------------------ predicting
    def features(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float64)
        for row, text in enumerate(texts):
            for term, count in Counter(_ngrams(text, self.ngram_max)).items():
                column = self.vocabulary.get(term)
                if column is not None:
                    rows[row, column] = 1.0 + math.log(count) if self.sublinear_tf else float(count)
        rows *= self.idf
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, classes) probabilities, columns in `classes` order."""
        if not texts:
            return np.zeros((0, len(self.classes)))
        scores = self.features(texts) @ self.coef.T + self.intercept
        if len(self.classes) == 2:
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def probability(self, texts: Sequence[str], label: str) -> np.ndarray:
        return self.predict_proba(texts)[:, self.classes.index(label)]

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(texts).argmax(axis=1)]

    # ------------------------------------------------------------------ storing
    def save(self, path: Path) -> None:
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        write_artifact(path, {"format": FORMAT, "classes": list(self.classes), "terms": terms,
                              "idf": rounded(self.idf), "coef": [rounded(row) for row in self.coef],
                              "intercept": rounded(self.intercept), "ngram_max": self.ngram_max,
                              "sublinear_tf": self.sublinear_tf, "meta": self.meta})

    @classmethod
    def load(cls, path: Path) -> TextModel:
        payload = read_artifact(path, FORMAT)
        return cls(classes=tuple(payload["classes"]),
                   vocabulary={term: i for i, term in enumerate(payload["terms"])},
                   idf=np.asarray(payload["idf"]), coef=np.asarray(payload["coef"]),
                   intercept=np.asarray(payload["intercept"]), ngram_max=payload["ngram_max"],
                   sublinear_tf=payload["sublinear_tf"], meta=payload["meta"])


def fit_text_model(texts: Sequence[str], labels: Sequence[str], *, ngram_max: int = 2, max_features: int = 5000,
                   min_df: int = 2, sublinear_tf: bool = True, c: float = 1.0, class_weight: str | None = "balanced",
                   meta: dict[str, Any] | None = None) -> TextModel:
    """Fit TF-IDF + logistic regression with scikit-learn and export it as a `TextModel`."""
    vectorizer, classifier = fit_sklearn_pipeline(texts, labels, ngram_max=ngram_max, max_features=max_features,
                                                  min_df=min_df, sublinear_tf=sublinear_tf, c=c,
                                                  class_weight=class_weight)
    return TextModel(classes=tuple(str(c) for c in classifier.classes_),
                     vocabulary={term: int(i) for term, i in vectorizer.vocabulary_.items()},
                     idf=vectorizer.idf_.copy(), coef=classifier.coef_.copy(), intercept=classifier.intercept_.copy(),
                     ngram_max=ngram_max, sublinear_tf=sublinear_tf, meta=dict(meta or {}))


def fit_sklearn_pipeline(texts: Sequence[str], labels: Sequence[str], *, ngram_max: int, max_features: int,
                         min_df: int, sublinear_tf: bool, c: float, class_weight: str | None) -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, ngram_max), max_features=max_features, min_df=min_df,
                                 sublinear_tf=sublinear_tf, lowercase=True)
    matrix = vectorizer.fit_transform(list(texts))
    classifier = LogisticRegression(C=c, class_weight=class_weight, max_iter=2000)
    classifier.fit(matrix, list(labels))
    return vectorizer, classifier


def _ngrams(text: str, ngram_max: int) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    grams = list(tokens)
    for n in range(2, ngram_max + 1):
        grams.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return grams


@dataclass(frozen=True)
class StandardizedLogistic:
    """Logistic regression over named, standardized numeric features, with its decision threshold: the small
    session-level models (MI quality, the risk stackers) that sit on top of text models and rules."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float

    def probability(self, values: Mapping[str, float]) -> float:
        row = (np.array([values[name] for name in self.features]) - self.mean) / self.scale
        score = float(np.clip(row @ self.coef + self.intercept, -50.0, 50.0))  # exp() cannot overflow
        return 1.0 / (1.0 + math.exp(-score))

    def as_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": rounded(self.mean), "scale": rounded(self.scale),
                "coef": rounded(self.coef), "intercept": rounded([self.intercept])[0],
                "threshold": rounded([self.threshold])[0]}

    @staticmethod
    def fields_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor arguments stored by `as_json` (subclasses add their own)."""
        return {"features": tuple(data["features"]), "mean": np.asarray(data["mean"]),
                "scale": np.asarray(data["scale"]), "coef": np.asarray(data["coef"]),
                "intercept": float(data["intercept"]), "threshold": float(data["threshold"])}


def write_artifact(path: Path, payload: dict[str, Any]) -> None:
    """Gzipped canonical JSON. mtime=0: the same model always gives the same bytes, so a rebuild shows up in git
    only if it changed."""
    data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    path.write_bytes(gzip.compress(data, mtime=0))


def read_artifact(path: Path, expected_format: str) -> dict[str, Any]:
    payload = json.loads(gzip.decompress(path.read_bytes()))
    if payload.get("format") != expected_format:
        raise ValueError(f"{path}: not a {expected_format} artifact")
    return payload


def rounded(values: Sequence[float] | np.ndarray) -> list[float]:
    # Six significant digits keep probabilities within 1e-5 of the fitted model at a fraction of the size.
    return [float(f"{v:.6g}") for v in np.asarray(values, dtype=float).ravel()]
