"""The training device as a Dagster resource.

Training assets hold the `gpu` pool (limit 1 in dagster.yaml), so two trainings never
share one GPU. The resource resolves what "auto" means on this machine and says so in
the run log before any GPU hour is spent, and says how to launch the trainer on it:
the trainer always sees one GPU: `cuda:N` reaches it as `CUDA_VISIBLE_DEVICES` naming that GPU (`child_device`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from pipeline.train.settings import DEVICES_HELP
from resources.pools import NPROC_ENV, gpus_per_pod

if TYPE_CHECKING:
    from pipeline.train.device import ChildDevice, DeviceInfo


class GpuResource(dg.ConfigurableResource):
    device: str = Field("auto", description=DEVICES_HELP)
    precision: str = Field(
        "auto",
        description="auto | bf16-mixed | fp16-mixed | fp32 (auto: bf16-mixed on compute capability 8.0+, "
        "fp16-mixed on older GPUs, fp32 on the CPU)",
    )
    compile: bool = Field(False, description="torch.compile the model (worth it for long GPU runs)")
    nproc_per_node: int = Field(
        gpus_per_pod(),
        description=f"processes (GPUs) per node; >1 launches the trainer with torchrun. On Kubernetes set "
        f"{NPROC_ENV} in the deployment instead: a training pod requests that many GPUs",
    )

    # pipeline.train.device imports torch: only a training step loads it, not the code location.
    def describe(self) -> DeviceInfo:
        from pipeline.train.device import resolve_device

        return resolve_device(self.device, self.precision)

    def child(self) -> ChildDevice:
        """The trainer's device, extra environment and a log line: one GPU per process, `cuda:N` read
        through this process's CUDA_VISIBLE_DEVICES (refuses `cuda:N` with several processes)."""
        from pipeline.train.device import child_device

        if os.environ.get("MPYFORGE_EXECUTOR") == "k8s" and self.nproc_per_node != gpus_per_pod():
            raise ValueError(
                f"nproc_per_node {self.nproc_per_node} but this deployment's training pods request {gpus_per_pod()} "
                f"GPU(s) ({NPROC_ENV}): set {NPROC_ENV} in deploy/helm/values.yaml instead"
            )
        return child_device(self.device, self.nproc_per_node, os.environ)

    def launcher(self, python: str) -> list[str]:
        """The command prefix that starts `-m pipeline.train.run`: python, or torchrun for several processes.

        `--standalone` gives torchrun a local rendezvous on a free port, so two runs on one
        machine do not collide on the default 29500.
        """
        if self.nproc_per_node > 1:
            return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={self.nproc_per_node}"]
        return [python]
