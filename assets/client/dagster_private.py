"""The one door to Dagster's private API (`dagster._…`): what `mpyforge run` needs that Dagster
does not export.

These names hold only because pyproject.toml pins the Dagster release. Everything else in the
repository uses the public `dagster` namespace (tests/test_dagster_private.py fails on a
`dagster._` anywhere else), and that test file checks each name here for what the client relies
on, so a Dagster upgrade that moves or changes one fails there, naming it.

- `stale_status_resolver`: the per-asset, per-partition MISSING / STALE / FRESH verdict the UI's
  "Unsynced" badges show (`mpyforge run` builds what it says is out of date).
- `asset_job`: the code location's implicit asset job (what the UI's "Materialize" launches),
  reconstructable so a worker process can execute it.
- `process_config`: a run config checked and completed (defaults filled in) against a config type.
- `open_workspace`, `submit_asset_run`, `daemon_healthy`: a run handed to the instance's queue the
  way a sensor's run request is, and whether a live daemon drains that queue.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import dagster as dg
from dagster._config import process_config
from dagster._core.definitions.assets.job.asset_job import IMPLICIT_ASSET_JOB_NAME
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleCauseCategory, StaleStatus
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster._core.execution.submit_asset_runs import submit_asset_run as _submit_asset_run
from dagster._core.instance.ref import InstanceRef
from dagster._core.loader import LoadingContext
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.controller import get_daemon_statuses

__all__ = [
    "IMPLICIT_ASSET_JOB_NAME",
    "InstanceRef",
    "ReconstructableJob",
    "StaleCauseCategory",
    "StaleStatus",
    "WorkspaceProcessContext",
    "asset_job",
    "daemon_healthy",
    "open_workspace",
    "process_config",
    "stale_status_resolver",
    "submit_asset_run",
]

_log = logging.getLogger("mpyforge.run_queue")


class _InstanceLoadingContext(LoadingContext):
    """The loader cache the stale-status resolver reads through (the UI uses its request context)."""

    def __init__(self, instance: dg.DagsterInstance):
        self._instance, self._loaders = instance, {}

    @property
    def instance(self) -> dg.DagsterInstance:
        return self._instance

    @property
    def loaders(self) -> dict:
        return self._loaders


def stale_status_resolver(instance: dg.DagsterInstance, graph) -> CachingStaleStatusResolver:
    """``get_status(key, partition)`` and ``get_stale_causes(key, partition)`` over ``graph``, cached."""
    return CachingStaleStatusResolver(instance, graph, _InstanceLoadingContext(instance))


def asset_job(location: tuple[str, str]) -> ReconstructableJob:
    """The implicit asset job of the Definitions at ``(module, attribute)``, loadable in another process."""
    module, attribute = location
    repository = ReconstructableRepository.for_module(module, attribute, working_directory=str(Path.cwd()))
    return repository.get_reconstructable_job(IMPLICIT_ASSET_JOB_NAME)


def open_workspace(instance: dg.DagsterInstance, workspace_yaml: Path) -> WorkspaceProcessContext:
    """The workspace of a workspace.yaml (it starts the code server); the caller exits it."""
    target = WorkspaceFileTarget(paths=[str(workspace_yaml)])
    return WorkspaceProcessContext(instance, target).__enter__()


def submit_asset_run(instance: dg.DagsterInstance, workspace: WorkspaceProcessContext, request: dg.RunRequest) -> str:
    """Create the asset job's run for ``request`` and submit it to the instance's run coordinator; its id."""
    run = asyncio.run(
        _submit_asset_run(None, request, 0, instance, workspace, workspace.create_request_context(), {}, None, _log)
    )
    return run.run_id


def daemon_healthy(instance: dg.DagsterInstance, daemon: str, heartbeat_tolerance_s: float) -> bool:
    """Whether ``daemon`` (e.g. QUEUED_RUN_COORDINATOR) wrote a heartbeat within the tolerance."""
    statuses = get_daemon_statuses(instance, [daemon], heartbeat_tolerance_seconds=heartbeat_tolerance_s)
    return bool(statuses[daemon].healthy)
