"""Stopping the servers the tests start (a webserver or daemon leads a group of code servers and run workers)."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM the group `process` leads (started with start_new_session=True), SIGKILL it after `grace_s`."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
