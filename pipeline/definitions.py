"""The one Dagster code location of mpyforge: every asset, check, job, sensor and resource."""

from __future__ import annotations

import dagster as dg

from assets import sources
from pipeline.artifacts import default_root
from resources.artifact_store import ArtifactStoreResource

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([sources]),
    resources={"artifact_store": ArtifactStoreResource(root=str(default_root()))},
)


def run_config_for_preset(preset: str, key: dg.AssetKey) -> dg.RunConfig:
    """Run config that applies a model preset to the assets that take one (none yet)."""
    return dg.RunConfig({})


def sync_pdf_partitions(instance: dg.DagsterInstance) -> None:
    """Bring dynamic partitions in line with the PDF inbox (no PDF assets yet)."""
