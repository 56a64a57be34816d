"""Ray Serve composition: the FastAPI ingress as a deployment. Scaling lives in cluster/serve_config.yaml."""

from __future__ import annotations

from ray import serve as ray_serve

from serve.app import configure, create_app
from vigil.context import Context
from vigil.settings import Settings

api = create_app()


@ray_serve.deployment(name="VigilIngress", ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=32)
@ray_serve.ingress(api)
class VigilIngress:
    def __init__(self, settings: Settings, database_url: str) -> None:
        configure(api, Context.build(settings, database_url))


def build_app(settings: Settings, database_url: str) -> ray_serve.Application:
    return VigilIngress.bind(settings, database_url)
