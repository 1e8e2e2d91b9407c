"""What `mpyforge run` must build, and why: Dagster's own stale status plus what it cannot see.

The stale-status resolver is the one the UI uses for its "Unsynced" badges (and sensors for
``RunRequest(stale_assets_only=True)``): per asset and partition it says MISSING, STALE (new code
version, or an input with a new data version) or FRESH. A FRESH materialization is still out of date
when its run config differs from the one of the run that made it (a new token budget, another source
folder), when a file outside the pipeline changed (a PDF of the inbox, a file below
`source_files.source_dir`, the interpreter `python_warmup_files` reads), or when it says it did not
reach the outside world (no Ollama server answered). `--force` builds everything selected.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg

from assets.client.dagster_private import StaleStatus, stale_status_resolver
from assets.client.run_config import resolved_config
from assets.inbox import pdf_inbox
from assets.pdf import PDF_SHA256
from pipeline.common.content import sha256_file
from pipeline.pdf.inbox import inbox_paths
from pipeline.serve.task_gate import REGISTERED
from pipeline.sources.files import INPUT_SHA256, source_dir_sha256
from pipeline.sources.python_warmup import interpreter_sha256

Item = tuple[dg.AssetKey, str | None]  # an asset and its partition (None: unpartitioned)


def _pdf_sha256(fields: dict, partition: str | None) -> str | None:
    path = inbox_paths(pdf_inbox()).get(partition)
    return sha256_file(path) if path else None


# Inputs from outside the pipeline: (metadata key the asset records, how to hash the input now).
_OUTSIDE_INPUTS: dict[str, tuple[str, Callable[[dict, str | None], str | None]]] = {
    "source_files": (INPUT_SHA256, lambda fields, _: source_dir_sha256(Path(fields["source_dir"]))),
    "pdf_documents": (PDF_SHA256, _pdf_sha256),
    # Another Python (or, with packages, another package set) has other code to warm up on.
    "python_warmup_files": (INPUT_SHA256, lambda fields, _: interpreter_sha256(fields["include_site_packages"])),
}

# A materialization that says it did not reach the outside world: worth trying again on the next run
# (an Ollama server started since `make demo` said registration was skipped).
_UNFINISHED: dict[str, tuple[str, str]] = {"ollama_model": (REGISTERED, "not registered in Ollama last time")}


def partition_keys(defs: dg.Definitions, key: dg.AssetKey, instance: dg.DagsterInstance) -> list[str | None]:
    partitions_def = defs.resolve_asset_graph().get(key).partitions_def
    if partitions_def is None:
        return [None]
    return list(partitions_def.get_partition_keys(dynamic_partitions_store=instance))


def _config_changed(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, now: dict, record) -> str | None:
    made_by = instance.get_run_by_id(record.run_id)
    if made_by is None:
        return None
    before = made_by.run_config.get("ops", {}).get(name, {}).get("config") or {}
    try:
        return "run config changed" if resolved_config(defs, name, before) != now else None
    except ValueError:
        return "run config changed (the previous one no longer validates)"


def _outside_reason(defs, instance: dg.DagsterInstance, ops: dict, key: dg.AssetKey, partition: str | None, record):
    """Why a FRESH materialization is out of date after all: another run config, or changed input files."""
    name = key.to_user_string()
    metadata = record.asset_materialization.metadata
    if name in _UNFINISHED:
        metadata_key, reason = _UNFINISHED[name]
        done = metadata.get(metadata_key)
        if done is not None and done.value is False:
            return reason
    if defs.resolve_assets_def(key).op.config_field is None:
        return None
    now = resolved_config(defs, name, ops.get(name, {}))
    changed = _config_changed(defs, instance, name, now, record)
    if changed or name not in _OUTSIDE_INPUTS:
        return changed
    metadata_key, current = _OUTSIDE_INPUTS[name]
    recorded = metadata.get(metadata_key)
    try:
        moved = current(now, partition) != (recorded.value if recorded else None)
    except (OSError, ValueError) as err:
        return f"input unreadable ({err})"
    return "input files changed" if moved else None


def _reason_to_build(defs, instance, ops: dict, resolver, key: dg.AssetKey, partition: str | None) -> str | None:
    status = resolver.get_status(key, partition)
    if status == StaleStatus.MISSING:
        return "missing"
    if status == StaleStatus.STALE:
        cause = resolver.get_stale_causes(key, partition)[0]
        dependency = f" ({cause.dependency.asset_key.to_user_string()})" if cause.dependency else ""
        return f"stale: {cause.reason}{dependency}"
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=1
    ).records
    return _outside_reason(defs, instance, ops, key, partition, records[0]) if records else "missing"


def plan_wave(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    keys: list[dg.AssetKey],
    ops: dict,
    force: bool,
    attempted: set[Item],
) -> dict[Item, str]:
    """Every item of ``keys`` (assets of ``defs``) not in ``attempted`` that is missing or out of date
    now, with the reason."""
    resolver = stale_status_resolver(instance, defs.resolve_asset_graph())
    plan: dict[Item, str] = {}
    for key in keys:
        for partition in partition_keys(defs, key, instance):
            if (key, partition) in attempted:
                continue
            reason = "--force" if force else _reason_to_build(defs, instance, ops, resolver, key, partition)
            if reason:
                plan[(key, partition)] = reason
    waiting = waiting_for_upstream(defs, {key for key, _ in plan})
    return {item: reason for item, reason in plan.items() if item[0] not in waiting}


def waiting_for_upstream(defs: dg.Definitions, planned: set[dg.AssetKey]) -> set[dg.AssetKey]:
    """Planned assets that must wait for a later wave: an asset planned in this wave reaches them only
    through one that is not (yet) stale, so they would be built from inputs about to change (say
    instruct_checkpoint beside instruction_pairs, before the tokenizer and shards the new pairs make
    stale), and, being built once per invocation, never rebuilt."""
    graph = defs.resolve_asset_graph()

    def behind_unplanned(key: dg.AssetKey, passed_unplanned: bool, seen: set) -> bool:
        for parent in graph.get(key).parent_keys:
            if (parent, passed_unplanned) in seen:
                continue
            seen.add((parent, passed_unplanned))
            if parent in planned and passed_unplanned:
                return True
            if behind_unplanned(parent, passed_unplanned or parent not in planned, seen):
                return True
        return False

    return {key for key in planned if behind_unplanned(key, False, set())}
