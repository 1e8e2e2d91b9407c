"""The run directory's rules: which checkpoint counts, and one trainer at a time.

A kill (OOM, a cancelled Dagster run, a pre-empted machine) can leave ``checkpoint-N``
half written. The Trainer writes ``trainer_state.json`` after the weights, optimizer and
scheduler, so a checkpoint counts only when that state parses and those files are present;
otherwise the one before it is used, and the torn one is removed (the Trainer will write
step N again). A lock file keeps a second trainer (a retry racing a zombie, two terminals)
out of a directory another one is writing.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

from pipeline.common.store_locks import process_token, token_alive

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Written by Trainer._save_checkpoint before trainer_state.json (transformers 5).
CHECKPOINT_FILES = ("model.safetensors", "optimizer.pt", "scheduler.pt")
LOCK_FILE = "trainer.lock"
# Set by the launching Dagster step (assets/training.py): its process_token, and the wall-clock
# time (unix seconds) past which the trainer stops.
LAUNCHER_ENV = "MPYFORGE_TRAIN_LAUNCHER"
DEADLINE_ENV = "MPYFORGE_TRAIN_DEADLINE"
WATCH_S = 2.0


def training_root(store_root: Path) -> Path:
    """Where run directories live: ``training/`` beside the artifact store root, so a deployment
    that mounts the store's parent (``/data`` for ``/data/artifacts``) keeps them for a resume."""
    return Path(store_root).parent / "training"


class RunDirectoryBusy(RuntimeError):
    """Another trainer holds the run directory's lock."""


def checkpoint_step(path: Path) -> int | None:
    """The global step of a complete checkpoint directory, else None."""
    if not all((path / name).is_file() for name in CHECKPOINT_FILES):
        return None
    try:
        return int(json.loads((path / "trainer_state.json").read_text())["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def last_complete_checkpoint(checkpoint_dir: Path, remove_torn: bool = False) -> Path | None:
    """The newest complete ``checkpoint-N`` under ``checkpoint_dir``; torn newer ones are skipped
    (and deleted when ``remove_torn``: only rank 0 should, while it holds the lock)."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return None
    candidates = sorted(
        (int(m.group(1)), p) for p in checkpoint_dir.iterdir() if p.is_dir() and (m := CHECKPOINT.match(p.name))
    )
    for _, path in reversed(candidates):
        if checkpoint_step(path) is not None:
            return path
        if remove_torn:
            shutil.rmtree(path)
    return None


def launcher_env() -> dict[str, str]:
    """The environment a launcher gives its trainer: the trainer dies with it and by its deadline
    (``$MPYFORGE_TRAIN_MAX_RUNTIME_S``, default three days, from now)."""
    max_runtime_s = float(os.environ.get("MPYFORGE_TRAIN_MAX_RUNTIME_S", 3 * 86400))
    return {LAUNCHER_ENV: process_token(os.getpid()), DEADLINE_ENV: str(time.time() + max_runtime_s)}


def _watch_launcher(launcher: str | None, deadline: float | None) -> None:
    while True:
        time.sleep(WATCH_S)
        if launcher and not token_alive(launcher):
            why = "its launching step process is gone (killed?)"
        elif deadline and time.time() > deadline:
            why = f"it ran past its deadline ({DEADLINE_ENV}; MPYFORGE_TRAIN_MAX_RUNTIME_S sets the limit)"
        else:
            continue
        print(f"trainer: stopping, {why}; the last complete checkpoint stays for a resume", file=sys.stderr, flush=True)
        os._exit(3)  # no cleanup that could hang; the kernel drops trainer.lock


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``<run dir>/trainer.lock``; the kernel drops it when
    the process dies, so a killed trainer never leaves a stale lock behind.

    The holder also dies with its launcher: a Dagster step killed alone would otherwise leave its
    trainer running, holding the lock, and every retry would fail with ``RunDirectoryBusy``. It
    stops as well past the launcher's deadline (a hung trainer would hold the gpu slot forever)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._handle = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunDirectoryBusy(
                f"{self.path.parent}: another trainer (pid {holder}) is using this run directory; "
                "wait for it to finish or stop it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        launcher, deadline = os.environ.get(LAUNCHER_ENV), os.environ.get(DEADLINE_ENV)
        if launcher or deadline:
            args = (launcher, float(deadline) if deadline else None)
            threading.Thread(target=_watch_launcher, args=args, name="launcher watch", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _last_started(run_dir: Path) -> float:
    """When a trainer last started in ``run_dir``: each launch rewrites its settings.json."""
    settings = run_dir / "settings.json"
    return (settings if settings.exists() else run_dir).stat().st_mtime


def prune_run_dirs(parent: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest run directories under ``parent`` (one asset's runs).

    A run directory outlives its run only when the run stopped early (killed, failed, settings
    changed before it finished); the newest are kept so such a run can still resume, older ones
    (GBs of checkpoints each for the larger presets) are removed. A directory whose lock a live
    trainer holds is never touched. Returns what was removed.
    """
    if not parent.is_dir():
        return []
    runs = sorted((p for p in parent.iterdir() if p.is_dir()), key=_last_started, reverse=True)
    removed = []
    for run_dir in runs[keep:]:
        try:
            with RunLock(run_dir):
                for child in run_dir.iterdir():
                    if child.name != LOCK_FILE:
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
        except RunDirectoryBusy:
            continue
        shutil.rmtree(run_dir, ignore_errors=True)
        removed.append(run_dir)
    return removed
