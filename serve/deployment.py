"""Ray Serve composition: the FastAPI ingress as a deployment. Scaling lives in cluster/serve_config.yaml."""

from __future__ import annotations

from ray import serve as ray_serve
from ray.serve.config import BackpressureConfig

from serve.app import create_app
from serve.deps import set_process_context
from vigil.context import Context
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
