"""Who a bearer token signs in as, remembered for a few seconds in one process, so that a client's next requests do
not each look the token up in the database again (for a provider's ID token: do not each lock and write its user).

Bound: what the database says about a token (revoked, its user's role changed, the user's access taken away by
their provider groups) is seen by every process within `ttl` seconds (AUTH_CACHE_SECONDS). The process that itself
resolves a provider token of a person forgets every entry of that person at once, so a newer token taking their
access away there stops their older tokens there on the next request, as before.

An entry is keyed by the SHA-256 of the whole token and holds the principal the database gave for exactly that
token, tenant included: two tokens never share an entry, so tenants cannot mix. Nothing is kept for a token that
signs in as nobody (those are looked up every time, and rate limited like any other)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

Identity = tuple[str, str]  # (issuer, subject) of a person signed in through an OpenID Connect provider


class SignedIn(Protocol):
    @property
    def user_id(self) -> uuid.UUID: ...


P = TypeVar("P", bound=SignedIn)


@dataclass(frozen=True)
class _Entry(Generic[P]):
    principal: P
    expires: float  # on the cache's clock
    identity: Identity | None


class TokenCache(Generic[P]):
    """Kept on the process's Context (`ctx.principals`), holding vigil.services.access.Principal values; generic
    only so that this module, below the services, imports none of them."""

    def __init__(self, ttl: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._entries: dict[str, _Entry[P]] = {}
        self._lock = threading.Lock()  # the event loop reads, the threadpool writes

    def get(self, token_hash: str) -> P | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry.expires <= self.clock():
            with self._lock:
                self._entries.pop(token_hash, None)
            return None
        return entry.principal

    def put(self, token_hash: str, principal: P, *, identity: Identity | None = None) -> None:
        """Remember for `ttl` seconds. A provider token's signature and expiry are not what is kept: the caller
        checks those on every request, and keeps only who the database says the token's person is."""
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._evict()
            self._entries[token_hash] = _Entry(principal, self.clock() + self.ttl, identity)

    def forget(self, identity: Identity) -> None:
        """Drop every entry of this person: their provider tokens, and the API tokens of the users those named."""
        with self._lock:
            users: set[uuid.UUID] = {e.principal.user_id for e in self._entries.values() if e.identity == identity}
            self._entries = {key: e for key, e in self._entries.items()
                             if e.identity != identity and e.principal.user_id not in users}

    def _evict(self) -> None:
        now = self.clock()
        self._entries = {key: e for key, e in self._entries.items() if e.expires > now}
        while len(self._entries) >= self.max_entries:  # still full of live entries: the oldest go first
            del self._entries[next(iter(self._entries))]
