"""Run a project module in a child Python process, with a timeout and a readable failure.

llama.cpp runs only in children (quantize, verify, generate, `mpyforge doctor`): a native crash
or a hang then costs one call, not the Dagster step or the CLI. A child killed by a signal is
named, and SIGILL is explained, because it means a llama.cpp build for instructions this CPU
does not let a process use (see scripts/build_llama_cpp.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

SIGILL_HINT = (
    "SIGILL: llama.cpp was compiled for CPU instructions this machine does not allow "
    "(e.g. AMX or AVX-512 advertised by a VM). Rebuild the portable wheel: `make setup` "
    "(scripts/build_llama_cpp.py; MPYFORGE_LLAMA_CMAKE_ARGS overrides the flags)"
)


def child_env() -> dict[str, str]:
    """Environment for a child ``python -m pipeline...``: this package importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def describe_exit(returncode: int) -> str:
    """``exit 1``, or the signal that killed the child, with the fix for SIGILL."""
    if returncode >= 0:
        return f"exit {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if name == "SIGILL":
        return f"killed by {SIGILL_HINT}"
    return f"killed by {name}"


def run_child(module: str, args: list[str], timeout_s: int, error: type[Exception], failure: str) -> str:
    """Run ``python -m module args`` in a child process and return its log (stdout + stderr).

    A timeout or a non-zero exit raises ``error`` with ``failure`` (what went wrong, in words),
    how the child ended and the end of its log.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            capture_output=True,
            text=True,
            errors="replace",
            env=child_env(),
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise error(f"{failure}: no answer within {timeout_s}s") from exc
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise error(f"{failure} ({describe_exit(done.returncode)}):\n{log[-3000:]}")
    return log
