"""Secrets from AWS Secrets Manager: read under a prefix, cached for a TTL (misses too), refreshed on demand, used
only for the settings the environment left unset, and never shown — not in logs (boto's DEBUG output included),
errors or reprs. Against a real Secrets Manager API (moto's server on loopback) through a real boto3 client."""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import boto3
import pytest
from pydantic import BaseModel

from tests.conftest import free_port
from vigil.secrets import (
    AwsSecretsManager,
    EnvSecrets,
    SecretsUnavailable,
    backend_from_settings,
    fill_secrets,
)
from vigil.settings import Settings

OPENAI_KEY = "sk-from-vault-4f9a0c2e7b"
BINARY_KEY = "aai-binary-8e1d5b3a60"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A local server speaking the Secrets Manager API (moto), with dummy credentials: no real account."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
        server.start()
        yield f"http://127.0.0.1:{port}"
        server.stop()


@pytest.fixture
def admin(endpoint: str):  # type: ignore[no-untyped-def]
    """The operator's client, which writes secrets (the backend only reads)."""
    return boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def prefix() -> str:
    """A prefix of the test's own, so tests sharing the server never see each other's secrets."""
    return f"vigil-{uuid.uuid4().hex[:8]}/"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend(endpoint: str, prefix: str, clock: FakeClock) -> AwsSecretsManager:
    return AwsSecretsManager(prefix=prefix, endpoint_url=endpoint, ttl_seconds=60.0, clock=clock)


def test_get_reads_the_secret_under_the_prefix(backend: AwsSecretsManager, admin, prefix: str) -> None:
    admin.create_secret(Name=f"{prefix}OPENAI_API_KEY", SecretString=OPENAI_KEY)
    admin.create_secret(Name=f"other-{prefix}OPENAI_API_KEY", SecretString="sk-someone-elses")

    assert backend.get("OPENAI_API_KEY") == OPENAI_KEY


def test_get_decodes_a_binary_secret(backend: AwsSecretsManager, admin, prefix: str) -> None:
    admin.create_secret(Name=f"{prefix}ASSEMBLYAI_API_KEY", SecretBinary=BINARY_KEY.encode())

    assert backend.get("ASSEMBLYAI_API_KEY") == BINARY_KEY


def test_missing_secret_is_none(backend: AwsSecretsManager) -> None:
    assert backend.get("NO_SUCH_SECRET") is None


def test_cached_value_is_served_until_the_ttl_passes(backend: AwsSecretsManager, admin, prefix: str,
                                                     clock: FakeClock) -> None:
    admin.create_secret(Name=f"{prefix}SIGNING_KEY", SecretString="sign-v1")
    assert backend.get("SIGNING_KEY") == "sign-v1"
    admin.put_secret_value(SecretId=f"{prefix}SIGNING_KEY", SecretString="sign-v2")  # rotated on the server

    clock.now += 59.0
    assert backend.get("SIGNING_KEY") == "sign-v1", "within the TTL the server is not asked again"
    clock.now += 2.0
    assert backend.get("SIGNING_KEY") == "sign-v2"


def test_invalidate_forces_a_fresh_read(backend: AwsSecretsManager, admin, prefix: str) -> None:
    for name in ("SIGNING_KEY", "OPENAI_API_KEY"):
        admin.create_secret(Name=f"{prefix}{name}", SecretString=f"{name}-v1")
        assert backend.get(name) == f"{name}-v1"
        admin.put_secret_value(SecretId=f"{prefix}{name}", SecretString=f"{name}-v2")

    backend.invalidate("SIGNING_KEY")
    assert backend.get("SIGNING_KEY") == "SIGNING_KEY-v2"
    assert backend.get("OPENAI_API_KEY") == "OPENAI_API_KEY-v1", "only the named secret was forgotten"
    backend.invalidate()
    assert backend.get("OPENAI_API_KEY") == "OPENAI_API_KEY-v2"


def test_not_found_is_cached_for_the_ttl(backend: AwsSecretsManager, admin, prefix: str, clock: FakeClock) -> None:
    assert backend.get("DATABASE_URL") is None
    admin.create_secret(Name=f"{prefix}DATABASE_URL", SecretString="postgresql://late@db/vigil")

    assert backend.get("DATABASE_URL") is None, "the miss is remembered"
    clock.now += 61.0
    assert backend.get("DATABASE_URL") == "postgresql://late@db/vigil"


