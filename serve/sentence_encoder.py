"""The sentence encoder of the risk model as a Ray Serve deployment: all-MiniLM-L6-v2 loads once per replica,
and `@serve.batch` gathers the sentences of concurrent calls (analyze stages of several sessions, the parts of
one long session) into one encoder pass.

A call carries one part of a session (at most `max_batch_sentences` sentences; the client splits longer ones,
`tasks/risk_scoring.py`) and gets that part's vectors back. A batch's size is counted in sentences, not calls,
so one long part and many short ones cost what their sentences cost. The risk heads are not here: they are a
few dot products per sentence and the analyze stage applies the session's own model (a tenant may have its
own, `vigil fit --from-reviews`), while the encoder, all of the cost, is shared. Replicas, batch size and wait
live in `cluster/serve-config.yaml` (`user_config`), applied by `reconfigure` without a restart.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from ray import serve as ray_serve

from vigil.analysis.risk.encoder import shipped_encoder

DEPLOYMENT_NAME = "SentenceEncoder"
DEFAULT_MAX_BATCH_SENTENCES = 128
DEFAULT_BATCH_WAIT_S = 0.005


def _sentences(parts: list[list[str]]) -> int:
    return sum(len(part) for part in parts)


@ray_serve.deployment(name=DEPLOYMENT_NAME, ray_actor_options={"num_cpus": 1}, max_ongoing_requests=64)
class SentenceEncoder:
    def __init__(self) -> None:
        self._encoder = shipped_encoder()
        self._batches: list[int] = []  # sentences per encoder pass, newest last (for tests and the bench)

    def reconfigure(self, config: dict[str, Any]) -> None:
        self.encode.set_max_batch_size(int(config.get("max_batch_sentences", DEFAULT_MAX_BATCH_SENTENCES)))
        self.encode.set_batch_wait_timeout_s(float(config.get("batch_wait_timeout_s", DEFAULT_BATCH_WAIT_S)))

    @ray_serve.batch(max_batch_size=DEFAULT_MAX_BATCH_SENTENCES, batch_wait_timeout_s=DEFAULT_BATCH_WAIT_S,
                     batch_size_fn=_sentences)
    async def encode(self, parts: list[list[str]]) -> list[np.ndarray]:
        # In a thread, so the replica keeps gathering the next batch while this one runs.
        return await asyncio.to_thread(self._encode_parts, parts)

    def _encode_parts(self, parts: list[list[str]]) -> list[np.ndarray]:
        vectors = self._encoder.encode([text for part in parts for text in part])
        self._batches = [*self._batches[-999:], len(vectors)]
        bounds = np.cumsum([0] + [len(part) for part in parts])
        return [vectors[bounds[i] : bounds[i + 1]] for i in range(len(parts))]

    def recent_batches(self) -> list[int]:
        return list(self._batches)

    def memory_mb(self) -> float:
        """This replica's resident memory (the encoder loaded), for the bench."""
        import psutil

        return round(psutil.Process().memory_info().rss / 2**20, 1)


def app(args: dict[str, Any] | None = None) -> ray_serve.Application:
    """The Serve config's application builder (`import_path: serve.sentence_encoder:app`)."""
    return SentenceEncoder.bind()
