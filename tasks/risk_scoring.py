"""The analyze stage's way to the sentence encoder: through the Ray Serve deployment (`serve/sentence_encoder.py`)
when it is running, else in this process, so a missing or failing deployment slows analysis down but never stops
it. Each fallback is logged and counted, and after one the deployment is not asked again for `retry_after_s`, so a
cluster without it does not wait for it on every session.

A session's sentences travel in parts of at most `part_sentences`, all sent at once; the deployment batches
them with other sessions' parts, and the vectors come back in order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from vigil.analysis.risk.encoder import DIMENSIONS, shipped_encoder

log = logging.getLogger(__name__)
APP_NAME = "vigil-encoder"
DEPLOYMENT_NAME = "SentenceEncoder"
PART_SENTENCES = 64
TIMEOUT_S = 60.0
RETRY_AFTER_S = 60.0


class ServeEncoder:
    """A `SentenceEncoder` over a `DeploymentHandle`, with the in-process encoder as its fallback."""

    def __init__(self, app_name: str = APP_NAME, part_sentences: int = PART_SENTENCES,
                 timeout_s: float = TIMEOUT_S, retry_after_s: float = RETRY_AFTER_S) -> None:
        self.app_name = app_name
        self.part_sentences = part_sentences
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.fallbacks = 0
        self._not_before = 0.0

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros((0, DIMENSIONS), np.float32)
        if time.monotonic() >= self._not_before:
            try:
                return self.remote(sentences)
            except Exception as exc:  # noqa: BLE001 — whatever the deployment's trouble, encode here instead
                self._not_before = time.monotonic() + self.retry_after_s
                log.warning("sentence encoder deployment unavailable; encoding in process",
                            extra={"app": self.app_name, "error": f"{type(exc).__name__}: {exc}"[:300]})
        self.fallbacks += 1
        return shipped_encoder().encode(sentences)

    def remote(self, sentences: Sequence[str]) -> np.ndarray:
        """Vectors from the deployment; raises when it is not running or fails."""
        from ray import serve as ray_serve  # only here: Ray workers that never encode skip Serve's import

        handle = ray_serve.get_deployment_handle(DEPLOYMENT_NAME, app_name=self.app_name)
        step = self.part_sentences
        responses = [handle.encode.remote(list(sentences[i : i + step])) for i in range(0, len(sentences), step)]
        return np.concatenate([response.result(timeout_s=self.timeout_s) for response in responses])
