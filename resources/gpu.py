"""The training device as a Dagster resource.

Training assets hold the `gpu` pool (limit 1 in dagster.yaml), so two trainings never
share one GPU. The resource resolves what "auto" means on this machine and says so in
the run log before any GPU hour is spent.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pipeline.train.device import DEVICES_HELP, DeviceInfo, resolve_device


class GpuResource(dg.ConfigurableResource):
    device: str = Field("auto", description=DEVICES_HELP)
    precision: str = Field(
        "auto", description="auto | bf16-mixed | fp16-mixed | fp32 (auto: bf16-mixed on CUDA with bf16, else fp32)"
    )
    compile: bool = Field(False, description="torch.compile the model (worth it for long GPU runs)")
    nproc_per_node: int = Field(1, description="processes (GPUs) per node; >1 launches the trainer with torchrun")

    def describe(self) -> DeviceInfo:
        return resolve_device(self.device, self.precision)

    def launcher(self, python: str) -> list[str]:
        """The command prefix that starts `-m pipeline.train.run`: python, or torchrun for several GPUs."""
        if self.nproc_per_node > 1:
            return [python, "-m", "torch.distributed.run", f"--nproc_per_node={self.nproc_per_node}"]
        return [python]
