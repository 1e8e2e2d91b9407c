"""The one Dagster code location of mpyforge: every asset, check, job, sensor and resource."""

from __future__ import annotations

import os

import dagster as dg

from assets import evaluation, export, instructions, jobs, pdf, report, sources, tokenizer, training
from assets.evaluation import TaskScoresConfig
from assets.pdf import sync_pdf_partitions
from assets.report import ModelReportConfig
from assets.training import TrainingConfig
from pipeline.common.artifacts import default_root
from resources.artifact_store import ArtifactStoreResource
from resources.gpu import GpuResource
from resources.ollama import OllamaResource

__all__ = ["defs", "run_config_for_preset", "sync_pdf_partitions"]

_MODULES = [sources, pdf, instructions, tokenizer, training, export, evaluation, report]


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

# `--preset tiny` on a CPU: short sequences, a token budget that trains in well under two
# minutes per checkpoint on two cores, early stopping against the small sample corpus, and
# learning rates suited to a 3.6M-parameter model and a few hundred steps.
_CPU_DEMO = dict(
    seq_len=128, batch_size=8, eval_every=20, save_every=20, log_every=10, eval_tokens=16_384, early_stopping_patience=3
)
_DEMO_BUDGET = {"base_checkpoint": 160_000, "instruct_checkpoint": 40_000}
_DEMO_LR = {"base_checkpoint": 1e-3, "instruct_checkpoint": 3e-4}
# The task suite on its fixed demo subset (DEMO_TASK_IDS), answers no longer than the demo's 128-token
# training sequences, so scoring four variants and the HF model fits the demo's 10 minutes.
_DEMO_SCORING = {
    "task_scores": TaskScoresConfig(tasks="demo", max_new_tokens=128),
    "model_report": ModelReportConfig(tasks="demo", task_max_new_tokens=128),
}


def parse_preset(preset: str) -> tuple[str, str]:
    """`tiny` → (llama, tiny); `gpt2-25m` → (gpt2, 25m)."""
    family, _, size = preset.rpartition("-")
    return (family or "llama", size)


def run_config_for_preset(preset: str, key: dg.AssetKey) -> dg.RunConfig:
    """Run config that applies a model preset (`[family-]size`) to the training assets."""
    name = key.to_user_string()
    if name in _DEMO_SCORING:
        return dg.RunConfig({name: _DEMO_SCORING[name]} if parse_preset(preset)[1] == "tiny" else {})
    if name not in _DEMO_BUDGET:
        return dg.RunConfig({})
    family, size = parse_preset(preset)
    values: dict = {"family": family, "size": size}
    if size == "tiny":
        values |= _CPU_DEMO | {"token_budget": _DEMO_BUDGET[name], "lr": _DEMO_LR[name]}
    return dg.RunConfig({name: TrainingConfig(**values)})
