"""`mpyforge run`: build what is missing or stale, as Dagster runs in the instance in DAGSTER_HOME.

What to build comes from Dagster's own data versions plus what they cannot see (a changed run config,
changed files in the inbox or the source folder, a registration that found no Ollama server):
assets/client/staleness.py.

Dagster's staleness is one step deep (a rebuilt asset makes its children stale only once it has a
new data version), so the runner works in waves: build everything that is stale now, look again,
until nothing in the selection is stale. A rebuild that yields the same data version stops there.

Each wave makes few runs of the code location's own asset job (what the UI's "Materialize" launches):
one run for all the unpartitioned assets of a stretch of the graph (say `corpus` to
`instruct_checkpoint`), one run per partition for the partitioned ones (one PDF; one GGUF variant with
its Ollama registration), so a broken PDF fails alone and a variant that fails its parity check is not
registered. The partition runs execute side by side, one worker process per core
(assets/client/partition_pool.py); when a daemon serves the instance's run queue (`make ui` is running),
every run is submitted to that queue instead and the daemon runs it (assets/client/run_queue.py). Runs are
tagged ``mpyforge/launched_by=cli`` and ``mpyforge/invocation=<id>``: the UI's run list finds them.
A failure prints its cause and the run's page in `make ui`.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import dagster as dg

from assets.client.partition_pool import Launch, execute_launches
from assets.client.presets import preset_ops
from assets.client.run_config import RunConfigError, merge_ops, validate_ops
from assets.client.run_queue import RunQueue, queue_is_served
from assets.client.staleness import Item, partition_keys, plan_wave
from assets.definitions import defs
from assets.inbox import sync_pdf_partitions
from resources.pools import ensure_pool_limits, process_tags, release_abandoned_runs

UI_URL = "http://127.0.0.1:3000"  # `make ui`
LOCATION = ("assets.definitions", "defs")  # the code location `make ui` loads (workspace.yaml)


@dataclass
class _Invocation:
    """One `mpyforge run`: what it was asked for and what happened so far."""

    instance: dg.DagsterInstance
    ops: dict  # asset name -> config fields (preset, --config, --set merged)
    tags: dict
    force: bool
    echo: Callable[[str], None]
    keys: list[dg.AssetKey]
    workers: int  # partition runs at once
    queue: RunQueue | None  # the instance's run queue, when a daemon serves it
    attempted: set[Item] = field(default_factory=set)
    failed: set[Item] = field(default_factory=set)
    blocked: set[dg.AssetKey] = field(default_factory=set)
    all_ok: bool = True
    steps: int = 0

    def label(self, key: dg.AssetKey, partition: str | None) -> str:
        index = f"[{self.keys.index(key) + 1}/{len(self.keys)}]"
        name = key.to_user_string()
        return f"{index} {name}" if partition is None else f"{index} {name}[{partition}]"


def _ordered_keys(selection: str | None) -> list[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    chosen = dg.AssetSelection.from_string(selection) if selection else dg.AssetSelection.all()
    wanted = chosen.resolve(graph)
    return [key for level in graph.toposorted_asset_keys_by_level for key in sorted(level) if key in wanted]


def _segments(keys: list[dg.AssetKey]) -> list[list[dg.AssetKey]]:
    """Keys (in dependency order) grouped into stretches that one run per partition can build:
    each key joins the earliest stretch of its partitioning that comes no earlier than its parents."""
    graph = defs.resolve_asset_graph()
    segments: list[list[dg.AssetKey]] = []
    for key in keys:
        node = graph.get(key)
        after = max((i for i, seg in enumerate(segments) for k in seg if k in node.parent_keys), default=0)
        for segment in segments[after:]:
            if graph.get(segment[0]).partitions_def == node.partitions_def:
                segment.append(key)
                break
        else:
            segments.append([key])
    return segments


def _blocked_by(run: _Invocation, key: dg.AssetKey, partition: str | None) -> str | None:
    for parent in sorted(defs.resolve_asset_graph().get(key).parent_keys):
        if parent in run.blocked:
            return parent.to_user_string()
        if partition is not None and (parent, partition) in run.failed:
            return f"{parent.to_user_string()}[{partition}]"
    return None


def _run_config(ops: dict) -> dict:
    """Keep the terminal to one line per step (Dagster's own events are in the UI and logs). Under
    Dagster's default executor, run the steps in this process: a process per step would import the
    code location (torch included) again for every step; `$MPYFORGE_EXECUTOR` (k8s, docker) is used as is."""
    config: dict = {"ops": ops, "loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if defs.executor is None:
        config["execution"] = {"config": {"in_process": {}}}
    return config


def _prepare(
    run: _Invocation, keys: list[dg.AssetKey], partition: str | None, reasons: dict[Item, str]
) -> Launch | None:
    """The run for `keys` (one partition), with a line per step; None when every step is skipped."""
    runnable = []
    for key in keys:
        upstream = _blocked_by(run, key, partition)
        run.attempted.add((key, partition))  # once per invocation, whatever the outcome
        if upstream:
            run.echo(f"{run.label(key, partition)}: skipped (upstream {upstream} failed)")
            _record_failure(run, key, partition)
        else:
            runnable.append(key)
            run.steps += 1
            run.echo(f"{run.label(key, partition)}: building ({reasons[(key, partition)]})")
    if not runnable:
        return None
    names = [k.to_user_string() for k in runnable]
    config = {name: {"config": run.ops[name]} for name in names if name in run.ops}
    tags = {**run.tags, **({"dagster/partition": partition} if partition is not None else {})}
    return Launch(partition, runnable, _run_config(config), tags)


def _launch_all(run: _Invocation, launches: list[Launch]) -> None:
    """Execute the runs (through the queue, or partitions side by side here) and report each."""
    outcomes = (
        run.queue.run_all(launches) if run.queue else execute_launches(LOCATION, run.instance, launches, run.workers)
    )
    for launch, outcome in outcomes:
        if isinstance(outcome, BaseException):  # the worker itself failed, not a step of the run
            for key in launch.keys:
                run.echo(f"{run.label(key, launch.partition)}: FAILED: {type(outcome).__name__}: {outcome}")
                _record_failure(run, key, launch.partition)
        else:
            _report(run, outcome, launch.keys, launch.partition)


def _record_failure(run: _Invocation, key: dg.AssetKey, partition: str | None) -> None:
    run.all_ok = False
    run.failed.add((key, partition))
    if partition is None:
        run.blocked.add(key)


def _report(run: _Invocation, run_id: str, keys: list[dg.AssetKey], partition: str | None) -> None:
    """A line per step of the run, from its event log."""
    records = run.instance.all_logs(run_id)
    started = {r.step_key: r.timestamp for r in records if r.dagster_event_type == dg.DagsterEventType.STEP_START}
    ended = {r.step_key: r for r in records if r.dagster_event_type in _STEP_ENDS}
    materialized = {
        r.step_key: r.asset_materialization.metadata
        for r in records
        if r.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    }
    where = f"full log: {UI_URL}/runs/{run_id} (`make ui`)"
    if not ended:  # the run failed before any step (a resource, the executor, the config)
        failure = next((r.message for r in records if r.dagster_event_type == dg.DagsterEventType.RUN_FAILURE), "")
        run.echo(f"run of {', '.join(k.to_user_string() for k in keys)} FAILED: {failure or 'no step ran'}; {where}")
    for key in keys:
        node = key.to_python_identifier()
        label = run.label(key, partition)
        end = ended.get(node)
        seconds = f" in {end.timestamp - started[node]:.1f}s" if end and node in started else ""
        if end is not None and end.dagster_event_type == dg.DagsterEventType.STEP_SUCCESS:
            metadata = {name: value.value for name, value in materialized.get(node, {}).items()}
            run.echo(f"{label}: ok{seconds} -> {metadata.get('path', '(no path)')}")
            if "status" in metadata:
                run.echo(f"    {metadata['status']}")
            continue
        _record_failure(run, key, partition)
        if end is not None and end.dagster_event_type == dg.DagsterEventType.STEP_FAILURE:
            run.echo(f"{label}: FAILED{seconds}: {_failure_message(end)}; {where}")
        else:
            upstream = _blocked_by(run, key, partition) or "a step of this run"
            run.echo(f"{label}: skipped (upstream {upstream} failed); {where}")


_STEP_ENDS = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)


def _failure_message(record) -> str:
    """The innermost error's first line: the user's exception, not Dagster's wrapper around it."""
    data = record.dagster_event.step_failure_data
    error = data.error if data else None
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "step failed"
    first = (error.message.strip().splitlines() or [error.cls_name or "error"])[0]
    return first


def _block_if_nothing_built(run: _Invocation, key: dg.AssetKey) -> None:
    """A partitioned asset stops its downstream only when it has no partition to build from at all
    (the corpus is built from the PDFs that did extract, and names the failed ones)."""
    failed = any(k == key for k, _ in run.failed)
    if failed and not run.instance.get_materialized_partitions(key):
        run.blocked.add(key)


def run_pipeline(
    preset: str = "tiny",
    selection: str | None = None,
    instance: dg.DagsterInstance | None = None,
    echo: Callable[[str], None] = print,
    force: bool = False,
    ops: dict | None = None,
    workers: int | None = None,
) -> bool:
    """Build what is missing or stale in the selection; return True when every step succeeded.

    `ops` (asset name -> config fields, from `--config`/`--set`) is merged over the preset's config and
    validated before anything runs (a RunConfigError names the asset or field).
    """
    merged = merge_ops(preset_ops(preset), ops or {})
    if "inbox" in merged.get("pdf_documents", {}):
        raise RunConfigError(
            "pdf_documents.inbox: the inbox is not run config; set MPYFORGE_PDF_INBOX "
            "(the sensor and the asset read it too)"
        )
    validate_ops(defs, merged)
    instance = instance or dg.DagsterInstance.get()
    # Pipes' message reader uses a preview API internally; that is Dagster's concern, not the user's.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    try:
        sync_pdf_partitions(instance)
    except ValueError as err:  # the inbox is not a folder: say so before any run
        raise RunConfigError(str(err)) from err
    ensure_pool_limits(instance)
    for run_id in release_abandoned_runs(instance):  # killed earlier: its gpu slot would block training
        echo(f"run {run_id} of an mpyforge process that is gone: marked failed, its pool slot freed")
    invocation = uuid.uuid4().hex[:8]
    queued = queue_is_served(instance)
    if queued:
        echo("a Dagster daemon serves this instance's run queue: runs are submitted to it")
    tags = {"mpyforge/launched_by": "cli", "mpyforge/preset": preset, "mpyforge/invocation": invocation}
    with RunQueue(instance) if queued else nullcontext() as queue:
        run = _Invocation(
            instance=instance,
            ops=merged,
            tags=tags if queued else {**tags, **process_tags()},  # the daemon owns queued runs
            force=force,
            echo=echo,
            keys=_ordered_keys(selection),
            workers=workers or os.cpu_count() or 1,
            queue=queue,
        )
        started = time.monotonic()
        while plan := plan_wave(defs, run.instance, run.keys, run.ops, run.force, run.attempted):
            for segment in _segments(sorted({key for key, _ in plan}, key=run.keys.index)):
                partitions = sorted({p for k, p in plan if k in segment}, key=lambda p: p or "")
                prepared = [_prepare(run, [k for k in segment if (k, p) in plan], p, plan) for p in partitions]
                _launch_all(run, [launch for launch in prepared if launch is not None])
                if partitions != [None]:
                    for key in segment:
                        _block_if_nothing_built(run, key)
        _summarize(run, started, invocation)
    return run.all_ok


def _summarize(run: _Invocation, started: float, invocation: str) -> None:
    for key in run.keys:
        partitions = partition_keys(defs, key, run.instance)
        untouched = [p for p in partitions if (key, p) not in run.attempted]
        if untouched and len(untouched) == len(partitions):
            run.echo(f"{run.label(key, None)}: up to date (code version, inputs and config unchanged), skipped")
        elif untouched:
            run.echo(f"{run.label(key, None)}: {len(untouched)} other partition(s) up to date, skipped")
    if run.steps:
        seconds = time.monotonic() - started
        run.echo(f"{run.steps} step(s) in {seconds:.0f}s; runs tagged mpyforge/invocation={invocation}")
    else:
        run.echo("nothing to build: every selected asset is up to date (--force rebuilds)")
