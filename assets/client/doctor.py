"""`mpyforge doctor`: what the pipeline depends on, and whether each part works on this machine.

Each check prints one line, `ok`, `WARN` or `FAIL`, with what it found; a FAIL also says how to
fix it. The exit status is non-zero when a required check fails (Ollama is optional: without it
the pipeline writes the Modelfile and skips registration). `make demo` runs `--only llama` first,
so a llama.cpp that cannot run here stops the demo with the fix before any training starts.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OK, WARN, FAIL = "ok", "WARN", "FAIL"


@dataclass(frozen=True)
class Finding:
    name: str
    status: str  # ok | WARN | FAIL
    detail: str


def check_python() -> list[Finding]:
    version = platform.python_version()
    status = OK if sys.version_info >= (3, 11) else FAIL
    return [Finding("python", status, f"{version} ({sys.executable}); the project needs >= 3.11")]


def gpu_findings(
    driver_gpus: list[str],
    cuda_available: bool,
    torch_version: str,
    torch_cuda: str | None,
    arch_list: list[str],
    devices: list[tuple[str, tuple[int, int]]],
) -> list[Finding]:
    """What the NVIDIA driver lists (``nvidia-smi -L``) against what this torch can run on.

    ``devices`` are torch's GPUs as (name, compute capability); ``arch_list`` is
    ``torch.cuda.get_arch_list()``, the architectures the build has kernels for.
    """
    from pipeline.train.device import arch_supported, unusable_gpu_warning

    build = f"torch {torch_version} built for CUDA {torch_cuda}" if torch_cuda else f"torch {torch_version} (CPU-only)"
    if not driver_gpus and not devices:
        return [Finding("gpu", OK, f"no NVIDIA GPU (nvidia-smi lists none); {build}; training runs on the CPU")]
    warning = unusable_gpu_warning(driver_gpus, cuda_available, torch_version, torch_cuda)
    if warning:
        return [Finding("gpu", WARN, warning)]
    findings = []
    for name, (major, minor) in devices:
        arch = f"sm_{major}{minor}"
        if arch_supported((major, minor), arch_list):
            findings.append(Finding("gpu", OK, f"{name} ({arch}); {build}, kernels for {' '.join(arch_list)}"))
        else:
            findings.append(
                Finding(
                    "gpu",
                    FAIL,
                    f"{name} is {arch} but {build} has kernels only for {' '.join(arch_list)}: install a torch "
                    "built for a CUDA that knows it (RTX 50xx, sm_120: CUDA 12.8 or later; docs/operations.md)",
                )
            )
    return findings


def check_torch() -> list[Finding]:
    import torch

    from pipeline.train.device import nvidia_gpus, resolve_device

    info = resolve_device("auto", "auto")
    devices = []
    if torch.cuda.is_available():
        devices = [
            (torch.cuda.get_device_name(i), torch.cuda.get_device_capability(i))
            for i in range(torch.cuda.device_count())
        ]
        bf16 = f"bf16 supported: {torch.cuda.is_bf16_supported()}"
    else:
        bf16 = "bf16 not used on the CPU (autocast there is many times slower than fp32)"
    default = f"training default: {info.device} in {info.precision}"
    detail = f"{torch.__version__} (CUDA build: {torch.version.cuda}); {bf16}; {default}"
    arch_list = torch.cuda.get_arch_list() if torch.version.cuda else []
    gpus = gpu_findings(
        nvidia_gpus(), torch.cuda.is_available(), torch.__version__, torch.version.cuda, arch_list, devices
    )
    return [Finding("torch", OK, detail), *gpus]


def check_llama_cpp() -> list[Finding]:
    """The installed build's flags, then a quantized GGUF actually run (both in child processes)."""
    from pipeline.gguf.build_info import read_build_stamp
    from pipeline.gguf.smoke import smoke_test

    stamp = read_build_stamp()
    if stamp is None:
        build = Finding(
            "llama.cpp build",
            WARN,
            "not built by scripts/build_llama_cpp.py (pip's default is GGML_NATIVE=ON, which can SIGILL in a VM); "
            "run `make setup` to install the portable build",
        )
    else:
        build = Finding("llama.cpp build", OK, f"CMake flags: {stamp['cmake_args']} (wheel {stamp['wheel']})")
    start = time.monotonic()
    try:
        report = smoke_test()
    except Exception as exc:  # every failure is reported with its cause
        return [build, Finding("llama.cpp smoke run", FAIL, str(exc))]
    cpu = report["system_info"]
    smoke = Finding(
        "llama.cpp smoke run",
        OK,
        f"{report['variant']} GGUF generated {report['generated_tokens']} tokens "
        f"(llama-cpp-python {report['llama_cpp_python']}, {time.monotonic() - start:.1f} s in all)",
    )
    return [build, Finding("llama.cpp system info", OK, cpu), smoke]


def check_mpy_cross() -> list[Finding]:
    from pipeline.pairs.mpy_compile import compile_many, mpy_cross_binary

    result = compile_many(["from machine import Pin\nPin(2, Pin.OUT).on()\n"])[0]
    if not result.ok:
        return [
            Finding(
                "mpy-cross",
                FAIL,
                f"{mpy_cross_binary()} failed on a one-line program: {result.error_type}: {result.message}",
            )
        ]
    return [Finding("mpy-cross", OK, f"{mpy_cross_binary()} compiles MicroPython")]


def check_dagster() -> list[Finding]:
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return [Finding("dagster instance", WARN, "DAGSTER_HOME is not set (make sets it to the repository root)")]
    instance = dg.DagsterInstance.get()
    storage = type(instance.run_storage).__name__
    runs = instance.get_runs_count()
    return [Finding("dagster instance", OK, f"{dg.__version__}; DAGSTER_HOME={home}; {storage}, {runs} run(s)")]


def check_ollama() -> list[Finding]:
    from pipeline.serve.client import OllamaClient
    from pipeline.serve.errors import OllamaUnreachableError
    from pipeline.serve.settings import default_host

    host = default_host()
    try:
        version = OllamaClient(host, timeout_s=5).version()
    except OllamaUnreachableError:
        return [Finding("ollama", WARN, f"no server at {host} (optional: start `ollama serve` or set OLLAMA_HOST)")]
    return [Finding("ollama", OK, f"{version} at {host}")]


CHECKS: dict[str, Callable[[], list[Finding]]] = {
    "python": check_python,
    "torch": check_torch,
    "llama": check_llama_cpp,
    "mpy-cross": check_mpy_cross,
    "dagster": check_dagster,
    "ollama": check_ollama,
}


def run_doctor(only: list[str] | None = None, out=sys.stdout) -> int:
    """Print every finding; 1 when any check failed, else 0."""
    names = only or list(CHECKS)
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown doctor check(s) {unknown}; choose from {list(CHECKS)}")
    failed = False
    for name in names:
        try:
            findings = CHECKS[name]()
        except Exception as exc:  # a broken dependency is a finding, not a crash
            findings = [Finding(name, FAIL, f"{type(exc).__name__}: {exc}")]
        for finding in findings:
            failed |= finding.status == FAIL
            print(f"{finding.status:4s}  {finding.name:22s} {finding.detail}", file=out, flush=True)
    print(
        f"\n{'FAILED: fix the FAIL lines above' if failed else 'everything the pipeline needs works here'} "
        f"({Path.cwd()})",
        file=out,
    )
    return 1 if failed else 0
