"""The one Dagster code location of mpyforge: every asset, check, job, sensor and resource."""

from __future__ import annotations

import os

import dagster as dg

from assets import corpus, evaluation, export, instructions, jobs, pdf, report, sources, tokenizer, training
from pipeline.common.artifacts import default_root
from resources.artifact_store import ArtifactStoreResource
from resources.gpu import GpuResource
from resources.ollama import OllamaResource

_MODULES = [sources, pdf, corpus, instructions, tokenizer, training, export, evaluation, report]


def executor_from_env() -> dg.ExecutorDefinition | None:
    """``$MPYFORGE_EXECUTOR``: unset for Dagster's default (a process per step on this machine),
    ``k8s`` for a pod per step (deploy/helm), ``docker`` for a container per step."""
    choice = os.environ.get("MPYFORGE_EXECUTOR", "").strip().lower()
    if not choice:
        return None
    if choice == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if choice == "docker":
        from dagster_docker import docker_executor

        return docker_executor
    raise ValueError(f"MPYFORGE_EXECUTOR={choice!r} is not one of '', 'k8s', 'docker'")


defs = dg.Definitions(
    assets=dg.load_assets_from_modules(_MODULES),
    asset_checks=dg.load_asset_checks_from_modules(_MODULES),
    jobs=[jobs.full_pipeline, jobs.retrain, jobs.export, jobs.pdf_extraction],
    schedules=[jobs.weekly_retrain],
    sensors=[pdf.pdf_inbox_sensor],
    executor=executor_from_env(),
    resources={
        "artifact_store": ArtifactStoreResource(root=str(default_root())),
        "gpu": GpuResource(),
        "pipes_subprocess_client": dg.PipesSubprocessClient(),
        "ollama": OllamaResource(),
    },
)
