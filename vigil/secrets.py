"""Where secrets come from: the environment (the default) or AWS Secrets Manager, read once at startup
(`load_settings`) to fill the secret fields of `Settings` the environment left unset. Values are never logged,
shown in a repr or put in an error message; only secret ids and AWS error codes are."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import BaseModel
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from vigil.errors import VigilError
from vigil.settings import Settings

log = logging.getLogger(__name__)

# Settings field → secret name (the environment variable name, and the id under the Secrets Manager prefix).
SECRET_FIELDS: dict[str, str] = {"database_url": "DATABASE_URL", "database_app_url": "DATABASE_APP_URL",
                                 "openai_api_key": "OPENAI_API_KEY", "assemblyai_api_key": "ASSEMBLYAI_API_KEY",
                                 "signing_key": "SIGNING_KEY", "encryption_keys": "ENCRYPTION_KEYS",
                                 "audit_key": "AUDIT_KEY", "smtp_url": "SMTP_URL",
                                 "oidc_client_secret": "OIDC_CLIENT_SECRET", "oidc_cookie_secret": "OIDC_COOKIE_SECRET"}

_ATTEMPTS = 3
_TRANSIENT_CODES = frozenset({"InternalServiceError", "ThrottlingException", "TooManyRequestsException",
                              "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException"})


class SecretsUnavailable(VigilError):
    """The secrets store could not be read (unreachable, refused, throttled past the retries). The message names
    the secret id and the AWS error code, never a value."""

    code = "secrets_unavailable"

    def __init__(self, secret_id: str, aws_code: str) -> None:
        super().__init__(f"secret {secret_id!r} unavailable: {aws_code}")
        self.secret_id = secret_id
        self.aws_code = aws_code


class SecretsBackend(Protocol):
    def get(self, name: str) -> str | None: ...


class EnvSecrets:
    """Secrets from environment variables (or any mapping); an empty variable counts as unset."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, name: str) -> str | None:
        return self._environ.get(name) or None

    def __repr__(self) -> str:
        return "EnvSecrets()"


# botocore's parser logs every response body at DEBUG ("Response body: b'{... \"SecretString\": ...}'"), so
# anyone debugging boto (or a test capturing DEBUG) would see every secret we read. Raising the logger's level
# would silence the bodies of every AWS call in the process and is undone by the first `setLevel(DEBUG)`;
# instead a filter on that logger drops body records only while this thread is inside one of our reads.
_reading_secret: ContextVar[bool] = ContextVar("vigil_reading_secret", default=False)


class _DropSecretResponseBodies(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_reading_secret.get() and str(record.msg).startswith("Response body"))


_BODY_FILTER = _DropSecretResponseBodies()


@contextmanager
def _reading() -> Iterator[None]:
    token = _reading_secret.set(True)
    try:
        yield
    finally:
        _reading_secret.reset(token)


@dataclass(frozen=True)
class _Cached:
    value: str | None
    expires_at: float


