"""The cluster files stay runnable: the Serve config's builder and deployments exist in the code, the KubeRay
RayService serves the same application, and the cluster launcher installs the project on every node."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def _resolve(path: str) -> object:
    module, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def test_the_serve_config_names_a_builder_and_deployments_the_code_has() -> None:
    from serve import deployment

    config = _load("cluster/serve-config.yaml")
    application, encoder = config["applications"]
    assert callable(_resolve(application["import_path"]))
    assert callable(_resolve(application["runtime_env"]["worker_process_setup_hook"]))
    names = {d["name"] for d in application["deployments"]}
    assert names == {deployment.VigilIngress.name}
    ingress = application["deployments"][0]
    assert ingress["autoscaling_config"]["min_replicas"] >= 2 and ingress["max_ongoing_requests"] > 0


def test_the_serve_config_runs_the_sentence_encoder_where_the_analyze_stage_looks_for_it() -> None:
    from serve import sentence_encoder
    from tasks import risk_scoring

    encoder = _load("cluster/serve-config.yaml")["applications"][1]
    assert (encoder["name"], encoder["route_prefix"]) == (risk_scoring.APP_NAME, None)
    assert callable(_resolve(encoder["import_path"]))
    (declared,) = encoder["deployments"]
    assert declared["name"] == sentence_encoder.SentenceEncoder.name == risk_scoring.DEPLOYMENT_NAME
    # A caller's part must fit in one batch, or Serve rejects it ("Size of item is greater than max_batch_size").
    assert declared["user_config"]["max_batch_sentences"] >= risk_scoring.PART_SENTENCES
    assert declared["num_replicas"] >= 1


def test_the_rayservice_serves_the_same_application() -> None:
    service = _load("cluster/rayservice.yaml")
    inline_apps = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"]
    config_apps = _load("cluster/serve-config.yaml")["applications"]
    assert [a["name"] for a in inline_apps] == [a["name"] for a in config_apps]
    for inline, config in zip(inline_apps, config_apps, strict=True):
        for key in ("name", "route_prefix", "import_path"):
            assert inline[key] == config[key], key
    for ours, theirs in zip(inline_apps[0]["deployments"], config_apps[0]["deployments"], strict=True):
        assert (ours["name"], ours["max_ongoing_requests"], ours["autoscaling_config"]["max_replicas"]) == (
            theirs["name"], theirs["max_ongoing_requests"], theirs["autoscaling_config"]["max_replicas"])
    assert inline_apps[1]["deployments"] == config_apps[1]["deployments"]
    workers = service["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    assert workers and workers[0]["maxReplicas"] > workers[0]["minReplicas"]


def test_the_cluster_launcher_installs_vigil_on_every_node() -> None:
    cluster = _load("ray-cluster.yaml")
    assert set(cluster["available_node_types"]) == {"head", "cpu_worker"}
    assert cluster["available_node_types"]["cpu_worker"]["max_workers"] > cluster["available_node_types"][
        "cpu_worker"]["min_workers"]
    assert any("pip install" in command and "-e ." in command for command in cluster["setup_commands"])
    assert any("ray start --head" in c for c in cluster["head_start_ray_commands"])


def test_the_serve_builder_refuses_machine_local_state(monkeypatch: pytest.MonkeyPatch) -> None:
    from serve.deployment import app_from_environment

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    with pytest.raises(ValueError, match="DATABASE_URL"):
        app_from_environment({"_env_file": None})
    with pytest.raises(ValueError, match="ENCRYPTION_KEYS"):
        app_from_environment({"_env_file": None, "database_url": "postgresql://db.example/vigil"})
    with pytest.raises(ValueError, match="AUDIT_KEY"):  # every node must seal audit entries under one key
        app_from_environment({"_env_file": None, "database_url": "postgresql://db.example/vigil",
                              "encryption_keys": "k1:c2VjcmV0"})


def test_every_node_of_both_cluster_files_runs_with_token_authentication() -> None:
    cluster = _load("ray-cluster.yaml")
    starts = cluster["head_start_ray_commands"] + cluster["worker_start_ray_commands"]
    assert all("RAY_AUTH_MODE=token" in command for command in starts if "ray start" in command)
    assert "/home/ubuntu/.ray/auth_token" in cluster["file_mounts"]
    service = _load("cluster/rayservice.yaml")["spec"]["rayClusterConfig"]
    pods = [service["headGroupSpec"]] + service["workerGroupSpecs"]
    for pod in pods:
        env = {e["name"]: e for container in pod["template"]["spec"]["containers"] for e in container["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "auth_token"
