"""Reliability end to end: kill `mpyforge run --preset tiny` (what `make demo` runs) during
training; the re-run resumes from the checkpoint and completes with a continuous loss curve."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from tests.waits import RUN_S

REPO = Path(__file__).resolve().parents[1]
MPYFORGE = str(Path(sys.executable).parent / "mpyforge")


def _env(home: Path) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**os.environ, "DAGSTER_HOME": str(home), "MPYFORGE_ARTIFACT_ROOT": str(home / "var" / "artifacts")}


def _wait_for_checkpoint(proc: subprocess.Popen, training: Path, timeout_s: float) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = sorted(training.glob("base_checkpoint/*/checkpoints/checkpoint-*/trainer_state.json"))
        if found:
            return found[0].parent
        if proc.poll() is not None:
            pytest.fail(f"mpyforge run ended (rc {proc.returncode}) before the first checkpoint:\n{proc.stdout.read()}")
        time.sleep(0.2)
    pytest.fail("no training checkpoint appeared in time")


def _training_messages(instance: dg.DagsterInstance) -> list[str]:
    """Log messages of the newest run that trained base_checkpoint (runs come newest first)."""
    for run in instance.get_runs(filters=dg.RunsFilter(tags={"mpyforge/launched_by": "cli"})):
        records = instance.all_logs(run.run_id)
        if any(r.step_key == "base_checkpoint" for r in records):
            return [r.user_message for r in records if r.user_message]
    return []


@pytest.mark.slow
def test_killed_demo_run_resumes_from_checkpoint(tmp_path):
    env = _env(tmp_path / "home")
    training = tmp_path / "home" / "var" / "training"
    command = [MPYFORGE, "run", "--preset", "tiny", "--select", "*base_checkpoint"]
    first = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        checkpoint = _wait_for_checkpoint(first, training, timeout_s=RUN_S)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the run and its trainer subprocess, mid-training
        first.wait()
    killed_at = json.loads((checkpoint / "trainer_state.json").read_text())["global_step"]

    second = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "base_checkpoint: ok" in second.stdout
    # The live progress line reached the terminal, and the finished run directory is gone.
    assert re.search(r"step \d+/\d+ \(\d+%\)  loss [\d.]+  val .*tok/s  ETA ", second.stderr), second.stderr[-2000:]
    assert not list(training.glob("base_checkpoint/*/checkpoints"))

    listing = json.loads(
        subprocess.run(
            [MPYFORGE, "artifacts", "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        ).stdout
    )
    (base,) = [row for row in listing if row["asset"] == "base_checkpoint"]
    metrics = json.loads(Path(base["path"], "metrics.json").read_text())
    assert metrics["resumed_from"] and metrics["resumed_from"].endswith(f"checkpoint-{killed_at}")
    assert metrics["steps"] > killed_at
    # The trainer's own log lines reached the Dagster event log through Pipes.
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        messages = _training_messages(instance)
    assert any(f"resume from {checkpoint}" in m for m in messages), messages[-20:]
    assert any(m.startswith("step ") and "ETA" in m for m in messages), messages[-20:]

    # The loss curve is continuous: a logged loss every 10 steps (and at the last step), no gap, no repeat.
    logged = [entry["step"] for entry in metrics["log_history"] if "loss" in entry]
    expected = list(range(10, metrics["steps"] + 1, 10))
    assert logged == expected + ([metrics["steps"]] if expected[-1] != metrics["steps"] else [])
