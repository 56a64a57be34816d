"""Per-token request limits (the `limits` library, moving window, in the replica's memory). Each API replica
counts on its own, so with N replicas a token may make up to N times the limit; the limit is a brake on a runaway
script or a leaked token, not a quota."""

from __future__ import annotations

import math
import time
from functools import cache

from limits import parse, storage, strategies


class TokenRateLimiter:
    def __init__(self, limit: str) -> None:
        self.item = parse(limit)
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def retry_after(self, key: str) -> int | None:
        """Count one request for `key`; None when allowed, else whole seconds until the window has room."""
        if self.limiter.hit(self.item, key):
            return None
        reset = self.limiter.get_window_stats(self.item, key).reset_time
        return max(1, math.ceil(reset - time.time()))


@cache
def limiter_for(limit: str) -> TokenRateLimiter:
    return TokenRateLimiter(limit)
