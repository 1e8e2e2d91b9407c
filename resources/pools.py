"""Concurrency pools: only the GPU is a scarce resource the whole instance must share.

Every training asset runs in pool ``gpu``, limited to one step at a time across all runs, so two
trainings never share one card. Nothing else is limited by a pool: PDF partitions and GGUF
variants run side by side (separate runs, up to ``concurrency.runs.max_concurrent_runs`` in
dagster.yaml). A pool's limit lives in the instance's storage, not in dagster.yaml (which can
only set one default for every pool), so the CLI applies it to the instance it uses; a team
deployment runs `dagster instance concurrency set gpu 1` once (docs/operations.md).
"""

from __future__ import annotations

import dagster as dg

GPU_POOL = "gpu"
# One training at a time per GPU. With several GPUs in one machine, raise it to the card count and
# give each training its own device (GpuResource.device).
GPU_POOL_LIMIT = 1


def ensure_pool_limits(instance: dg.DagsterInstance) -> None:
    """Set the ``gpu`` pool limit when the instance has none yet (a limit set by hand is kept)."""
    storage = instance.event_log_storage
    if GPU_POOL not in storage.get_concurrency_keys():
        storage.set_concurrency_slots(GPU_POOL, GPU_POOL_LIMIT)


# On Kubernetes (the k8s_job_executor runs each step in its own pod) a training step asks the
# scheduler for one NVIDIA GPU; no other step does. Read from the `dagster-k8s/config` op tag.
GPU_POD_TAGS = {
    "dagster-k8s/config": {
        "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}}
    }
}
