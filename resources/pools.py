"""Concurrency pools: only the GPU is a scarce resource the whole instance must share.

Every training asset runs in pool ``gpu``, limited to one step at a time across all runs, so two
trainings never share one card. Nothing else is limited by a pool: PDF partitions and GGUF
variants run side by side (separate runs, up to ``concurrency.runs.max_concurrent_runs`` in
dagster.yaml). A pool's limit lives in the instance's storage, not in dagster.yaml (which can
only set one default for every pool), so the CLI applies it to the instance it uses; a team
deployment runs `dagster instance concurrency set gpu 1` once (docs/operations.md).
"""

from __future__ import annotations

import os
import socket

import dagster as dg

from pipeline.common.store_locks import pid_alive, process_token, token_alive

GPU_POOL = "gpu"
# One training at a time per GPU. With several GPUs in one machine, raise it to the card count and
# give each training its own device (GpuResource.device).
GPU_POOL_LIMIT = 1


def ensure_pool_limits(instance: dg.DagsterInstance) -> None:
    """Set the ``gpu`` pool limit when the instance has none yet (a limit set by hand is kept)."""
    storage = instance.event_log_storage
    if GPU_POOL not in storage.get_concurrency_keys():
        storage.set_concurrency_slots(GPU_POOL, GPU_POOL_LIMIT)


# Which process on which host executes a run in-process (`mpyforge run`); see release_abandoned_runs.
RUN_HOST_TAG = "mpyforge/host"
RUN_PID_TAG = "mpyforge/pid"
RUN_PROCESS_TAG = "mpyforge/process"  # pid, boot id and start time: a reused pid is another process


def process_tags() -> dict[str, str]:
    """Tags for a run this process executes itself."""
    pid = os.getpid()
    return {RUN_HOST_TAG: socket.gethostname(), RUN_PID_TAG: str(pid), RUN_PROCESS_TAG: process_token(pid)}


def release_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the runs this host's `mpyforge run` processes left unfinished and free their pool slots.

    A run executed in-process dies with its process (SIGKILL, a closed terminal, power loss) and
    stays STARTED in the instance, still holding its ``gpu`` slot: every later training would wait
    for that slot forever. With no daemon watching such runs, the next `mpyforge run` does what run
    monitoring would: a run whose recorded process is gone is marked failed, its slots freed.
    Returns the ids of the runs released.
    """
    host = socket.gethostname()
    unfinished = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    released = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=unfinished, tags={RUN_HOST_TAG: host})):
        pid = int(run.tags.get(RUN_PID_TAG, "0"))
        token = run.tags.get(RUN_PROCESS_TAG)
        if pid and (token_alive(token) if token else pid_alive(pid)):
            continue
        instance.report_run_failed(run, f"its mpyforge process (pid {pid} on {host}) ended without finishing it")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    return released


# Trainer processes per node, one GPU each: the default of GpuResource.nproc_per_node and the GPUs a
# training pod requests. Op tags are fixed when the code location loads, so the deployment sets it
# (deploy/helm/values.yaml) rather than a run's config.
NPROC_ENV = "MPYFORGE_NPROC_PER_NODE"


def gpus_per_pod(environ: dict[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    value = environ.get(NPROC_ENV, "1")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{NPROC_ENV}={value!r} must be a positive number of GPUs per node")
    return int(value)


def gpu_pod_tags(gpus: int) -> dict:
    """The `dagster-k8s/config` op tag of a training step: its pod asks the scheduler for ``gpus`` NVIDIA GPUs
    (one per torchrun process, else ranks past the first find no GPU); no other step asks for one."""
    count = {"nvidia.com/gpu": str(gpus)}
    return {"dagster-k8s/config": {"container_config": {"resources": {"limits": count, "requests": count}}}}


GPU_POD_TAGS = gpu_pod_tags(gpus_per_pod())
