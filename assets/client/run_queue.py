"""The instance's run queue, for `mpyforge run` when a Dagster daemon serves it.

With `make ui` running (webserver and daemon on the same instance), runs the CLI executed itself
would interleave with the daemon's: two trainings at once, a schedule's retrain racing a manual one.
So when the instance's run coordinator is the queued one and its daemon is alive, the CLI submits
each run the way a sensor or the asset daemon does (`submit_asset_run`: a run of the code location's
asset job, created from the workspace in workspace.yaml and handed to `instance.submit_run`). The
run then waits in the queue with the UI's runs, under the same `max_concurrent_runs` and pools, the
daemon launches it with the instance's run launcher, and the CLI follows it to its end.

Submitted runs carry no CLI process tags: the daemon's run worker owns them, not this process, so
`release_abandoned_runs` must not fail them when this process is gone (run monitoring watches them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from assets.client.dagster_private import WorkspaceProcessContext, daemon_healthy, open_workspace, submit_asset_run
from assets.client.partition_pool import Launch

WORKSPACE_YAML = Path(__file__).resolve().parents[2] / "workspace.yaml"  # what `make ui` serves
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
# The daemon writes a heartbeat every 30 s; Dagster's own tolerance (30 min) is for its status page.
# A daemon quiet for longer than this is taken for stopped: its queue would never move.
HEARTBEAT_TOLERANCE_S = 90.0
POLL_S = 1.0


def queue_is_served(instance: dg.DagsterInstance) -> bool:
    """True when runs submitted to this instance go through a queue that a live daemon drains."""
    if not isinstance(instance.run_coordinator, dg.QueuedRunCoordinator):
        return False
    return daemon_healthy(instance, QUEUE_DAEMON, HEARTBEAT_TOLERANCE_S)


class RunQueue:
    """Submits launches to the instance's queue; opens the workspace (a code server) once, when first needed."""

    def __init__(self, instance: dg.DagsterInstance, workspace_yaml: Path = WORKSPACE_YAML):
        self._instance, self._workspace_yaml = instance, workspace_yaml
        self._context: WorkspaceProcessContext | None = None

    def __enter__(self) -> RunQueue:
        return self

    def __exit__(self, *exc) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)
            self._context = None

    def _workspace(self) -> WorkspaceProcessContext:
        if self._context is None:
            self._context = open_workspace(self._instance, self._workspace_yaml)
        return self._context

    def submit(self, launch: Launch) -> str:
        """Create the run of the asset job for `launch` and put it in the queue; returns its id."""
        request = dg.RunRequest(asset_selection=launch.keys, run_config=launch.run_config, tags=launch.tags)
        return submit_asset_run(self._instance, self._workspace(), request)

    def run_all(self, launches: list[Launch]) -> Iterator[tuple[Launch, str | BaseException]]:
        """Submit every launch, then yield each with its run id as its run ends (queued runs the
        daemon stops serving end as an error naming them, instead of a wait without end)."""
        pending: dict[str, Launch] = {}
        for launch in launches:
            try:
                pending[self.submit(launch)] = launch
            except Exception as err:  # the code server could not build this run: say so, go on
                yield launch, err
        while pending:
            runs = {run_id: self._instance.get_run_by_id(run_id) for run_id in pending}  # one read per run a poll
            for run_id, run in runs.items():
                if run.is_finished:
                    yield pending.pop(run_id), run_id
            queued = [run_id for run_id in pending if runs[run_id].status == dg.DagsterRunStatus.QUEUED]
            if queued and not queue_is_served(self._instance):
                for run_id in queued:
                    yield pending.pop(run_id), RuntimeError(f"run {run_id} is queued but no daemon serves the queue")
            time.sleep(POLL_S if pending else 0)