class AwsSecretsManager:
    """Secrets from AWS Secrets Manager (or anything speaking its API): `get("OPENAI_API_KEY")` reads the secret
    `{prefix}OPENAI_API_KEY`. Answers, "not found" included, are cached per name for `ttl_seconds`; transient
    failures are retried (three attempts, short backoff) and then raise `SecretsUnavailable`."""

    def __init__(self, *, prefix: str = "vigil/", region: str = "us-east-1", endpoint_url: str | None = None,
                 ttl_seconds: float = 300.0, client: Any | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.prefix = prefix
        self.region = region
        self.endpoint_url = endpoint_url
        self.ttl_seconds = ttl_seconds
        # botocore's own retries are switched off: tenacity is the one retry layer, so a dead endpoint fails in
        # about a second instead of botocore's attempts multiplied by ours.
        self.client = client if client is not None else boto3.client(
            "secretsmanager", region_name=region, endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=10))
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        # Guards the cache only; reads run outside it, so a slow read of one secret does not block the others
        # (two threads missing the same name at once may both read it, which is harmless).
        self._lock = threading.Lock()
        self._retrying = Retrying(stop=stop_after_attempt(_ATTEMPTS), wait=wait_exponential(multiplier=0.1, max=1.0),
                                  retry=retry_if_exception(_is_transient), before_sleep=_log_retry, reraise=True)
        logging.getLogger("botocore.parsers").addFilter(_BODY_FILTER)  # idempotent: a filter is added once

    def get(self, name: str) -> str | None:
        secret_id = self.prefix + name
        now = self._clock()
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and now < cached.expires_at:
            log.debug("secret fetched", extra={"secret_id": secret_id, "cached": True,
                                               "found": cached.value is not None})
            return cached.value
        value = self._read(secret_id)
        with self._lock:
            self._cache[name] = _Cached(value, now + self.ttl_seconds)
        log.info("secret fetched", extra={"secret_id": secret_id, "cached": False, "found": value is not None})
        return value

    def invalidate(self, name: str | None = None) -> None:
        """Forget one cached answer (or all): the next `get` reads the store again, e.g. after a rotation."""
        with self._lock:
            if name is None:
                self._cache.clear()
            else:
                self._cache.pop(name, None)

    def _read(self, secret_id: str) -> str | None:
        try:
            # A Retrying keeps per-call state; a copy per read keeps concurrent reads apart.
            with _reading():
                response = self._retrying.copy()(self.client.get_secret_value, SecretId=secret_id)
        except ClientError as exc:
            code = _error_code(exc)
            if code == "ResourceNotFoundException":
                return None
            raise SecretsUnavailable(secret_id, code) from exc
        except BotoCoreError as exc:
            raise SecretsUnavailable(secret_id, type(exc).__name__) from exc
        if "SecretString" in response:
            return response["SecretString"]
        try:
            return response["SecretBinary"].decode("utf-8")
        except UnicodeDecodeError:
            # Not chained: a UnicodeDecodeError carries (and its repr shows) the whole undecodable value.
            raise SecretsUnavailable(secret_id, "SecretBinaryNotUtf8") from None

    def __repr__(self) -> str:
        return (f"AwsSecretsManager(prefix={self.prefix!r}, region={self.region!r}, "
                f"endpoint_url={self.endpoint_url!r}, ttl_seconds={self.ttl_seconds!r})")


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "ClientError")


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return _error_code(exc) in _TRANSIENT_CODES or status == 429 or status >= 500
    return False


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    code = _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    log.warning("secret read failed, retrying", extra={"secret_id": state.kwargs.get("SecretId"), "error": code,
                                                        "attempt": state.attempt_number})


def backend_from_settings(settings: Settings) -> SecretsBackend | None:
    """The configured backend, or None for "env" (pydantic-settings has already read the environment)."""
    kind = (settings.secrets_backend or "env").strip().lower()
    if kind == "env":
        return None
    if kind == "aws":
        return AwsSecretsManager(prefix=settings.secrets_prefix, region=settings.secrets_region,
                                 endpoint_url=settings.secrets_endpoint_url, ttl_seconds=settings.secrets_ttl_seconds)
    raise ValueError(f"SECRETS_BACKEND must be 'env' or 'aws', not {kind!r}")


_S = TypeVar("_S", bound=BaseModel)


def fill_secrets(settings: _S, backend: SecretsBackend) -> _S:
    """A copy of `settings` with every secret field the environment left unset (None or empty) read from
    `backend`; values the environment set win. Fields this settings object does not have are skipped."""
    fields = type(settings).model_fields
    updates: dict[str, str] = {}
    for field, name in SECRET_FIELDS.items():
        if field not in fields or getattr(settings, field):
            continue
        value = backend.get(name)
        if value:
            updates[field] = value
    log.info("settings filled from secrets backend", extra={"fields": sorted(updates)})
    return settings.model_copy(update=updates) if updates else settings


def load_settings(**overrides: object) -> Settings:
    """Read settings once at a process's entry point; everything else takes them as an argument. Secrets the
    environment leaves unset come from the secrets backend (SECRETS_BACKEND), when there is one."""
    settings = Settings(**overrides)  # type: ignore[arg-type]
    backend = backend_from_settings(settings)
    return fill_secrets(settings, backend) if backend is not None else settings
