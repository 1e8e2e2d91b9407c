"""A GPU out-of-memory error that says what to change, and a record of it for the launcher.

The same run would run out of memory again, so the Dagster asset must not retry it unchanged: the
trainer writes the message to ``OOM_FILE`` in its run directory before it fails, and the asset turns
a failure with that file into a ``dg.Failure(allow_retries=False)`` carrying the message.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.sizing import MEMORY_FIX

OOM_FILE = "out_of_memory.json"
GIB = 1024**3


class TrainingOutOfMemory(RuntimeError):
    """The GPU ran out of memory; the message names the peak, the estimate and the fix."""


def out_of_memory_message(
    device_name: str,
    memory_bytes: int,
    peak_bytes: int | None,
    estimate_bytes: int,
    batch_size: int,
    grad_accum: int,
    seq_len: int,
) -> str:
    peak = f"peak allocated {peak_bytes / GIB:.1f} GiB, " if peak_bytes else ""
    return (
        f"out of GPU memory on {device_name} ({memory_bytes / GIB:.1f} GiB): {peak}estimated "
        f"{estimate_bytes / GIB:.1f} GiB for batch_size {batch_size} × seq_len {seq_len} with grad_accum {grad_accum}; "
        f"{MEMORY_FIX}, e.g. batch_size {max(1, batch_size // 2)} and grad_accum {grad_accum * 2}. "
        "Not retried: the same settings would run out again"
    )


def clear_oom_report(run_dir: Path) -> None:
    (Path(run_dir) / OOM_FILE).unlink(missing_ok=True)


def write_oom_report(run_dir: Path, message: str) -> None:
    path = Path(run_dir) / OOM_FILE
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({"message": message}))
    partial.replace(path)


def read_oom_report(run_dir: Path) -> str | None:
    """The message of the out-of-memory failure the trainer recorded in ``run_dir``, or None."""
    path = Path(run_dir) / OOM_FILE
    return json.loads(path.read_text())["message"] if path.is_file() else None
