"""Pick the training device and precision, and know its peak FLOPs for MFU.

``resolve_device("auto", "auto")`` gives CUDA with bf16-mixed on compute capability 8.0+
(Ampere and later: native bf16 tensor cores), fp16-mixed on older GPUs (a T4, V100 or
RTX 20xx would otherwise run bf16 in slow emulation: ``torch.cuda.is_bf16_supported()``
counts emulation as support), and the CPU in fp32: bf16 autocast on a CPU without AMX runs
~80x slower than fp32 here, so mixed precision is never chosen for the CPU automatically.

One process trains on one GPU. Outside torchrun the HF Trainer counts every visible GPU
(transformers 5.x ``TrainingArguments._setup_devices``: ``self._n_gpu = torch.cuda.device_count()``)
and then wraps the model in ``nn.DataParallel`` (``Trainer._wrap_model``: ``if self.args.n_gpu > 1``),
multiplying the real batch by the GPU count (``train_batch_size = per_device_train_batch_size *
max(1, self.n_gpu)``) while every number here assumes one GPU. So the trainer's process is always
pinned to one GPU through ``CUDA_VISIBLE_DEVICES`` before CUDA starts (``child_device``), and
``refuse_data_parallel`` stops a run that sees several anyway; several GPUs only through torchrun.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from pipeline.train.settings import DEVICES_HELP

PRECISIONS = ("auto", "bf16-mixed", "fp16-mixed", "fp32")
BF16_MIN_CAPABILITY = (8, 0)  # Ampere: the first tensor cores with native bf16

# Dense (no sparsity) BF16/FP16 tensor-core peak with FP32 accumulate, FLOP/s, keyed by the
# exact torch.cuda.get_device_name() string: a substring match would give an H100 NVL or a
# laptop RTX 4090 the desktop card's peak. A GPU not listed reports no MFU.
# - H200 / H100 SXM: 989 TFLOPS (NVIDIA H100 Tensor Core GPU Architecture whitepaper,
#   Table 3 "1979 with sparsity"; the H200 datasheet lists the same 1,979 sparse).
# - H200 NVL: 835.5 (H200 datasheet, NVL column: 1,671 TFLOPS with sparsity; a lower power limit).
# - H100 PCIe: 756 (same whitepaper, 1513 with sparsity).
# - A100 (SXM4 and PCIe, 40 and 80 GB): 312 (NVIDIA A100 Tensor Core GPU Architecture
#   whitepaper, Table 1).
# - RTX 4090: 165.2 (NVIDIA Ada Lovelace GPU Architecture whitepaper, Appendix A,
#   "Peak BF16 Tensor TFLOPS with FP32 Accumulate 165.2/330.4").
# - RTX 5070: 61.7 = 192 tensor cores × 2.51 GHz boost × 128 FLOP/clk, the per-core
#   rate the NVIDIA RTX Blackwell GPU Architecture whitepaper implies for the RTX 5090
#   (209.5 TFLOPS FP16/BF16 with FP32 accumulate over 680 cores at 2.41 GHz).
# - RTX 3060: 25.5 = 112 tensor cores × 1.777 GHz × 128 FLOP/clk (GA10x GeForce runs
#   FP32-accumulate at half the FP16-accumulate rate: NVIDIA Ampere GA102 whitepaper,
#   RTX 3090 71 vs 142 TFLOPS).
GPU_PEAK_BF16_FLOPS: dict[str, float] = {
    "NVIDIA H200": 989e12,
    "NVIDIA H200 NVL": 835.5e12,
    "NVIDIA H100 80GB HBM3": 989e12,
    "NVIDIA H100 PCIe": 756e12,
    "NVIDIA A100-SXM4-80GB": 312e12,
    "NVIDIA A100-SXM4-40GB": 312e12,
    "NVIDIA A100-PCIE-40GB": 312e12,
    "NVIDIA A100 80GB PCIe": 312e12,
    "NVIDIA GeForce RTX 5070": 61.7e12,
    "NVIDIA GeForce RTX 4090": 165.2e12,
    "NVIDIA GeForce RTX 3060": 25.5e12,
}


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # human-readable, e.g. "NVIDIA H200" or "cpu (2 threads)"
    type: str  # "cpu" | "cuda"
    device: str  # torch device string, e.g. "cuda:0"
    memory_bytes: int
    precision: str  # "bf16-mixed" | "fp16-mixed" | "fp32"
    peak_flops: float | None  # FLOP/s in the training precision; None when unknown (MFU not reported)
    warning: str | None = None  # e.g. an NVIDIA GPU that this torch cannot use, so "auto" fell back to the CPU

    @property
    def mixed_precision(self) -> bool:
        return self.precision != "fp32"

    def to_dict(self) -> dict:
        return asdict(self)


def gpu_peak_flops(device_name: str, precision: str = "bf16-mixed") -> float | None:
    """Peak FLOP/s of a GPU named exactly as CUDA names it; None for a GPU not in the table."""
    peak = GPU_PEAK_BF16_FLOPS.get(device_name.strip())
    if peak is None:
        return None
    # fp16 runs at the bf16 rate on these tensor cores; fp32 matmuls use TF32 at half of it.
    return peak / 2 if precision == "fp32" else peak


def model_flops_utilization(tokens_per_second: float, flops_per_token: int, peak_flops: float | None) -> float | None:
    """Achieved / peak FLOP/s, or None when the peak is unknown.

    A ratio of 1 or more means the peak was not the upper bound it must be (an unlisted
    clock, a mismeasured CPU): no number is better than a wrong one.
    """
    if not peak_flops or tokens_per_second <= 0:
        return None
    ratio = tokens_per_second * flops_per_token / peak_flops
    return ratio if ratio < 1 else None


@dataclass(frozen=True)
class ChildDevice:
    """What the trainer process is started with: its device setting, extra environment and a log line."""

    device: str
    env: dict[str, str]
    note: str


# Applied before CUDA starts: freed blocks are mapped into growing segments instead of
# fragmenting fixed ones, which leaves more of a small card usable (PyTorch "CUDA memory
# management" notes, expandable_segments). A value the user set is kept.
ALLOC_CONF = ("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")


def child_device(device: str, nproc_per_node: int, environ: Mapping[str, str] | None = None) -> ChildDevice:
    """Pin a one-process run to one GPU: the device string and environment for the trainer process.

    ``environ`` is the launcher's environment. ``cuda:N`` means
    the N-th GPU the launcher sees: with an inherited ``CUDA_VISIBLE_DEVICES=2,3``, ``cuda:1`` is
    physical GPU 3, and the child gets
    ``CUDA_VISIBLE_DEVICES=3`` and trains on its ``cuda:0``. ``auto`` and ``cuda`` take the first
    visible GPU. Idempotent: pinning the pinned child again changes nothing. Several processes
    (torchrun) each take the GPU of their ``LOCAL_RANK``, so pinning them all to one is refused.
    """
    environ = {} if environ is None else environ
    inherited = environ.get("CUDA_VISIBLE_DEVICES")
    env = {} if ALLOC_CONF[0] in environ else dict([ALLOC_CONF])
    if device == "cpu":
        return ChildDevice(device, env, "device 'cpu': no GPU")
    if device in ("auto", "cuda") and nproc_per_node > 1:
        return ChildDevice(device, env, f"device {device!r}, nproc_per_node {nproc_per_node}: one GPU per LOCAL_RANK")
    if device in ("auto", "cuda"):
        index = "0"
    elif device.startswith("cuda:") and device[5:].isdigit():
        index = device[5:]
    else:
        raise ValueError(f"device {device!r} is not understood; expected {DEVICES_HELP}")
    if nproc_per_node > 1:
        raise ValueError(
            f"device {device!r} pins one GPU but nproc_per_node is {nproc_per_node}: each process needs its own GPU; "
            "use device 'cuda' (all visible GPUs) and set CUDA_VISIBLE_DEVICES to choose which"
        )
    visible = None if inherited is None else [v.strip() for v in inherited.split(",") if v.strip()]
    if visible == [] and device == "auto":
        return ChildDevice(device, env, "device 'auto': CUDA_VISIBLE_DEVICES hides every GPU, training on the CPU")
    if visible is not None and int(index) >= len(visible):
        raise ValueError(
            f"device {device!r} does not exist: the inherited CUDA_VISIBLE_DEVICES={inherited!r} makes "
            f"{len(visible)} GPU(s) visible"
        )
    physical = index if visible is None else visible[int(index)]
    seen = "" if visible is None else f" (entry {index} of the inherited CUDA_VISIBLE_DEVICES={inherited})"
    note = (
        f"device {device!r} is physical GPU {physical}{seen}; the trainer sees only it, as cuda:0, "
        "so the HF Trainer cannot spread one process over several GPUs"
    )
    if device == "auto":  # the parent does not probe for GPUs: on a machine without one, auto is the CPU
        note = f"device 'auto': physical GPU {physical}{seen} if there is one (seen as cuda:0), else the CPU"
    return ChildDevice("auto" if device == "auto" else "cuda:0", {**env, "CUDA_VISIBLE_DEVICES": physical}, note)


def refuse_data_parallel(n_gpu: int) -> None:
    """Stop a one-process run that sees several GPUs: the HF Trainer would run it under nn.DataParallel."""
    if n_gpu > 1:
        raise ValueError(
            f"the trainer process sees {n_gpu} GPUs, so the HF Trainer would wrap the model in nn.DataParallel "
            f"(a batch {n_gpu}x larger than planned, throughput from GPU 0 alone); pin one GPU with device 'cuda:N' "
            "or CUDA_VISIBLE_DEVICES, or train on several with nproc_per_node (torchrun)"
        )


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


def cpu_flops_per_cycle(flags: set[str]) -> int:
    """fp32 FLOPs per core per cycle the vector units can issue at most.

    Two FMA pipes per core (the most any x86 core has: Intel Skylake-SP/Ice Lake, AMD Zen 2-5)
    × lanes × 2 FLOPs per FMA: AVX-512 16 lanes → 64, AVX2 8 lanes → 32; without FMA, one
    add and one multiply pipe: AVX 16, SSE 8.
    """
    if "avx512f" in flags:
        return 64
    if "avx2" in flags and "fma" in flags:
        return 32
    return 16 if "avx" in flags else 8


# Virtual machines often expose only "cpu MHz", the base clock, while the cores boost above it:
# an AMD EPYC 7763 has a 2.45 GHz base and a 3.5 GHz maximum boost (AMD product page), 1.43x.
BOOST_HEADROOM = 1.5


def cpu_theoretical_peak_flops(cpuinfo: str, max_khz: int | None, threads: int) -> float | None:
    """An upper bound on fp32 FLOP/s from /proc/cpuinfo text: threads × clock × FLOPs/cycle.

    The clock is ``cpuinfo_max_freq`` when the kernel exposes it, else the "cpu MHz" line times
    ``BOOST_HEADROOM``. None when the text gives neither flags nor a clock.
    """
    flags: set[str] = set()
    mhz = None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags" and not flags:
            flags = set(value.split())
        elif key.strip() == "cpu MHz" and mhz is None:
            mhz = float(value)
    hz = max_khz * 1e3 if max_khz else (mhz * 1e6 * BOOST_HEADROOM if mhz else None)
    if not flags or not hz:
        return None
    return threads * hz * cpu_flops_per_cycle(flags)


def cpu_peak_flops() -> float:
    """The CPU's peak for MFU: the larger of the ISA bound and a measured matmul (so the ratio stays < 1)."""
    cpuinfo = Path("/proc/cpuinfo")
    max_freq = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    bound = cpu_theoretical_peak_flops(
        cpuinfo.read_text() if cpuinfo.is_file() else "",
        int(max_freq.read_text()) if max_freq.is_file() else None,
        torch.get_num_threads(),
    )
    return max(bound or 0.0, measure_cpu_peak_flops())


