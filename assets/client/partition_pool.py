"""The runs of one wave of `mpyforge run`, side by side when there are several partitions.

A library of PDFs is hundreds of partition runs; one after the other they use one core. Here each
run of a wave's partitions (a PDF, a GGUF variant with its registration) executes in a worker of a
process pool, `workers` at a time (the machine's cores by default), like the daemon's run queue
runs them side by side. A worker opens the same instance from its ref and executes the code
location's asset job, so every run is the run it would be one at a time, and a failed one stays
alone. An in-memory (ephemeral) instance cannot be shared, and a single run gains nothing from a
pool: those run in this process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import dagster as dg

from assets.client.dagster_private import InstanceRef, asset_job


@dataclass(frozen=True)
class Launch:
    """One Dagster run to make: these assets, for this partition (None: unpartitioned)."""

    partition: str | None
    keys: list[dg.AssetKey]
    run_config: dict
    tags: dict


def _execute(location: tuple[str, str], instance: dg.DagsterInstance, launch: Launch) -> str:
    result = dg.execute_job(
        asset_job(location),
        instance,
        run_config=launch.run_config,
        tags=launch.tags,
        asset_selection=launch.keys,
        raise_on_error=False,
    )
    return result.run_id


def _execute_in_worker(location: tuple[str, str], instance_ref: InstanceRef, launch: Launch) -> str:
    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        return _execute(location, instance, launch)


def execute_launches(
    location: tuple[str, str], instance: dg.DagsterInstance, launches: list[Launch], workers: int
) -> Iterator[tuple[Launch, str | BaseException]]:
    """Execute every launch; yield each with its run id (or what went wrong) as it finishes."""
    if workers <= 1 or len(launches) < 2 or instance.is_ephemeral:
        for launch in launches:
            yield launch, _execute(location, instance, launch)
        return
    # spawn, not fork: this process holds Dagster's and SQLite's threads and handles.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(launches)), mp_context=context) as pool:
        futures = {pool.submit(_execute_in_worker, location, instance.get_ref(), launch): launch for launch in launches}
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], error if error is not None else future.result()
