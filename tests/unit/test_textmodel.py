"""The shipped text model predicts exactly what the scikit-learn pipeline it was exported from predicts."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.analysis.text.textmodel import TextModel, fit_sklearn_pipeline, fit_text_model

TEXTS = [
    "I want to end it all tonight", "I have been thinking about killing myself", "nobody would miss me if I died",
    "I cut myself again last night", "we went to the beach and it was lovely", "my parents would kill me if I failed",
    "cutting back on drinking has been good", "the game last night was great fun", "I feel hopeless and alone",
    "work was busy but fine", "I took all my pills", "dinner with friends tomorrow",
]
LABELS = ["risk"] * 4 + ["none"] * 4 + ["risk", "none", "risk", "none"]
PARAMS = dict(ngram_max=2, max_features=200, min_df=1, sublinear_tf=True, c=2.0, class_weight="balanced")


def test_numpy_path_matches_sklearn(tmp_path):
    model = fit_text_model(TEXTS, LABELS, **PARAMS)
    vectorizer, classifier = fit_sklearn_pipeline(TEXTS, LABELS, **PARAMS)
    probes = ["I want to die", "my boss would kill me", "I cut myself", "", "Fun fun fun at the beach!!"]
    expected = classifier.predict_proba(vectorizer.transform(probes))
    assert np.allclose(model.predict_proba(probes), expected, atol=1e-9)

    model.save(tmp_path / "m.json.gz")
    loaded = TextModel.load(tmp_path / "m.json.gz")
    assert loaded.classes == ("none", "risk")
    assert np.allclose(loaded.predict_proba(probes), expected, atol=1e-4)
    assert loaded.predict(["I want to end it all"]) == ["risk"]


def test_multiclass_matches_sklearn():
    labels = ["a", "b", "c"] * 4
    model = fit_text_model(TEXTS, labels, **PARAMS)
    vectorizer, classifier = fit_sklearn_pipeline(TEXTS, labels, **PARAMS)
    assert np.allclose(model.predict_proba(TEXTS), classifier.predict_proba(vectorizer.transform(TEXTS)), atol=1e-9)


def test_saving_is_deterministic_and_rejects_other_files(tmp_path):
    model = fit_text_model(TEXTS, LABELS, **PARAMS)
    model.save(tmp_path / "a.gz")
    model.save(tmp_path / "b.gz")
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    import gzip

    (tmp_path / "c.gz").write_bytes(gzip.compress(b'{"format": "other"}'))
    with pytest.raises(ValueError, match="not a vigil-textmodel"):
        TextModel.load(tmp_path / "c.gz")
