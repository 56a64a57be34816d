"""The sentence encoder behind a real Ray Serve deployment: concurrent calls are batched into one encoder pass,
a long session travels in parts and comes back whole and in order, the vectors are the in-process encoder's,
and the analyze stage keeps working (in process) when the deployment is not there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tasks.risk_scoring import DEPLOYMENT_NAME, ServeEncoder
from vigil.analysis.risk.encoder import shipped_encoder

pytestmark = pytest.mark.ray
APP = "vigil-encoder-test"
SENTENCES = [f"Sentence number {i}: {'some days I wonder what the point is' if i % 7 == 0 else 'we went out'}."
             for i in range(150)]


@pytest.fixture(scope="module")
def deployed(ray_runtime: None) -> Iterator[object]:
    from ray import serve

    from serve.sentence_encoder import SentenceEncoder

    # A long batch wait, so concurrent calls surely meet in one batch; 40 sentences a batch at most.
    app = SentenceEncoder.options(user_config={"max_batch_sentences": 40, "batch_wait_timeout_s": 0.25}).bind()
    serve.run(app, name=APP, route_prefix=None, blocking=False)
    handle = serve.get_deployment_handle(DEPLOYMENT_NAME, app_name=APP)
    deadline = time.monotonic() + 120
    while True:
        try:
            handle.recent_batches.remote().result(timeout_s=5)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    yield handle
    serve.delete(APP)


def test_a_long_session_comes_back_whole_in_order_and_equal_to_the_in_process_encoder(deployed) -> None:
    vectors = ServeEncoder(app_name=APP, part_sentences=20).remote(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(vectors, shipped_encoder().encode(SENTENCES), atol=1e-5)


def test_concurrent_single_sentence_calls_share_encoder_passes(deployed) -> None:
    before = len(deployed.recent_batches.remote().result())
    encoder = ServeEncoder(app_name=APP, part_sentences=1)
    texts = SENTENCES[:24]
    with ThreadPoolExecutor(max_workers=24) as pool:
        vectors = list(pool.map(lambda text: encoder.remote([text])[0], texts))
    batches = deployed.recent_batches.remote().result()[before:]
    assert sum(batches) == len(texts)
    assert max(batches) > 1 and len(batches) < len(texts), batches  # batched, not one pass per call
    assert max(batches) <= 40  # the configured batch size (user_config) holds
    np.testing.assert_allclose(np.stack(vectors), shipped_encoder().encode(texts), atol=1e-5)


def test_without_the_deployment_the_encoder_runs_in_process_and_the_fallback_is_counted(ray_runtime: None) -> None:
    encoder = ServeEncoder(app_name="no-such-app", timeout_s=5, retry_after_s=3600)
    asked: list[int] = []
    remote = encoder.remote
    encoder.remote = lambda sentences: asked.append(len(sentences)) or remote(sentences)  # type: ignore[method-assign]
    vectors = encoder.encode(SENTENCES[:5])
    np.testing.assert_allclose(vectors, shipped_encoder().encode(SENTENCES[:5]), atol=1e-6)
    assert encoder.fallbacks == 1
    encoder.encode(SENTENCES[5:8])  # within retry_after_s: straight to the process's own encoder
    assert encoder.fallbacks == 2 and asked == [5]
