"""`mpyforge run` beside a running Dagster daemon: its runs go through the instance's run queue.

A real `dagster-daemon` serves the code location of workspace.yaml on a temporary instance whose
run coordinator is Dagster's default, the queued one. The CLI must submit to that queue (the runs'
event logs say RUN_ENQUEUED, then the daemon's launch, RUN_STARTING) instead of executing beside it, and a
queue nobody serves any more must end the wait with an error naming the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from assets.client import runner
from assets.client.partition_pool import Launch
from assets.client.run_queue import RunQueue, queue_is_served
from resources.pools import RUN_PID_TAG
from tests.processes import stop_process_group
from tests.waits import STARTUP_S

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SOURCES = REPO / "data" / "sources"


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


def _env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MPYFORGE_ARTIFACT_ROOT": str(home / "artifacts"),
        "MPYFORGE_PDF_INBOX": str(home / "empty_inbox"),
    }


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    """An instance with Dagster's default (queued) run coordinator, as `make ui` uses it."""
    home = tmp_path / "home"
    (home / "empty_inbox").mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


@pytest.fixture()
def daemon(home: Path, tmp_path: Path) -> Iterator[subprocess.Popen]:
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=_env(home),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with _instance(home) as instance:
            deadline = time.monotonic() + STARTUP_S
            while not queue_is_served(instance):
                assert process.poll() is None, f"dagster-daemon exited:\n{log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, (
                    f"no queue heartbeat after {STARTUP_S} s:\n{log.read_text()[-3000:]}"
                )
                time.sleep(1)
        yield process
    finally:
        stop_process_group(process, grace_s=30)


def _mpyforge_run(home: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(BIN / "mpyforge"), "run", "--select", "source_files", "--set", f"source_files.source_dir={SOURCES}"]
    return subprocess.run([*command, *args], cwd=REPO, env=_env(home), capture_output=True, text=True, timeout=600)


def test_without_a_daemon_the_queue_is_not_used(home):
    with _instance(home) as instance:
        assert not queue_is_served(instance)  # queued coordinator, but no heartbeat


def test_cli_runs_go_through_the_daemons_queue(home, daemon):
    first = _mpyforge_run(home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "runs are submitted to it" in first.stdout
    with _instance(home) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1
        run = runs[0]
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["mpyforge/launched_by"] == "cli"
        assert RUN_PID_TAG not in run.tags  # the daemon owns it: a later CLI must not fail it as abandoned
        events = [r.dagster_event_type for r in instance.all_logs(run.run_id) if r.is_dagster_event]
        # Enqueued by the CLI, then launched by the daemon's run launcher (RUN_STARTING), then started.
        assert dg.DagsterEventType.RUN_ENQUEUED in events, events
        enqueued = events.index(dg.DagsterEventType.RUN_ENQUEUED)
        assert enqueued < events.index(dg.DagsterEventType.RUN_STARTING) < events.index(dg.DagsterEventType.RUN_START)
        assert instance.get_latest_materialization_event(dg.AssetKey("source_files")) is not None

    second = _mpyforge_run(home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to build" in second.stdout
    with _instance(home) as instance:
        assert len(instance.get_runs()) == 1


def test_a_queue_nobody_serves_ends_the_wait_with_the_run_named(home, monkeypatch):
    for name, value in _env(home).items():
        monkeypatch.setenv(name, value)
    config = runner._run_config({"source_files": {"config": {"source_dir": str(SOURCES)}}})
    launch = Launch(None, [dg.AssetKey("source_files")], config, {"mpyforge/launched_by": "cli"})
    with _instance(home) as instance, RunQueue(instance) as queue:
        ((done, outcome),) = list(queue.run_all([launch]))
        assert done is launch
        assert isinstance(outcome, RuntimeError)
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.QUEUED
        assert run.run_id in str(outcome) and "no daemon serves the queue" in str(outcome)
