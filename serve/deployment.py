"""Ray Serve composition: the FastAPI ingress as a deployment. Scaling lives in cluster/serve-config.yaml
(`serve deploy cluster/serve-config.yaml`), which builds the app with `app_from_environment`."""

from __future__ import annotations

from ray import serve as ray_serve
from ray.serve.config import BackpressureConfig

from serve.app import create_app
from serve.deps import set_process_context
from vigil.context import Context
from vigil.db.engine import resolve_database_url, run_migrations
from vigil.secrets import load_settings
from vigil.settings import Settings

api = create_app()


@ray_serve.deployment(name="VigilIngress", ray_actor_options={"num_cpus": 0})
@ray_serve.ingress(api)
class VigilIngress:
    def __init__(self, settings: Settings, database_url: str) -> None:
        set_process_context(Context.build(settings, database_url))


def build_app(settings: Settings, database_url: str) -> ray_serve.Application:
    """Overload is answered by Serve itself, before a replica is touched: past the queue limit a
    client gets 429 with Retry-After instead of waiting on a request that would time out."""
    return VigilIngress.options(
        max_ongoing_requests=settings.api_max_ongoing_requests,
        max_queued_requests=settings.api_max_queued_requests,
        backpressure_config=BackpressureConfig(status_code=429, retry_after_s=settings.api_retry_after_seconds),
    ).bind(settings, database_url)


def app_from_environment(args: dict[str, str]) -> ray_serve.Application:
    """The Serve config's application builder: settings from the environment of the cluster (DATABASE_URL, an
    s3:// OBJECT_STORE_URL, keys from the secrets backend), so any node can serve. `args` override settings."""
    settings = load_settings(**args)
    if not settings.database_url:
        raise ValueError("on a cluster, set DATABASE_URL: the embedded database lives on one machine only")
    if not settings.encryption_keys:
        raise ValueError("on a cluster, set ENCRYPTION_KEYS (or keep it in the secrets backend): a keyring file "
                         "lives on one machine only")
    if not settings.audit_key:
        raise ValueError("on a cluster, set AUDIT_KEY (or keep it in the secrets backend): every node must seal audit "
                         "entries under the same key")
    url = resolve_database_url(settings)
    run_migrations(url)
    return build_app(settings, url)
