"""Bring up the compute side: Ray (local or a cluster), the Serve apps (API, sentence encoder), the dispatcher.
The composition root's part that joins the API (serve/) and the pipeline (tasks/) on one Ray."""

from __future__ import annotations

import logging
import os

import ray
from ray import serve as ray_serve

from serve.deployment import build_app
from serve.sentence_encoder import app as encoder_app
from tasks.dispatcher import Dispatcher
from tasks.risk_scoring import APP_NAME
from vigil.settings import Settings

log = logging.getLogger(__name__)
NAMESPACE = "vigil"
DISPATCHER_NAME = "vigil-dispatcher"


# Every Ray worker process (Serve replicas, the dispatcher, stage tasks) logs JSON lines with the bound ids and
# records Vigil's metrics.
RUNTIME_ENV = {"worker_process_setup_hook": "tasks.prometheus.setup_worker_process"}


def start_ray(settings: Settings) -> None:
    if ray.is_initialized():
        return
    if settings.ray_address:
        ray.init(address=settings.ray_address, namespace=NAMESPACE, log_to_driver=False, runtime_env=RUNTIME_ENV)
        return
    ray.init(
        # "local": a Ray of our own, never the cluster a stale `ray_current_cluster` record names (a `ray start`
        # that is gone, or a crash); a cluster is joined only by address (RAY_ADDRESS).
        address="local",
        namespace=NAMESPACE,
        runtime_env=RUNTIME_ENV,
        _node_ip_address="127.0.0.1",
        # Logical slots, not cores: the transcription actor holds one for its lifetime, so a
        # 2-core laptop still needs room for extraction and analysis tasks beside it.
        num_cpus=max(4, os.cpu_count() or 2),
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        dashboard_port=settings.ray_dashboard_port,
        log_to_driver=False,
    )


def start_api(settings: Settings, database_url: str, name: str = "vigil", route_prefix: str = "/") -> None:
    ray_serve.start(http_options={"host": settings.api_host, "port": settings.api_port})
    ray_serve.run(build_app(settings, database_url), name=name, route_prefix=route_prefix, blocking=False)


def start_encoder() -> None:
    """The risk model's sentence encoder beside the API (no HTTP route: the analyze stage calls it by handle).
    Locally one replica with the deployment's default batching; on a cluster, cluster/serve-config.yaml."""
    ray_serve.run(encoder_app(), name=APP_NAME, route_prefix=None, blocking=False)


def start_dispatcher(settings: Settings, database_url: str) -> ray.actor.ActorHandle:
    """The dispatcher, owned by this driver: it lives as long as the driver does (see `vigil dispatcher`). Raises
    ValueError when the cluster already has one."""
    return Dispatcher.options(name=DISPATCHER_NAME).remote(settings, database_url)


def stop_all() -> None:
    try:
        ray_serve.shutdown()
    finally:
        ray.shutdown()
