"""Pick the training device and precision, and know its peak FLOPs for MFU.

``resolve_device("auto", "auto")`` gives CUDA with bf16-mixed when the GPU supports
bf16, else the CPU in fp32: bf16 autocast on a CPU without AMX runs ~80× slower than
fp32 here, so mixed precision is never chosen for the CPU automatically.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import torch

DEVICES_HELP = "auto | cpu | cuda | cuda:N"
PRECISIONS = ("auto", "bf16-mixed", "fp16-mixed", "fp32")

# Dense (no sparsity) BF16 tensor-core peak with FP32 accumulate, FLOP/s. Matched by
# substring of torch.cuda.get_device_name(), most specific first.
# - H200 / H100 SXM: 989 TFLOPS (NVIDIA H100 Tensor Core GPU Architecture whitepaper,
#   Table 3 "1979 with sparsity"; the H200 datasheet lists the same 1,979 sparse).
# - H100 PCIe: 756 (same whitepaper, 1513 with sparsity).
# - A100: 312 (NVIDIA A100 Tensor Core GPU Architecture whitepaper, Table 1).
# - RTX 4090: 165.2 (NVIDIA Ada Lovelace GPU Architecture whitepaper, Appendix A,
#   "Peak BF16 Tensor TFLOPS with FP32 Accumulate 165.2/330.4").
# - RTX 5070: 61.7 = 192 tensor cores × 2.51 GHz boost × 128 FLOP/clk, the per-core
#   rate the NVIDIA RTX Blackwell GPU Architecture whitepaper implies for the RTX 5090
#   (209.5 TFLOPS FP16/BF16 with FP32 accumulate over 680 cores at 2.41 GHz).
# - RTX 3060: 25.5 = 112 tensor cores × 1.777 GHz × 128 FLOP/clk (GA10x GeForce runs
#   FP32-accumulate at half the FP16-accumulate rate: NVIDIA Ampere GA102 whitepaper,
#   RTX 3090 71 vs 142 TFLOPS).
GPU_PEAK_BF16_FLOPS: tuple[tuple[str, float], ...] = (
    ("h200", 989e12),
    ("h100 pcie", 756e12),
    ("h100", 989e12),
    ("a100", 312e12),
    ("rtx 5070", 61.7e12),
    ("rtx 4090", 165.2e12),
    ("rtx 3060", 25.5e12),
)


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # human-readable, e.g. "NVIDIA H200" or "cpu (2 threads)"
    type: str  # "cpu" | "cuda"
    device: str  # torch device string, e.g. "cuda:0"
    memory_bytes: int
    precision: str  # "bf16-mixed" | "fp16-mixed" | "fp32"
    peak_flops: float  # FLOP/s in the training precision; 0.0 when unknown (MFU not reported)

    @property
    def mixed_precision(self) -> bool:
        return self.precision != "fp32"

    def to_dict(self) -> dict:
        return asdict(self)


def gpu_peak_flops(device_name: str) -> float:
    lowered = device_name.lower()
    for key, flops in GPU_PEAK_BF16_FLOPS:
        if key in lowered:
            return flops
    return 0.0


def measure_cpu_peak_flops(size: int = 1024, min_seconds: float = 0.3) -> float:
    """Measured fp32 matmul throughput of this CPU, FLOP/s: the best of repeated runs.

    Repeating for ``min_seconds`` rides out the start of the thread pool and threads
    that other libraries (e.g. the tokenizer's) leave spinning for a moment.
    """
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    best = float("inf")
    deadline = time.perf_counter() + min_seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def _cpu_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _resolve_precision(precision: str, device_type: str, bf16_supported: bool) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is unknown; expected one of {list(PRECISIONS)}")
    if precision == "auto":
        if device_type == "cuda":
            return "bf16-mixed" if bf16_supported else "fp16-mixed"
        return "fp32"
    if precision == "fp16-mixed" and device_type == "cpu":
        raise ValueError("precision 'fp16-mixed' needs a CUDA device (GradScaler); use fp32 or bf16-mixed on the CPU")
    if precision == "bf16-mixed" and device_type == "cuda" and not bf16_supported:
        raise ValueError("precision 'bf16-mixed' is not supported by this GPU; use fp16-mixed or fp32")
    return precision


def resolve_device(device: str = "auto", precision: str = "auto") -> DeviceInfo:
    """Turn the user's device/precision request into a concrete, checked choice."""
    if device == "auto":
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = "cuda:0"
    if device == "cpu":
        resolved = _resolve_precision(precision, "cpu", bf16_supported=True)
        peak = measure_cpu_peak_flops()
        return DeviceInfo(f"cpu ({torch.get_num_threads()} threads)", "cpu", "cpu", _cpu_memory_bytes(), resolved, peak)
    if not device.startswith("cuda:") or not device[5:].isdigit():
        raise ValueError(f"device {device!r} is not understood; expected {DEVICES_HELP}")
    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available on this machine")
    index = int(device[5:])
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    props = torch.cuda.get_device_properties(index)
    resolved = _resolve_precision(precision, "cuda", torch.cuda.is_bf16_supported())
    # TF32 for any fp32 matmul that remains (optimizer-free paths, fp32 runs).
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    peak = gpu_peak_flops(props.name)
    if resolved == "fp32":
        peak /= 2  # TF32 tensor-core peak is half the BF16 peak on every GPU in the table
    return DeviceInfo(props.name, "cuda", device, props.total_memory, resolved, peak)