def nvidia_gpus() -> list[str]:
    """The GPUs the NVIDIA driver lists (``nvidia-smi -L``), whatever torch makes of them; [] without a driver."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in listing.splitlines() if line.startswith("GPU ")]


def unusable_gpu_warning(
    gpus: list[str], cuda_available: bool, torch_version: str, torch_cuda: str | None
) -> str | None:
    """Why an NVIDIA GPU the driver lists is not trained on, or None when there is none or torch uses it."""
    if not gpus or cuda_available:
        return None
    build = "a CPU-only build" if torch_cuda is None else f"built for CUDA {torch_cuda}, which this driver cannot run"
    return (
        f"nvidia-smi lists {len(gpus)} GPU(s) ({gpus[0]}) but torch {torch_version} is {build}, so training runs "
        "on the CPU, 100x slower; install the CUDA build of torch for this driver (docs/operations.md, GPU machines)"
    )


def arch_supported(capability: tuple[int, int], arch_list: list[str]) -> bool:
    """Can a torch built for ``arch_list`` (``torch.cuda.get_arch_list()``) run kernels on this GPU?

    A cubin ``sm_XY`` runs on GPUs of the same major version and a minor >= Y; PTX ``compute_XY``
    is JIT-compiled for any later GPU (NVIDIA CUDA C++ Programming Guide, "Binary Compatibility"
    and "PTX Compatibility"; torch's own ``_check_cubins`` tests the major version). So an RTX 50xx
    (sm_120) needs a torch with ``sm_120``: a build that stops at ``sm_90`` has no kernel for it.
    """
    major, minor = capability
    for arch in arch_list:
        kind, _, digits = arch.partition("_")
        digits = "".join(ch for ch in digits if ch.isdigit())  # sm_90a -> 90
        if not digits:
            continue
        code_major, code_minor = int(digits[:-1]), int(digits[-1])
        if kind == "sm" and code_major == major and code_minor <= minor:
            return True
        if kind == "compute" and (code_major, code_minor) <= (major, minor):
            return True
    return False


def _cpu_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def resolve_precision(precision: str, device_type: str, capability: tuple[int, int] | None = None) -> str:
    """The concrete precision for a request; ``capability`` is the GPU's (major, minor) compute capability."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is unknown; expected one of {list(PRECISIONS)}")
    native_bf16 = capability is not None and tuple(capability) >= BF16_MIN_CAPABILITY
    if precision == "auto":
        if device_type == "cuda":
            return "bf16-mixed" if native_bf16 else "fp16-mixed"
        return "fp32"
    if precision == "fp16-mixed" and device_type == "cpu":
        raise ValueError("precision 'fp16-mixed' needs a CUDA device (GradScaler); use fp32 or bf16-mixed on the CPU")
    if precision == "bf16-mixed" and device_type == "cuda" and not native_bf16:
        raise ValueError(
            f"precision 'bf16-mixed' would be emulated on this GPU (compute capability {capability}, "
            f"native bf16 needs {BF16_MIN_CAPABILITY}); use fp16-mixed or fp32"
        )
    return precision


def resolve_device(device: str = "auto", precision: str = "auto") -> DeviceInfo:
    """Turn the user's device/precision request into a concrete, checked choice."""
    # Under torchrun each process trains on the GPU of its LOCAL_RANK (as the HF Trainer places it).
    own_gpu = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    auto = device == "auto"
    if auto:
        device = own_gpu if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = own_gpu
    if device == "cpu":
        resolved = resolve_precision(precision, "cpu")
        peak = cpu_peak_flops()
        # "auto" must not fall back to the CPU in silence when the machine has an NVIDIA GPU.
        warning = unusable_gpu_warning(nvidia_gpus(), False, torch.__version__, torch.version.cuda) if auto else None
        name = f"cpu ({torch.get_num_threads()} threads)"
        return DeviceInfo(name, "cpu", "cpu", _cpu_memory_bytes(), resolved, peak, warning)
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
    resolved = resolve_precision(precision, "cuda", (props.major, props.minor))
    # TF32 for any fp32 matmul that remains (optimizer-free paths, fp32 runs).
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return DeviceInfo(props.name, "cuda", device, props.total_memory, resolved, gpu_peak_flops(props.name, resolved))
