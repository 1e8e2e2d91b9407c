"""deploy/: the code location loads under the team settings (Postgres storage, Docker run launcher,
Kubernetes executor), the Helm values point at it, and the image builds where Docker runs."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.train.run_dir import training_root
from resources.pools import GPU_POD_TAGS
from tests.waits import STARTUP_S

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
DAGSTER = str(Path(sys.executable).parent / "dagster")


def _team_env(home: Path, url: str, executor: str) -> dict:
    """DAGSTER_HOME with deploy/dagster.yaml and the variables it reads, pointed at the test server."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    user_host, _, db = url.removeprefix("postgresql://").partition("/")
    user, _, host_port = user_host.partition("@")
    host, _, port = host_port.partition(":")
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": host,
        "DAGSTER_PG_PORT": port,
        "DAGSTER_PG_USER": user,
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": db,
        "MPYFORGE_IMAGE": "mpyforge:test",
        "DAGSTER_DOCKER_NETWORK": "mpyforge",
        "MPYFORGE_EXECUTOR": executor,
    }


def test_the_code_location_validates_under_the_team_instance(postgres, tmp_path):
    # The Helm setting (a pod per step); the default executor is validated in test_definitions.
    env = _team_env(tmp_path / "home", postgres.create_database(), "k8s")
    # The instance itself (Postgres storage, Docker run launcher) must build from deploy/dagster.yaml.
    info = subprocess.run(
        [DAGSTER, "instance", "info"], cwd=REPO, env=env, capture_output=True, text=True, timeout=STARTUP_S
    )
    assert info.returncode == 0, info.stdout + info.stderr
    assert "PostgresRunStorage" in info.stdout and "DockerRunLauncher" in info.stdout, info.stdout
    done = subprocess.run(
        [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=STARTUP_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_helm_values_run_our_code_location_with_a_pod_per_step_and_gpu_for_training():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "assets.definitions"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["MPYFORGE_EXECUTOR"] == "k8s" and env["MPYFORGE_ARTIFACT_ROOT"] == "/data/artifacts"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    # Every pod mounts the one data volume: the store and the training run directories beside it.
    mounts = deployment["volumeMounts"] + values["runLauncher"]["config"]["k8sRunLauncher"]["volumeMounts"]
    assert {m["mountPath"] for m in mounts} == {"/data"}

    from assets.definitions import defs

    tags = {key.to_user_string(): a.op.tags for a in defs.assets for key in a.keys}
    for name in ("base_checkpoint", "instruct_checkpoint"):
        limits = json.loads(tags[name]["dagster-k8s/config"])["container_config"]["resources"]["limits"]
        assert limits == {"nvidia.com/gpu": "1"}
    assert "dagster-k8s/config" not in tags["corpus"]
    assert GPU_POD_TAGS["dagster-k8s/config"]["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def _on_a_mount(path: Path, mounts: set[str]) -> bool:
    return any(path == Path(m) or Path(m) in path.parents for m in mounts)


def test_the_store_and_training_state_live_on_the_mounted_volume():
    # A retried run or a rescheduled pod resumes only if its run directory survives the container.
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    root = Path({item["name"]: item["value"] for item in deployment["env"]}["MPYFORGE_ARTIFACT_ROOT"])
    assert f"MPYFORGE_ARTIFACT_ROOT={root}" in launcher["envVars"]
    for mounts in (deployment["volumeMounts"], launcher["volumeMounts"]):
        paths = {m["mountPath"] for m in mounts}
        assert _on_a_mount(root, paths) and _on_a_mount(training_root(root), paths), paths
    docker = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_launcher"]["config"]["container_kwargs"]
    docker_mounts = {volume.split(":")[1] for volume in docker["volumes"]}
    image_root = Path(re.search(r"MPYFORGE_ARTIFACT_ROOT=(\S+)", (DEPLOY / "Dockerfile").read_text()).group(1))
    assert _on_a_mount(image_root, docker_mounts) and _on_a_mount(training_root(image_root), docker_mounts)


def test_the_image_runs_unprivileged_from_a_lean_context():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.M)
    assert users and users[-1] not in ("root", "0"), "the image runs as root"
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".venv", "var", ".git"} <= ignored  # 2 GB of venv, run history and artifacts stay out


def test_helm_values_keep_secrets_out_and_fence_the_grpc_port():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    postgres = values["postgresql"]
    assert not any("password" in key.lower() for key in postgres if key != "existingSecret")
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == postgres["existingSecret"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    (policy,) = [m for m in values["extraManifests"] if m["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"deployment": deployment["name"]}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    ports = [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]]
    assert ports == [deployment["port"]]


def _docker_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    return None if probe.returncode == 0 else f"no Docker daemon here (`docker info`: {probe.stderr.strip()[:200]})"


def test_the_image_builds_where_a_docker_daemon_runs():
    reason = _docker_unavailable()
    if reason:
        pytest.skip(reason)
    done = subprocess.run(
        ["docker", "build", "-f", str(DEPLOY / "Dockerfile"), "-t", "mpyforge:test", str(REPO)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
