"""The one Dagster code location of mpyforge: every asset, check, job, sensor and resource."""

from __future__ import annotations

import dagster as dg

from assets import instructions, pdf, sources
from assets.pdf import sync_pdf_partitions
from pipeline.artifacts import default_root
from resources.artifact_store import ArtifactStoreResource

__all__ = ["defs", "run_config_for_preset", "sync_pdf_partitions"]

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([sources, pdf, instructions]),
    asset_checks=dg.load_asset_checks_from_modules([instructions]),
    sensors=[pdf.pdf_inbox_sensor],
    resources={"artifact_store": ArtifactStoreResource(root=str(default_root()))},
)


def run_config_for_preset(preset: str, key: dg.AssetKey) -> dg.RunConfig:
    """Run config that applies a model preset to the assets that take one (none yet)."""
    return dg.RunConfig({})
