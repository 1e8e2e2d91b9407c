"""Run config for `mpyforge run`: the preset, then `--config FILE.yaml`, then `--set asset.field=value`.

The file has the shape the UI's Launchpad takes (``ops: {asset: {config: {field: value}}}``), so a
config written for one works in the other. Every entry is checked against the asset's own Config
class before anything runs: a typo names the asset or field instead of failing mid-pipeline.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml

from assets.client.dagster_private import process_config


class RunConfigError(ValueError):
    """A config file or `--set` that names an unknown asset or field, or a value of the wrong type."""


def load_config_file(path: Path) -> dict:
    """The `ops:` of a run-config YAML file (the only section `mpyforge run` applies)."""
    try:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise RunConfigError(f"--config {path}: {err}") from err
    if not isinstance(loaded, dict):
        raise RunConfigError(f"--config {path}: expected a mapping with an `ops:` section")
    unknown = sorted(set(loaded) - {"ops"})
    if unknown:
        raise RunConfigError(
            f"--config {path}: unsupported top-level section {unknown[0]!r} (mpyforge run applies `ops:` only; "
            "resources come from the code location)"
        )
    ops = loaded.get("ops") or {}
    if not isinstance(ops, dict):
        raise RunConfigError(f"--config {path}: ops must be a mapping of asset names, not {type(ops).__name__}")
    for name, entry in ops.items():
        if not isinstance(entry, dict) or set(entry) - {"config"}:
            raise RunConfigError(f"--config {path}: ops.{name} must be a mapping with one key, `config:`")
        fields = entry.get("config") or {}
        if not isinstance(fields, dict) or not all(isinstance(key, str) for key in fields):
            raise RunConfigError(
                f"--config {path}: ops.{name}.config must be a mapping of field: value, not {fields!r}"
            )
    return {name: dict(entry.get("config") or {}) for name, entry in ops.items()}


def parse_sets(items: list[str]) -> dict:
    """`asset.field=value` strings as ``{asset: {field: value}}``; values are YAML scalars (128, 1e-3, true)."""
    ops: dict[str, dict] = {}
    for item in items:
        target, sep, raw = item.partition("=")
        asset, dot, field = target.strip().partition(".")
        if not sep or not dot or not asset or not field:
            raise RunConfigError(f"--set {item!r}: expected asset.field=value, e.g. source_files.source_dir=/my/src")
        ops.setdefault(asset, {})[field] = yaml.safe_load(raw) if raw.strip() else ""
    return ops


def merge_ops(*layers: dict) -> dict:
    """Later layers win field by field (a `--set` changes one field of a `--config` entry)."""
    merged: dict[str, dict] = {}
    for layer in layers:
        for asset, fields in layer.items():
            merged.setdefault(asset, {}).update(fields)
    return merged


def _config_type(defs: dg.Definitions, asset: str):
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey.from_user_string(asset)
    if not graph.has(key) or not graph.get(key).is_materializable:
        names = ", ".join(sorted(k.to_user_string() for k in graph.materializable_asset_keys))
        raise RunConfigError(f"unknown asset {asset!r} in the run config (assets: {names})")
    field = defs.resolve_assets_def(key).op.config_field
    if field is None:
        raise RunConfigError(f"asset {asset!r} takes no config")
    return field.config_type


def resolved_config(defs: dg.Definitions, asset: str, fields: dict) -> dict:
    """The asset's complete config (defaults filled in) for these fields, or a RunConfigError naming the field."""
    config_type = _config_type(defs, asset)
    unknown = sorted(set(fields) - set(config_type.fields))
    if unknown:
        raise RunConfigError(
            f"{asset}.{unknown[0]}: no such config field (fields of {asset}: {', '.join(config_type.fields)})"
        )
    result = process_config(config_type, fields)
    if not result.success:
        raise RunConfigError(f"{asset}: {result.errors[0].message}")
    return dict(result.value)


def validate_ops(defs: dg.Definitions, ops: dict) -> None:
    for asset, fields in ops.items():
        resolved_config(defs, asset, fields)
