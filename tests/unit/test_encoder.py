"""The sentence encoder is all-MiniLM-L6-v2 as sentence-transformers computes it, in both of its forms."""

import numpy as np
import pytest

from vigil.analysis.risk.encoder import DIMENSIONS, NumpyEncoder, OnnxEncoder

# The example and the similarity matrix printed in sentence-transformers' README for all-MiniLM-L6-v2,
# computed there with PyTorch: an independent reference for tokenizer, weights, forward pass and pooling.
PUBLISHED_SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
PUBLISHED_SIMILARITY = np.array([[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]])

SESSION_SENTENCES = [
    "I have been saving up my pills for a while now.",
    "Work has been fine, my boss is nice.",
    "Everyone would be better off if I wasn't around.",
    "I cut back on coffee last month.",
    "ok",
    "I went for a long walk by the river on Sunday and thought about my grandmother, who passed away last year.",
]


@pytest.fixture(scope="module")
def reference() -> NumpyEncoder:
    return NumpyEncoder()


@pytest.fixture(scope="module")
def onnx() -> OnnxEncoder:
    return OnnxEncoder()


def test_the_float32_forward_pass_reproduces_the_published_similarities(reference):
    vectors = reference.encode(PUBLISHED_SENTENCES)
    assert vectors.shape == (3, DIMENSIONS)
    np.testing.assert_allclose(vectors @ vectors.T, PUBLISHED_SIMILARITY, atol=6e-5)


def test_vectors_are_unit_length_and_in_the_order_given(reference, onnx):
    for encoder in (reference, onnx):
        vectors = encoder.encode(SESSION_SENTENCES)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        alone = encoder.encode([SESSION_SENTENCES[5]])[0]  # long sentence, batched with short ones above
        np.testing.assert_allclose(vectors[5], alone, atol=1e-5)


def test_the_int8_onnx_encoder_stays_close_to_the_float32_reference(reference, onnx):
    sentences = PUBLISHED_SENTENCES + SESSION_SENTENCES
    cosine = (reference.encode(sentences) * onnx.encode(sentences)).sum(axis=1)
    assert cosine.min() > 0.985, cosine
    similarities = onnx.encode(PUBLISHED_SENTENCES)
    np.testing.assert_allclose(similarities @ similarities.T, PUBLISHED_SIMILARITY, atol=0.01)


def test_padding_does_not_change_a_sentence_s_vector(onnx):
    short = "I feel like a burden."
    batched = onnx.encode([short, "A much longer sentence that makes every other sentence in its batch padded."])
    np.testing.assert_allclose(batched[0], onnx.encode([short])[0], atol=1e-5)


def test_no_sentences_give_an_empty_matrix(onnx):
    assert onnx.encode([]).shape == (0, DIMENSIONS)
