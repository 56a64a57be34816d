"""Ray Serve composition: the FastAPI ingress as a deployment. Scaling lives in cluster/serve_config.yaml."""

from __future__ import annotations

from ray import serve as ray_serve

from serve.app import create_app
from serve.deps import set_process_context
from vigil.context import Context
from vigil.settings import Settings

api = create_app()


@ray_serve.deployment(name="VigilIngress", ray_actor_options={"num_cpus": 0}, max_ongoing_requests=32)
@ray_serve.ingress(api)
class VigilIngress:
    def __init__(self, settings: Settings, database_url: str) -> None:
        set_process_context(Context.build(settings, database_url))


def build_app(settings: Settings, database_url: str) -> ray_serve.Application:
    return VigilIngress.bind(settings, database_url)
