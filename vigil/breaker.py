"""A circuit breaker for calls to outside services (speech providers, analysis models).

After FAIL_MAX transient failures in a row the circuit opens and calls fail at once with
`CircuitOpen` for RESET_SECONDS, so work stops waiting on a service that is down; after that, calls
go through again and the first outcome decides."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from vigil.errors import PermanentError, TransientError

T = TypeVar("T")

# After this many transient failures in a row a provider is skipped for RESET_SECONDS, so sessions
# stop waiting on it; after that, calls go through again and the first outcome decides.
FAIL_MAX = 3
RESET_SECONDS = 60.0


class CircuitOpen(Exception):
    pass


class Breaker:
    """A circuit breaker that lets calls run concurrently. (pybreaker, tried first, holds its lock for
    the whole call, which serialised every chunk and session going to one provider: bench/transcription.py
    measured chunked decoding at half the speed of one piece because of it.) The lock here guards only
    the counters."""

    def __init__(self, fail_max: int = FAIL_MAX, reset_seconds: float = RESET_SECONDS) -> None:
        self.fail_max, self.reset_seconds = fail_max, reset_seconds
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    def call(self, func: Callable[[], T]) -> T:
        with self._lock:
            if self._opened_at is not None and time.monotonic() - self._opened_at < self.reset_seconds:
                raise CircuitOpen()
        try:
            result = func()
        except TransientError:
            with self._lock:
                self._failures += 1
                if self._failures >= self.fail_max:
                    self._opened_at = time.monotonic()
            raise
        except PermanentError:
            raise  # bad audio or a bad request is not the provider being down
        with self._lock:
            self._failures, self._opened_at = 0, None
        return result
