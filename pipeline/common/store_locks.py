"""What lets several hosts share one artifact store: write owners with heartbeats, and slot locks.

A write in progress is a ``.tmp-*`` directory with a sidecar ``<dir>.owner`` file naming the host
and process that own it. The writer touches the sidecar every ``HEARTBEAT_S`` seconds, so any
host can tell a live write from an abandoned one without seeing the writer's processes:

- on the owner's own host, a dead PID means abandoned at once (a crash or a kill);
- from another host, only a heartbeat older than ``stale_after_s`` does (PIDs mean nothing
  across hosts, and a PID that is dead here may be alive on the owner's machine).

Committing a version (rename, ``CURRENT``, pruning) happens under an exclusive POSIX lock on the
slot's ``.lock`` file (``fcntl.lockf``, which NFS v4 and most shared volumes honour), so two
writers never interleave a pointer update with a prune.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

HEARTBEAT_S = 30.0
# A write whose owner on another host has not beaten for this long is abandoned. Ten heartbeats:
# a busy or briefly paused host is not mistaken for a dead one.
DEFAULT_STALE_AFTER_S = float(os.environ.get("MPYFORGE_STALE_WRITE_S", "300"))
OWNER_SUFFIX = ".owner"
LOCK_NAME = ".lock"


def host_id() -> str:
    """This machine's name in owner files: ``$MPYFORGE_HOST_ID`` (e.g. a pod name) or the hostname."""
    return os.environ.get("MPYFORGE_HOST_ID") or socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_token(pid: int) -> str:
    """``pid`` told apart from a later process that reuses it: ``pid:boot id:start time`` (Linux
    ``/proc``); just the pid where that is not available."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        started = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]  # field 22
    except (OSError, IndexError):
        return str(pid)
    return f"{pid}:{boot}:{started}"


def token_alive(token: str) -> bool:
    """Whether the process a ``process_token`` named still runs (not a reboot's or a reused pid)."""
    pid = int(token.split(":", 1)[0])
    if ":" not in token:
        return pid_alive(pid)
    return pid_alive(pid) and process_token(pid) == token


class Owner(NamedTuple):
    """Who holds a write in progress (the sidecar file's JSON)."""

    host: str
    pid: int
    started: float


def owner_path(tmp: Path) -> Path:
    return tmp.with_name(tmp.name + OWNER_SUFFIX)


def claim(tmp: Path, host: str) -> None:
    """Record who owns the write in ``tmp`` (the sidecar's mtime is its heartbeat)."""
    owner_path(tmp).write_text(json.dumps({"host": host, "pid": os.getpid(), "started": time.time()}))


def read_owner(tmp: Path) -> Owner | None:
    try:
        data = json.loads(owner_path(tmp).read_text())
        return Owner(str(data["host"]), int(data["pid"]), float(data["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_abandoned(tmp: Path, host: str, stale_after_s: float, now: float | None = None) -> bool:
    """Whether the write in ``tmp`` can be swept by ``host`` (see the module docstring)."""
    now = time.time() if now is None else now
    owner = read_owner(tmp)
    if owner is not None and owner.host == host:
        return not pid_alive(owner.pid)
    beat = owner_path(tmp) if owner is not None else tmp  # no owner file: a bare temp file or dir
    try:
        last = beat.stat().st_mtime
    except FileNotFoundError:
        return True
    return now - last > stale_after_s


class Heartbeat:
    """Touch a write's owner file every ``interval_s`` seconds until stopped."""

    def __init__(self, tmp: Path, interval_s: float = HEARTBEAT_S):
        self._path, self._interval = owner_path(tmp), interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {tmp.name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                os.utime(self._path)
            except FileNotFoundError:
                return  # the write was committed or swept

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def slot_lock(slot: Path) -> Iterator[None]:
    """Exclusive lock on one asset (or partition) slot of the store.

    A removed partition's slot goes with its ``.lock`` (``remove_slot``); a process that was
    waiting on the old lock file then holds a lock nobody else can see, so it locks again
    until the file it holds is the one at the path (recreating the slot)."""
    while True:
        slot.mkdir(parents=True, exist_ok=True)
        try:
            handle = open(slot / LOCK_NAME, "a+")
        except FileNotFoundError:  # the slot was removed between mkdir and open
            continue
        fcntl.lockf(handle, fcntl.LOCK_EX)
        try:
            if os.stat(slot / LOCK_NAME).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        fcntl.lockf(handle, fcntl.LOCK_UN)
        handle.close()


def remove_slot(slot: Path) -> None:
    """Delete a slot and its lock file; call it holding ``slot_lock(slot)``."""
    for child in slot.iterdir():
        if child.name != LOCK_NAME:
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    (slot / LOCK_NAME).unlink()
    try:
        slot.rmdir()
    except OSError:
        pass  # a waiter already made a new .lock here: the slot lives on, empty, under its lock
