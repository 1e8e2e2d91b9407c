"""Build llama-cpp-python once per flag set into a project-local wheel cache, then install it.

Why not plain `pip install llama-cpp-python`: pip compiles llama.cpp with GGML_NATIVE=ON, i.e.
for every instruction the build machine *advertises*. Some VMs advertise AMX tiles (and AVX-512)
that a process may not use, so every quantized GGUF dies with SIGILL. The project therefore picks
the flags: on x86-64 the AVX2/FMA/F16C baseline (any x86-64 CPU since ~2013), elsewhere
llama.cpp's portable defaults with GGML_NATIVE=OFF.

Why a cache of our own: pip's wheel cache is keyed by the source archive, not by CMAKE_ARGS, so
a machine that once built a native wheel would silently reuse it. Here the wheel lives under
`var/wheels/<key>/`, where the key hashes the package version, the CMake flags, the CPU
architecture and the Python tag. Changed flags mean a new key and a rebuild; an unchanged flag
set installs the cached wheel in seconds.

Change the build with MPYFORGE_LLAMA_CMAKE_ARGS: its flags are merged into the portable ones (a
-DKEY=VALUE given there replaces the project's value of KEY, anything else is added), e.g. a CUDA
build for a GPU machine:
    MPYFORGE_LLAMA_CMAKE_ARGS="-DGGML_CUDA=ON" make setup
or a native build for this CPU only: MPYFORGE_LLAMA_CMAKE_ARGS="-DGGML_NATIVE=ON". A CUDA build
names its GPU architectures (CUDA_ARCHITECTURES) unless the flags do: ggml-cuda's CMakeLists
falls back to CMAKE_CUDA_ARCHITECTURES=native with GGML_NATIVE on, which fails where no GPU is
visible at build time (a `docker build`), and builds for that one GPU only.

Usage: python -m scripts.build_llama_cpp [--print-key]   (the venv's python, from the repository root)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from pipeline.gguf.build_info import read_build_stamp, write_build_stamp  # standard library only

ROOT = Path(__file__).resolve().parent.parent

PACKAGE = "llama-cpp-python"
ENV_OVERRIDE = "MPYFORGE_LLAMA_CMAKE_ARGS"

# x86-64 baseline: AVX2 + FMA + F16C (Haswell / Zen 1 and later); AVX-512 and AMX explicitly off
# because a VM may advertise them without allowing them (llama.cpp's ggml/CMakeLists.txt options).
X86_64_FLAGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_AVX512=OFF",
    "-DGGML_AVX512_VBMI=OFF",
    "-DGGML_AVX512_VNNI=OFF",
    "-DGGML_AVX512_BF16=OFF",
    "-DGGML_AMX_TILE=OFF",
    "-DGGML_AMX_INT8=OFF",
    "-DGGML_AMX_BF16=OFF",
)
# Other architectures (aarch64, ...): llama.cpp's portable defaults, just not tuned to this host.
PORTABLE_FLAGS = ("-DGGML_NATIVE=OFF",)
# CUDA builds: Turing (T4, RTX 20), Ampere (A100; RTX 30), Ada (RTX 40), Hopper (H100/H200), and
# Blackwell GeForce (RTX 50, sm_120), which nvcc knows from CUDA 12.8 on.
CUDA_ARCHITECTURES = ("75", "80", "86", "89", "90")
BLACKWELL_GEFORCE = ("120", (12, 8))


def pinned_requirement(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The `llama-cpp-python==X` requirement from pyproject.toml (the one place the version lives)."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    for dep in deps:
        if dep.replace("_", "-").lower().startswith(PACKAGE + "=="):
            return dep
    raise SystemExit(f"{pyproject}: no pinned '{PACKAGE}==<version>' in [project].dependencies")


def _define(arg: str) -> str | None:
    """The variable a ``-DKEY=VALUE`` or ``-DKEY:TYPE=VALUE`` flag sets, else None."""
    if not arg.startswith("-D") or "=" not in arg:
        return None
    return arg[2:].split("=", 1)[0].split(":", 1)[0]


def merge_flags(base: list[str], extra: list[str]) -> list[str]:
    """``base`` with ``extra`` merged in: a variable set in both keeps its place and takes ``extra``'s value."""
    merged = list(base)
    where = {_define(arg): i for i, arg in enumerate(merged) if _define(arg)}
    for arg in extra:
        key = _define(arg)
        if key in where:
            merged[where[key]] = arg
        else:
            where[key] = len(merged)
            merged.append(arg)
    return merged


