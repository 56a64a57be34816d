"""The deployment's files agree with each other and with the code: one Ray version everywhere, the one installed;
every environment variable they set is a setting Vigil reads; the settings a cluster needs reach the API and the
dispatcher alike; the dispatcher is started by a command that exists and is restarted when it exits; the image runs
as a non-root user. Nothing here builds an image or talks to a cluster: docs/deployment.md says what was not tried."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from vigil.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
RAY = version("ray")
# Variables Ray itself reads, set beside Vigil's settings (RAY_ADDRESS is both: `Settings.ray_address`).
RAY_VARIABLES = {"RAY_AUTH_MODE", "RAY_AUTH_TOKEN"}
# What a process on a cluster must be given. Unset, it would keep its state on its own machine (the database, the
# object store, a keyring file), seal or sign with a key of its own where another process checks (audit entries,
# alert links), connect as the app role without a password (only the embedded server trusts that), or send alerts
# linking to 127.0.0.1.
CLUSTER_SETTINGS = {"DATABASE_URL", "DATABASE_APP_URL", "OBJECT_STORE_URL", "ENCRYPTION_KEYS", "AUDIT_KEY",
                    "SIGNING_KEY", "API_URL", "DASHBOARD_URL"}
UNIT = ROOT / "cluster" / "vigil-dispatcher.service"


def _load(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text())


def _settings() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def _rayservice_containers() -> list[dict[str, Any]]:
    cluster = _load("cluster/rayservice.yaml")["spec"]["rayClusterConfig"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    return [container for group in groups for container in group["template"]["spec"]["containers"]]


def _dispatcher() -> dict[str, Any]:
    (container,) = _load("cluster/dispatcher.yaml")["spec"]["template"]["spec"]["containers"]
    return container


def _config_map() -> dict[str, Any]:
    return _load("cluster/settings.yaml")


def _unit() -> dict[str, list[tuple[str, str]]]:
    """The unit's sections, each a list of (key, value) in order: keys such as Environment may repeat."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
        else:
            key, _, value = line.partition("=")
            sections[current].append((key, value))
    return sections


def _unit_environment() -> dict[str, str]:
    pairs = [item.split("=", 1) for key, value in _unit()["Service"] if key == "Environment" for item in value.split()]
    return dict(pairs)


def _given(container: dict[str, Any]) -> set[str]:
    """The variables a container is given by name, and those of the ConfigMap it takes whole."""
    names = {variable["name"] for variable in container["env"]}
    config_map = _config_map()
    if {"configMapRef": {"name": config_map["metadata"]["name"]}} in container["envFrom"]:
        names |= set(config_map["data"])
    return names


def _vigil_command_exists(args: list[str]) -> bool:
    """`vigil ARGS --help` succeeds: ARGS name a command the CLI has."""
    from typer.testing import CliRunner

    from cli.main import app

    return CliRunner().invoke(app, [*args, "--help"]).exit_code == 0


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of each Dockerfile instruction, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [(op, arg) for op, arg in (line.split(maxsplit=1) for line in lines)]


def test_every_cluster_file_parses_as_yaml() -> None:
    paths = [*sorted((ROOT / "cluster").glob("*.yaml")), ROOT / "ray-cluster.yaml"]
    assert {p.name for p in paths} >= {"rayservice.yaml", "dispatcher.yaml", "settings.yaml", "serve-config.yaml"}
    for path in paths:
        documents = list(yaml.safe_load_all(path.read_text()))
        assert documents and all(isinstance(d, dict) for d in documents), path.name
    inline = yaml.safe_load(_load("cluster/rayservice.yaml")["spec"]["serveConfigV2"])
    assert inline["applications"]


def test_the_cluster_launcher_file_is_valid_for_the_installed_ray() -> None:
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(_load("ray-cluster.yaml"), schema)


def _pinned(pattern: str, text: str) -> str:
    """The version `pattern` finds in `text`, or the whole text when it names none (for the failure to show)."""
    matched = re.fullmatch(pattern, text)
    return matched.group(1) if matched else text


def test_one_ray_version_everywhere_and_it_is_the_one_installed() -> None:
    found: dict[str, list[str]] = {}
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found["pyproject.toml"] = [_pinned(r"ray\[serve\]==([\d.]+)", d) for d in dependencies if d.startswith("ray")]
    found["Dockerfile FROM"] = re.findall(r"^FROM rayproject/ray:([\d.]+)-py\d+\b", (ROOT / "Dockerfile").read_text(),
                                          re.M)
    found["rayservice.yaml rayVersion"] = [_load("cluster/rayservice.yaml")["spec"]["rayClusterConfig"]["rayVersion"]]
    images = [c["image"] for c in [*_rayservice_containers(), _dispatcher()]]
    found["image tags"] = [_pinned(r".+:[\w.]+-ray([\d.]+)", image) for image in images]
    installs = [c for c in _load("ray-cluster.yaml")["setup_commands"] if "pip install" in c]
    found["ray-cluster.yaml install"] = [v for c in installs for v in re.findall(r"ray\[serve\]==([\d.]+)", c)]

    assert all(found.values()), f"a file names no Ray version: {found}"
    assert {name: set(versions) for name, versions in found.items()} == {name: {RAY} for name in found}


def test_every_variable_the_deployment_sets_is_a_setting_vigil_reads() -> None:
    settings = _settings()
    set_by: dict[str, set[str]] = {
        "cluster/settings.yaml": set(_config_map()["data"]),
        "cluster/vigil-dispatcher.service": set(_unit_environment()),
        "cluster/serve-config.yaml": {name for app in _load("cluster/serve-config.yaml")["applications"]
                                      for name in app["runtime_env"].get("env_vars", {})},
    }
    for container in [*_rayservice_containers(), _dispatcher()]:
        set_by[container["name"]] = {variable["name"] for variable in container["env"]}
    unknown = {where: sorted(names - settings - RAY_VARIABLES) for where, names in set_by.items()}
    assert unknown == {where: [] for where in set_by}, "not a field of vigil/settings.py (upper-cased)"


