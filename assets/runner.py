"""`mpyforge run`: build what is missing or stale, as Dagster runs in the instance in DAGSTER_HOME.

What to build comes from Dagster's own data versions: the stale-status resolver the UI uses for its
"Unsynced" badges (and sensors for ``RunRequest(stale_assets_only=True)``) says per asset and
partition whether it is MISSING, STALE (new code version, or an input with a new data version) or
FRESH. Causes it cannot see are added here: the run config differs from the one of the run that made
the current materialization (a new token budget, another source folder), a file outside the pipeline
changed (a PDF of the inbox, a file below `source_files.source_dir`), or the last materialization
says it did not reach the outside world (no Ollama server answered). `force` builds the selection.

Dagster's staleness is one step deep (a rebuilt asset makes its children stale only once it has a
new data version), so the runner works in waves: build everything that is stale now, look again,
until nothing in the selection is stale. A rebuild that yields the same data version stops there.

Each wave makes few runs of the code location's own asset job (what the UI's "Materialize" launches):
one run for all the unpartitioned assets of a stretch of the graph (say `corpus` to
`instruct_checkpoint`), one run per partition for the partitioned ones (one PDF; one GGUF variant with
its Ollama registration), so a broken PDF fails alone and a variant that fails its parity check is not
registered. The partition runs execute side by side, one worker process per core
(assets/partition_pool.py); when a daemon serves the instance's run queue (`make ui` is running),
every run is submitted to that queue instead and the daemon runs it (assets/run_queue.py). Runs are
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
from pathlib import Path

import dagster as dg
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.events import DagsterEventType
from dagster._core.loader import LoadingContext

from assets.definitions import defs, run_config_for_preset, sync_pdf_partitions
from assets.partition_pool import Launch, execute_launches
from assets.pdf import pdf_inbox
from assets.run_config import RunConfigError, merge_ops, resolved_config, validate_ops
from assets.run_queue import RunQueue, queue_is_served
from pipeline.common.artifacts import sha256_file
from pipeline.pdf.inbox import inbox_paths
from pipeline.sources.files import source_dir_sha256
from resources.pools import ensure_pool_limits, process_tags, release_abandoned_runs

UI_URL = "http://127.0.0.1:3000"  # `make ui`
LOCATION = ("assets.definitions", "defs")  # the code location `make ui` loads (workspace.yaml)

Item = tuple[dg.AssetKey, str | None]  # an asset and its partition (None: unpartitioned)


def _pdf_sha256(fields: dict, partition: str | None) -> str | None:
    path = inbox_paths(pdf_inbox()).get(partition)
    return sha256_file(path) if path else None


# Inputs from outside the pipeline: (metadata key the asset records, how to hash the input now).
_OUTSIDE_INPUTS: dict[str, tuple[str, Callable[[dict, str | None], str | None]]] = {
    "source_files": ("input_sha256", lambda fields, _: source_dir_sha256(Path(fields["source_dir"]))),
    "pdf_documents": ("sha256", _pdf_sha256),
}


# A materialization that says it did not reach the outside world: worth trying again on the next run
# (an Ollama server started since `make demo` said registration was skipped).
_UNFINISHED: dict[str, tuple[str, str]] = {"ollama_model": ("registered", "not registered in Ollama last time")}


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


def _partition_keys(key: dg.AssetKey, instance: dg.DagsterInstance) -> list[str | None]:
    partitions_def = defs.resolve_asset_graph().get(key).partitions_def
    if partitions_def is None:
        return [None]
    return list(partitions_def.get_partition_keys(dynamic_partitions_store=instance))


def _has_config(key: dg.AssetKey) -> bool:
    return defs.resolve_assets_def(key).op.config_field is not None


def _outside_reason(run: _Invocation, key: dg.AssetKey, partition: str | None, record) -> str | None:
    """Why a FRESH materialization is out of date after all: another run config, or changed input files."""
    name = key.to_user_string()
    if name in _UNFINISHED:
        metadata_key, reason = _UNFINISHED[name]
        done = record.asset_materialization.metadata.get(metadata_key)
        if done is not None and done.value is False:
            return reason
    if _has_config(key):
        now = resolved_config(defs, name, run.ops.get(name, {}))
        made_by = run.instance.get_run_by_id(record.run_id)
        if made_by is not None:
            before = made_by.run_config.get("ops", {}).get(name, {}).get("config") or {}
            try:
                if resolved_config(defs, name, before) != now:
                    return "run config changed"
            except ValueError:
                return "run config changed (the previous one no longer validates)"
        if name in _OUTSIDE_INPUTS:
            metadata_key, current = _OUTSIDE_INPUTS[name]
            recorded = record.asset_materialization.metadata.get(metadata_key)
            try:
                changed = current(now, partition) != (recorded.value if recorded else None)
            except (OSError, ValueError) as err:
                return f"input unreadable ({err})"
            if changed:
                return "input files changed"
    return None


def _reason_to_build(run: _Invocation, resolver, key: dg.AssetKey, partition: str | None) -> str | None:
    if run.force:
        return "--force"
    status = resolver.get_status(key, partition)
    if status == StaleStatus.MISSING:
        return "missing"
    if status == StaleStatus.STALE:
        cause = resolver.get_stale_causes(key, partition)[0]
        dependency = f" ({cause.dependency.asset_key.to_user_string()})" if cause.dependency else ""
        return f"stale: {cause.reason}{dependency}"
    records = run.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=1
    ).records
    return _outside_reason(run, key, partition, records[0]) if records else "missing"


def _plan_wave(run: _Invocation) -> dict[Item, str]:
    """Every item of the selection not built yet in this invocation that is missing or out of date now."""
    graph = defs.resolve_asset_graph()
    resolver = CachingStaleStatusResolver(run.instance, graph, _InstanceLoadingContext(run.instance))
    plan: dict[Item, str] = {}
    for key in run.keys:
        for partition in _partition_keys(key, run.instance):
            if (key, partition) not in run.attempted:
                reason = _reason_to_build(run, resolver, key, partition)
                if reason:
                    plan[(key, partition)] = reason
    return plan


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
    started = {r.step_key: r.timestamp for r in records if r.dagster_event_type == DagsterEventType.STEP_START}
    ended = {r.step_key: r for r in records if r.dagster_event_type in _STEP_ENDS}
    materialized = {
        r.step_key: r.asset_materialization.metadata
        for r in records
        if r.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION
    }
    where = f"full log: {UI_URL}/runs/{run_id} (`make ui`)"
    if not ended:  # the run failed before any step (a resource, the executor, the config)
        failure = next((r.message for r in records if r.dagster_event_type == DagsterEventType.RUN_FAILURE), "")
        run.echo(f"run of {', '.join(k.to_user_string() for k in keys)} FAILED: {failure or 'no step ran'}; {where}")
    for key in keys:
        node = key.to_python_identifier()
        label = run.label(key, partition)
        end = ended.get(node)
        seconds = f" in {end.timestamp - started[node]:.1f}s" if end and node in started else ""
        if end is not None and end.dagster_event_type == DagsterEventType.STEP_SUCCESS:
            metadata = {name: value.value for name, value in materialized.get(node, {}).items()}
            run.echo(f"{label}: ok{seconds} -> {metadata.get('path', '(no path)')}")
            if "status" in metadata:
                run.echo(f"    {metadata['status']}")
            continue
        _record_failure(run, key, partition)
        if end is not None and end.dagster_event_type == DagsterEventType.STEP_FAILURE:
            run.echo(f"{label}: FAILED{seconds}: {_failure_message(end)}; {where}")
        else:
            upstream = _blocked_by(run, key, partition) or "a step of this run"
            run.echo(f"{label}: skipped (upstream {upstream} failed); {where}")


_STEP_ENDS = (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE)


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


def preset_ops(preset: str) -> dict:
    """The preset's run config as asset name -> config fields."""
    ops: dict = {}
    for key in defs.resolve_asset_graph().materializable_asset_keys:
        for name, entry in run_config_for_preset(preset, key).to_config_dict().get("ops", {}).items():
            ops[name] = dict(entry.get("config") or {})
    return ops


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
        while plan := _plan_wave(run):
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
        partitions = _partition_keys(key, run.instance)
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
