"""`mpyforge run`: materialize the pipeline in this process against the instance in DAGSTER_HOME.

Runs are recorded in the same instance the web UI shows, so a `make demo` run appears
in `make ui` with its lineage, metadata and data versions. Each asset is materialized
in its own run (one per partition for partitioned assets), in dependency order, with a
progress line each. A failed partition (say, one broken PDF) does not stop the others,
but skips the same partition downstream (a GGUF variant that failed its parity check is
not registered in Ollama); an asset with no successful materialization stops everything
downstream of it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import dagster as dg

from assets.definitions import defs, run_config_for_preset, sync_pdf_partitions
from resources.pools import ensure_pool_limits


def _ordered_keys(selection: str | None) -> list[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    chosen = dg.AssetSelection.from_string(selection) if selection else dg.AssetSelection.all()
    wanted = chosen.resolve(graph)
    return [key for level in graph.toposorted_asset_keys_by_level for key in sorted(level) if key in wanted]


def _partition_keys(key: dg.AssetKey, instance: dg.DagsterInstance) -> list[str | None]:
    partitions_def = defs.resolve_asset_graph().get(key).partitions_def
    if partitions_def is None:
        return [None]
    keys = list(partitions_def.get_partition_keys(dynamic_partitions_store=instance))
    if key == dg.AssetKey("ollama_model"):
        # Register only the variants the Ollama resource names (default q4_k_m), not all four.
        keys = [k for k in keys if k in defs.resources["ollama"].variants]
    return keys


def run_pipeline(
    preset: str = "tiny",
    selection: str | None = None,
    instance: dg.DagsterInstance | None = None,
    echo: Callable[[str], None] = print,
) -> bool:
    """Materialize the selection; return True when every step succeeded."""
    instance = instance or dg.DagsterInstance.get()
    # Pipes' message reader uses a preview API internally; that is Dagster's concern, not the user's.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    sync_pdf_partitions(instance)
    ensure_pool_limits(instance)
    keys = _ordered_keys(selection)
    graph = defs.resolve_asset_graph()
    blocked: set[dg.AssetKey] = set()
    failed: dict[dg.AssetKey, set[str]] = {}  # failed partitions, to skip the same partition downstream
    all_ok = True
    for index, key in enumerate(keys, start=1):
        name = key.to_user_string()
        missing = [p for p in graph.get(key).parent_keys if p in blocked]
        if missing:
            echo(f"[{index}/{len(keys)}] {name}: skipped (upstream {missing[0].to_user_string()} failed)")
            blocked.add(key)
            all_ok = False
            continue
        partitions = _partition_keys(key, instance)
        succeeded = 0
        for partition in partitions:
            label = name if partition is None else f"{name}[{partition}]"
            upstream = [p for p in graph.get(key).parent_keys if partition in failed.get(p, ())]
            if upstream:
                echo(
                    f"[{index}/{len(keys)}] {label}: skipped "
                    f"(upstream {upstream[0].to_user_string()}[{partition}] failed)"
                )
                failed.setdefault(key, set()).add(partition)
                all_ok = False
                continue
            started = time.monotonic()
            result = dg.materialize(
                [*(defs.assets or []), *(defs.asset_checks or [])],
                selection=[key],
                partition_key=partition,
                instance=instance,
                resources=defs.resources,
                run_config=_quiet(run_config_for_preset(preset, key)),
                raise_on_error=False,
                tags={"mpyforge/launched_by": "cli", "mpyforge/preset": preset},
            )
            seconds = time.monotonic() - started
            if result.success:
                succeeded += 1
                metadata = _materialization_metadata(result, key)
                echo(f"[{index}/{len(keys)}] {label}: ok in {seconds:.1f}s -> {metadata.get('path', '(no path)')}")
                if "status" in metadata:
                    echo(f"    {metadata['status']}")
            else:
                all_ok = False
                failed.setdefault(key, set()).add(partition)
                echo(f"[{index}/{len(keys)}] {label}: FAILED in {seconds:.1f}s: {_failure_message(result)}")
        if partitions and not succeeded:
            blocked.add(key)
    return all_ok


def _quiet(config: dg.RunConfig) -> dg.RunConfig:
    """Keep the terminal to one line per step: Dagster's own events are in the UI and logs."""
    return dg.RunConfig(ops=config.ops, loggers={"console": {"config": {"log_level": "WARNING"}}})


def _materialization_metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    """Plain values of the step's materialization metadata (path, status, ...)."""
    for materialization in result.asset_materializations_for_node(key.to_python_identifier()):
        return {name: value.value for name, value in materialization.metadata.items()}
    return {}


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            return event.step_failure_data.error.message.strip().splitlines()[0]
    return "run failed (see the run in the UI)"
