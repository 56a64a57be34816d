"""Bring up the compute side: Ray (local or a cluster), the Serve apps (API, sentence encoder), the dispatcher.
The composition root's part that joins the API (serve/) and the pipeline (tasks/) on one Ray."""

from __future__ import annotations

import logging
import os
import socket

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


def direct_ingress_env(settings: Settings) -> dict[str, str]:
    """Serve's direct ingress (API_INGRESS=direct): the API replica answers HTTP on api_port itself, not behind
    Serve's proxy. Every app's ingress replica takes a port, lowest free first: api_port goes to the API, deployed
    first, and api_port + 1 to the sentence encoder (no route of its own; loopback by default). So one API replica
    per machine. With no load balancer in front, a restarted replica takes its port back at once (no quarantine)
    and a stopping one does not wait for one to notice (no drain period). Serve's controller and replicas read these
    at import, so they are set before Ray starts its processes."""
    return {"RAY_SERVE_ENABLE_DIRECT_INGRESS": "1",
            "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(settings.api_port),
            "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(settings.api_port + 2),
            "RAY_SERVE_PORT_QUARANTINE_S": "0",
            "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0"}


def ports_taken(settings: Settings) -> list[str]:
    """The ports `vigil up` will listen on that something else already holds, each with what needs it. Checked
    before anything starts: a port found taken later leaves Serve retrying or a replica failing without saying
    why."""
    needed = {settings.api_port: "API_PORT (the API)"}
    if settings.api_ingress == "direct" and not settings.ray_address:
        needed[settings.api_port + 1] = "API_PORT + 1 (the sentence encoder, under direct ingress)"
    needed |= {settings.dashboard_port: "DASHBOARD_PORT (the dashboard)",
               settings.ray_dashboard_port: "RAY_DASHBOARD_PORT (Ray's dashboard)"}
    taken = []
    for port, what in needed.items():
        with socket.socket() as s:
            # As the servers bind: a just-closed connection's TIME_WAIT does not hold the port; a listener does.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((settings.api_host, port))
                s.listen()
            except OSError:
                taken.append(f"{port}: {what}")
    return taken


def start_ray(settings: Settings) -> None:
    if ray.is_initialized():
        return
    if settings.ray_address:
        ray.init(address=settings.ray_address, namespace=NAMESPACE, log_to_driver=False, runtime_env=RUNTIME_ENV)
        return
    if settings.api_ingress == "direct":
        os.environ.update(direct_ingress_env(settings))  # the raylet and every worker inherit it
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


def direct_ingress_on() -> bool:
    """Whether the Ray this process started (or the node's environment, on a cluster) runs Serve's direct ingress:
    the variable Serve itself reads."""
    return os.environ.get("RAY_SERVE_ENABLE_DIRECT_INGRESS") == "1"


def start_api(settings: Settings, database_url: str, name: str = "vigil", route_prefix: str = "/") -> None:
    """With direct ingress, Serve still runs its proxy on the head node (it routes any other app): on a free port,
    since the replica holds api_port."""
    port = _free_port(settings.api_host) if direct_ingress_on() else settings.api_port
    ray_serve.start(http_options={"host": settings.api_host, "port": port})
    ray_serve.run(build_app(settings, database_url), name=name, route_prefix=route_prefix, blocking=False)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


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
