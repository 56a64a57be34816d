"""One OpenID Connect provider's signing keys: its discovery document names the key set (`jwks_uri`), which is
fetched on first use and kept for `max_age_seconds` (so a key the provider withdrew stops being accepted). A token
naming a key id the kept set lacks means the provider rotated its keys: the set is fetched again at once, then at
most once per `refetch_seconds`, so tokens with made-up key ids cannot make every request call the provider."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from vigil.errors import VigilError

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"


class ProviderUnreachable(VigilError):
    """The provider's discovery document or key set could not be read (or made no sense): no token of it can be
    checked until it can."""

    code = "identity_provider_unreachable"


class ProviderKeys:
    def __init__(self, issuer: str, *, timeout: float = 10.0, refetch_seconds: float = 10.0,
                 max_age_seconds: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.issuer = issuer
        self.timeout = timeout
        self.refetch_seconds = refetch_seconds
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._jwks_uri: str | None = None
        self._loaded_at = float("-inf")
        self._refetched_at = float("-inf")  # the last fetch an unknown key id caused

    def for_key_id(self, kid: str | None) -> KeySet:
        """The provider's keys, fetched again first when they are old, or when `kid` is not among them (unless an
        unknown key id caused a fetch very recently). The caller's verification fails on its own if the key is
        still missing."""
        with self._lock:
            now = self._clock()
            stale = self._keys is None or now - self._loaded_at >= self.max_age_seconds
            rotated = not stale and not self._has(kid) and now - self._refetched_at >= self.refetch_seconds
            if stale or rotated:
                self._keys, self._loaded_at = self._fetch(), now
                if rotated:
                    self._refetched_at = now
            assert self._keys is not None
            return self._keys

    def _has(self, kid: str | None) -> bool:
        assert self._keys is not None
        return any(key.kid == kid for key in self._keys) or (kid is None and len(self._keys.keys) == 1)

    def _fetch(self) -> KeySet:
        if self._jwks_uri is None:
            discovery = self._get_json(self.issuer.rstrip("/") + DISCOVERY_PATH)
            if discovery.get("issuer") != self.issuer or not isinstance(discovery.get("jwks_uri"), str):
                raise ProviderUnreachable(f"the discovery document of {self.issuer} names another issuer or no "
                                          "jwks_uri")
            self._jwks_uri = discovery["jwks_uri"]
        try:
            keys = KeySet.import_key_set(self._get_json(self._jwks_uri))  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise ProviderUnreachable(f"the key set of {self.issuer} could not be read: {exc}") from exc
        log.info("identity provider keys fetched", extra={"issuer": self.issuer, "keys": len(keys.keys)})
        return keys

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            answer = httpx.get(url, timeout=self.timeout, follow_redirects=False)
            answer.raise_for_status()
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnreachable(f"{url} could not be read: {type(exc).__name__}") from exc
        if not isinstance(body, dict):
            raise ProviderUnreachable(f"{url} did not answer a JSON object")
        return body