def test_the_settings_a_cluster_needs_reach_the_api_and_the_dispatcher_alike() -> None:
    assert CLUSTER_SETTINGS <= _settings()
    for container in [*_rayservice_containers(), _dispatcher()]:
        assert CLUSTER_SETTINGS - _given(container) == set(), container["name"]
        # A secret is named one by one, from the secret all pods take whole, so a missing key stops the pod.
        secret = {"secretRef": {"name": "vigil-env"}}
        assert secret in container["envFrom"], container["name"]
        for variable in container["env"]:
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] == "vigil-env":
                assert ref["key"] == variable["name"], variable
    assert _config_map()["data"]["OBJECT_STORE_URL"].startswith("s3://"), "every pod must share one object store"


def test_the_dispatcher_runs_beside_the_rayservice_with_the_same_image_and_settings() -> None:
    service = _load("cluster/rayservice.yaml")
    head = service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    dispatcher = _dispatcher()
    assert {c["image"] for c in _rayservice_containers()} == {dispatcher["image"]}
    assert dispatcher["envFrom"] == head["envFrom"]
    assert [v for v in dispatcher["env"] if v["name"] != "RAY_ADDRESS"] == head["env"]
    # Over Ray Client at the head service KubeRay keeps for the RayService, on the head's client port.
    client_port = next(p["containerPort"] for p in head["ports"] if p["name"] == "client")
    address = next(v["value"] for v in dispatcher["env"] if v["name"] == "RAY_ADDRESS")
    assert address == f"ray://{service['metadata']['name']}-head-svc:{client_port}"
    deployment = _load("cluster/dispatcher.yaml")
    assert deployment["spec"]["replicas"] == 1, "one dispatcher per cluster: a second exits"
    assert deployment["spec"]["strategy"]["type"] == "Recreate", "a rollout must not run two at once"


def test_both_supervisors_run_a_vigil_command_that_exists() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["vigil"] == "cli.main:app"
    program, *args = _dispatcher()["command"]
    assert (program, args) == ("vigil", ["dispatcher"])
    assert _vigil_command_exists(args)
    executable, *unit_args = dict(_unit()["Service"])["ExecStart"].split()
    assert executable == "/home/ubuntu/vigil/.venv/bin/vigil" and _vigil_command_exists(unit_args)
    assert unit_args == ["dispatcher"]
    assert not _vigil_command_exists(["dispatch"]), "the check must be able to fail"


def test_the_head_node_runs_the_dispatcher_under_systemd_restarting_it() -> None:
    cluster = _load("ray-cluster.yaml")
    assert cluster["file_mounts"]["/home/ubuntu/vigil"] == "."
    assert any(f"cp ~/vigil/cluster/{UNIT.name} /etc/systemd/system/" in c for c in cluster["head_setup_commands"])
    starts = cluster["head_start_ray_commands"]
    stop = next(i for i, c in enumerate(starts) if "systemctl stop vigil-dispatcher" in c)
    ray_stop = next(i for i, c in enumerate(starts) if "ray stop" in c)
    ray_start = next(i for i, c in enumerate(starts) if "ray start --head" in c)
    start = next(i for i, c in enumerate(starts) if "systemctl start vigil-dispatcher" in c)
    assert stop < ray_stop < ray_start < start
    service = dict(_unit()["Service"])
    assert (service["Restart"], service["User"], service["WorkingDirectory"]) == (
        "always", cluster["auth"]["ssh_user"], "/home/ubuntu/vigil")
    assert dict(_unit()["Unit"])["StartLimitIntervalSec"] == "0", "systemd must never stop restarting it"
    environment = _unit_environment()
    assert environment["RAY_ADDRESS"] == "auto" and environment["RAY_AUTH_MODE"] == "token"
    # The same settings as the API the Serve config deploys on that cluster.
    (api,) = [a for a in _load("cluster/serve-config.yaml")["applications"] if a["runtime_env"].get("env_vars")]
    assert api["runtime_env"]["env_vars"].items() <= environment.items()


def test_the_unit_is_one_systemd_accepts(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # Verified as if this repository were the head node's copy, so that ExecStart names a program that exists.
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/home/ubuntu/vigil", str(ROOT)))
    checked = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


def test_ray_up_copies_the_repository_without_what_git_ignores() -> None:
    cluster = _load("ray-cluster.yaml")
    assert ".gitignore" in cluster["rsync_filter"]
    ignored = (ROOT / ".gitignore").read_text().split()
    assert {".venv/", "/data/", ".env"} <= set(ignored)


def test_the_image_is_ray_s_own_with_vigil_installed_as_a_non_root_user() -> None:
    instructions = _dockerfile()
    (base,) = [arg for op, arg in instructions if op == "FROM"]
    assert base == f"rayproject/ray:{RAY}-py311"
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    runs = " ".join(arg for op, arg in instructions if op == "RUN")
    copied = next(arg for op, arg in instructions if op == "COPY").split()[-1]
    assert f"pip install --no-cache-dir {copied}" in runs
    assert "vigil dispatcher --help" in runs, "the build checks the command the cluster runs"


def test_the_build_context_admits_only_the_package_source() -> None:
    patterns = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert patterns[0] == "*", "everything is left out unless named"
    admitted = {p[1:] for p in patterns if p.startswith("!")}
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert admitted == {"pyproject.toml", "README.md"} | {p.rstrip("*") for p in packages["include"]}