def cuda_architectures(nvcc_release: tuple[int, int] | None) -> str:
    """The architectures a CUDA build compiles for; sm_120 only with an nvcc that knows it (None: assume so)."""
    archs = list(CUDA_ARCHITECTURES)
    arch, needs = BLACKWELL_GEFORCE
    if nvcc_release is None or nvcc_release >= needs:
        archs.append(arch)
    return ";".join(archs)


def nvcc_release() -> tuple[int, int] | None:
    """(major, minor) of the CUDA compiler on PATH ("release 12.8" in ``nvcc --version``), None without one."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    text = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=False).stdout
    for word, after in zip(text.split(), text.split()[1:], strict=False):
        if word == "release":
            major, _, minor = after.rstrip(",").partition(".")
            return int(major), int(minor)
    return None


def cmake_args(
    environ: dict[str, str] | None = None, machine: str | None = None, nvcc: tuple[int, int] | None = None
) -> str:
    """The CMake flags to build with: the project's portable choice with the user's flags merged in."""
    environ = os.environ if environ is None else environ
    machine = (machine or platform.machine()).lower()
    base = list(X86_64_FLAGS if machine in ("x86_64", "amd64") else PORTABLE_FLAGS)
    flags = merge_flags(base, environ.get(ENV_OVERRIDE, "").split())
    if "-DGGML_CUDA=ON" in flags and not any(_define(arg) == "CMAKE_CUDA_ARCHITECTURES" for arg in flags):
        flags.append(f"-DCMAKE_CUDA_ARCHITECTURES={cuda_architectures(nvcc)}")
    return " ".join(flags)


def flags_key(requirement: str, args: str, machine: str, python_tag: str) -> str:
    """Cache key of one build: anything that changes the compiled binary changes the key."""
    text = "\n".join([requirement, " ".join(args.split()), machine.lower(), python_tag])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}-{sys.implementation.name}"


def wheel_dir(key: str, root: Path = ROOT) -> Path:
    return root / "var" / "wheels" / key


def cached_wheel(directory: Path) -> Path | None:
    wheels = sorted(directory.glob("llama_cpp_python-*.whl")) if directory.is_dir() else []
    return wheels[0] if wheels else None


def build_wheel(requirement: str, args: str, target: Path) -> Path:
    """Compile the wheel into a temp dir beside `target`, then rename it in (never half a cache)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    env = dict(os.environ, CMAKE_ARGS=args, FORCE_CMAKE="1")
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
    print(f"building {requirement} with CMAKE_ARGS='{args}' (first time only: 10-30 min)", flush=True)
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-cache-dir",
                "--no-binary",
                PACKAGE,
                "--wheel-dir",
                str(staging),
                requirement,
            ],
            check=True,
            env=env,
        )
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    wheel = cached_wheel(target)
    if wheel is None:
        raise SystemExit(f"{target}: pip wheel finished but left no llama_cpp_python wheel")
    return wheel


def _importable() -> bool:
    """The recorded build is really installed (a `pip install` since may have replaced it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE) == pinned_requirement().split("==", 1)[1]
    except PackageNotFoundError:
        return False


def plan(key: str, installed: dict | None, cache: Path, importable: bool) -> str:
    """What `main` does: "current" (nothing), "install" (cached wheel) or "build" (compile first)."""
    if installed and installed.get("key") == key and importable:
        return "current"
    return "install" if cached_wheel(cache) else "build"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-key", action="store_true", help="print the cache key and exit")
    opts = parser.parse_args()
    requirement, machine = pinned_requirement(), platform.machine()
    args = cmake_args(nvcc=nvcc_release())
    key = flags_key(requirement, args, machine, python_tag())
    if opts.print_key:
        print(key)
        return
    target = wheel_dir(key)
    action = plan(key, read_build_stamp(), target, _importable())
    if action == "current":
        print(f"llama-cpp-python: installed build {key} ({args}) is current")
        return
    wheel = build_wheel(requirement, args, target) if action == "build" else cached_wheel(target)
    # Replace whatever build is installed, then let pip add the wheel's own dependencies (diskcache...).
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", "--force-reinstall", str(wheel)], check=True)
    subprocess.run([*pip, str(wheel)], check=True)
    write_build_stamp({"key": key, "cmake_args": args, "wheel": str(wheel.relative_to(ROOT))})
    print(f"llama-cpp-python: installed {wheel.name} from {target} ({args})")


if __name__ == "__main__":
    main()
