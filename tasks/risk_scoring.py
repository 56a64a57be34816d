"""The analyze stage's way to the sentence encoder: through the Ray Serve deployment
(`serve/sentence_encoder.py`) when it is running, else in this process, so a missing or failing deployment
slows analysis down but never stops it (each fallback is logged and counted).

A session's sentences travel in parts of at most `part_sentences`, all sent at once; the deployment batches
them with other sessions' parts, and the vectors come back in order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from ray import serve as ray_serve

from vigil.analysis.encoder import DIMENSIONS, shipped_encoder

log = logging.getLogger(__name__)
APP_NAME = "vigil-encoder"
DEPLOYMENT_NAME = "SentenceEncoder"
PART_SENTENCES = 64
TIMEOUT_S = 60.0


class ServeEncoder:
    """A `SentenceEncoder` over a `DeploymentHandle`, with the in-process encoder as its fallback."""

    def __init__(self, app_name: str = APP_NAME, part_sentences: int = PART_SENTENCES,
                 timeout_s: float = TIMEOUT_S) -> None:
        self.app_name = app_name
        self.part_sentences = part_sentences
        self.timeout_s = timeout_s
        self.fallbacks = 0

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros((0, DIMENSIONS), np.float32)
        try:
            return self.remote(sentences)
        except Exception as exc:  # noqa: BLE001 — whatever the deployment's trouble, encode here instead
            self.fallbacks += 1
            log.warning("sentence encoder deployment unavailable; encoding in process",
                        extra={"app": self.app_name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            return shipped_encoder().encode(sentences)

    def remote(self, sentences: Sequence[str]) -> np.ndarray:
        """Vectors from the deployment; raises when it is not running or fails."""
        handle = ray_serve.get_deployment_handle(DEPLOYMENT_NAME, app_name=self.app_name)
        step = self.part_sentences
        responses = [handle.encode.remote(list(sentences[i : i + step])) for i in range(0, len(sentences), step)]
        return np.concatenate([response.result(timeout_s=self.timeout_s) for response in responses])