def test_fill_secrets_keeps_values_the_environment_set(backend: AwsSecretsManager, admin, prefix: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    admin.create_secret(Name=f"{prefix}OPENAI_API_KEY", SecretString=OPENAI_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")

    filled = fill_secrets(Settings(_env_file=None), backend)

    assert filled.openai_api_key == "sk-from-the-environment"


def test_fill_secrets_fills_only_unset_fields(backend: AwsSecretsManager, admin, prefix: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ASSEMBLYAI_API_KEY", "SIGNING_KEY", "DATABASE_URL", "DATABASE_APP_URL",
                 "AUDIT_KEY"):
        admin.create_secret(Name=f"{prefix}{name}", SecretString=f"vault-{name}")
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", "")  # set but empty: counts as unset
    for name in ("OPENAI_API_KEY", "DATABASE_URL", "DATABASE_APP_URL", "AUDIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(signing_key="sign-from-env", _env_file=None)

    filled = fill_secrets(settings, backend)

    assert (filled.openai_api_key, filled.assemblyai_api_key, filled.signing_key, filled.database_url,
            filled.database_app_url, filled.audit_key) == (
        "vault-OPENAI_API_KEY", "vault-ASSEMBLYAI_API_KEY", "sign-from-env", "vault-DATABASE_URL",
        "vault-DATABASE_APP_URL", "vault-AUDIT_KEY")
    assert settings.openai_api_key is None, "the original settings are left as they were"
    assert "vault-" not in f"{filled!r} {filled!s}", "filled secrets stay hidden in the settings' repr"


def test_fill_secrets_skips_fields_the_settings_do_not_have(backend: AwsSecretsManager, admin, prefix: str) -> None:
    class NarrowSettings(BaseModel):
        openai_api_key: str | None = None

    admin.create_secret(Name=f"{prefix}OPENAI_API_KEY", SecretString=OPENAI_KEY)
    admin.create_secret(Name=f"{prefix}ENCRYPTION_KEYS", SecretString="k1:c2VjcmV0")

    filled = fill_secrets(NarrowSettings(), backend)

    assert filled.model_dump() == {"openai_api_key": OPENAI_KEY}


def test_unreachable_store_raises_secrets_unavailable_after_retries(prefix: str, endpoint: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    backend = AwsSecretsManager(prefix=prefix, endpoint_url=closed)
    attempts: list[str] = []
    backend.client.meta.events.register("before-send.secrets-manager.GetSecretValue",
                                        lambda **kwargs: attempts.append("sent"))

    started = time.monotonic()
    with pytest.raises(SecretsUnavailable) as failure:
        backend.get("OPENAI_API_KEY")

    assert f"{prefix}OPENAI_API_KEY" in str(failure.value) and "EndpointConnectionError" in str(failure.value)
    assert len(attempts) == 3, "a transient failure is retried, three attempts in all"
    assert time.monotonic() - started < 5.0, "short backoff, no extra botocore retries"


def test_refused_read_raises_at_once_without_the_value(backend: AwsSecretsManager, admin, prefix: str) -> None:
    admin.create_secret(Name=f"{prefix}SIGNING_KEY", SecretString="sign-scheduled-for-deletion")
    admin.delete_secret(SecretId=f"{prefix}SIGNING_KEY")  # in its recovery window: reads are refused
    attempts: list[str] = []
    backend.client.meta.events.register("before-send.secrets-manager.GetSecretValue",
                                        lambda **kwargs: attempts.append("sent"))

    with pytest.raises(SecretsUnavailable) as failure:
        backend.get("SIGNING_KEY")

    assert failure.value.aws_code == "InvalidRequestException" and f"{prefix}SIGNING_KEY" in str(failure.value)
    assert "sign-scheduled" not in f"{failure.value} {failure.value!r}"
    assert len(attempts) == 1, "a refusal is not retried"


def test_no_secret_value_reaches_the_logs(backend: AwsSecretsManager, admin, prefix: str, clock: FakeClock,
                                          caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ASSEMBLYAI_API_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # Written before the capture: the operator's own writes carry the values in botocore's request log.
    admin.create_secret(Name=f"{prefix}OPENAI_API_KEY", SecretString=OPENAI_KEY)
    admin.create_secret(Name=f"{prefix}ASSEMBLYAI_API_KEY", SecretBinary=BINARY_KEY.encode())
    admin.create_secret(Name=f"{prefix}SIGNING_KEY", SecretString="sign-refused-3c8d")
    admin.delete_secret(SecretId=f"{prefix}SIGNING_KEY")
    values = [OPENAI_KEY, BINARY_KEY, base64.b64encode(BINARY_KEY.encode()).decode(), "sign-refused-3c8d"]

    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="botocore"), \
            caplog.at_level(logging.DEBUG, logger="botocore.parsers"), \
            caplog.at_level(logging.DEBUG, logger="urllib3"):
        backend.get("OPENAI_API_KEY")
        backend.get("OPENAI_API_KEY")  # from the cache
        backend.get("ASSEMBLYAI_API_KEY")
        backend.get("DATABASE_URL")  # not found
        clock.now += 61.0
        backend.get("OPENAI_API_KEY")  # expired: read again
        with pytest.raises(SecretsUnavailable):
            backend.get("SIGNING_KEY")
        filled = fill_secrets(Settings(signing_key="sign-from-env", _env_file=None), backend)
        with pytest.raises(SecretsUnavailable):
            AwsSecretsManager(prefix=prefix, endpoint_url=f"http://127.0.0.1:{free_port()}").get("OPENAI_API_KEY")

    assert (filled.openai_api_key, filled.assemblyai_api_key) == (OPENAI_KEY, BINARY_KEY), "the values were read"
    assert any(r.name == "botocore.parsers" for r in caplog.records), "botocore's DEBUG output was captured"
    assert any(r.name == "vigil.secrets" and getattr(r, "secret_id", None) == f"{prefix}OPENAI_API_KEY"
               for r in caplog.records), "reads are logged by id"
    seen = caplog.text + " ".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    assert [v for v in values if v in seen] == []


def test_reprs_show_no_values(backend: AwsSecretsManager, admin, prefix: str) -> None:
    admin.create_secret(Name=f"{prefix}OPENAI_API_KEY", SecretString=OPENAI_KEY)
    backend.get("OPENAI_API_KEY")
    env = EnvSecrets({"OPENAI_API_KEY": OPENAI_KEY})

    shown = f"{backend!r} {backend!s} {env!r} {env!s}"

    assert OPENAI_KEY not in shown and prefix in shown


def test_env_secrets_reads_the_mapping_and_treats_empty_as_unset() -> None:
    env = EnvSecrets({"OPENAI_API_KEY": OPENAI_KEY, "SIGNING_KEY": ""})

    assert (env.get("OPENAI_API_KEY"), env.get("SIGNING_KEY"), env.get("DATABASE_URL")) == (OPENAI_KEY, None, None)


def test_default_settings_use_the_environment_alone() -> None:
    assert backend_from_settings(Settings(_env_file=None)) is None


def test_aws_backend_is_built_from_settings(endpoint: str, admin, prefix: str) -> None:
    admin.create_secret(Name=f"{prefix}OPENAI_API_KEY", SecretString=OPENAI_KEY)
    settings = SimpleNamespace(secrets_backend="aws", secrets_prefix=prefix, secrets_region="us-east-1",
                               secrets_endpoint_url=endpoint, secrets_ttl_seconds=30.0)

    backend = backend_from_settings(settings)  # type: ignore[arg-type]

    assert isinstance(backend, AwsSecretsManager) and backend.ttl_seconds == 30.0
    assert backend.get("OPENAI_API_KEY") == OPENAI_KEY


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="vault"):
        backend_from_settings(SimpleNamespace(secrets_backend="vault"))  # type: ignore[arg-type]


def test_load_settings_takes_what_the_environment_leaves_unset_from_secrets_manager(
        endpoint: str, admin, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from vigil.secrets import load_settings

    admin.create_secret(Name=f"{prefix}OPENAI_API_KEY", SecretString=OPENAI_KEY)
    admin.create_secret(Name=f"{prefix}ENCRYPTION_KEYS", SecretString="k1:" + "A" * 43 + "=")
    for name, value in {"SECRETS_BACKEND": "aws", "SECRETS_PREFIX": prefix, "SECRETS_ENDPOINT_URL": endpoint,
                        "SIGNING_KEY": "from-the-environment"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    settings = load_settings(_env_file=None)
    assert settings.openai_api_key == OPENAI_KEY
    assert settings.encryption_keys == "k1:" + "A" * 43 + "="
    assert settings.signing_key == "from-the-environment"
    assert OPENAI_KEY not in repr(settings)
