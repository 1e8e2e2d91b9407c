"""`source_files`: MicroPython sources and docs from `data/sources/` as a block table."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from pipeline.sources.files import build_source_files
from resources.artifact_store import ArtifactStoreResource


class SourceFilesConfig(dg.Config):
    source_dir: str = Field("data/sources", description="Folder of .py/.md/.rst/.txt files to ingest.")


@dg.asset(group_name="data", kinds={"python", "parquet"}, code_version="1")
def source_files(
    context: dg.AssetExecutionContext, config: SourceFilesConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """MicroPython .py/.md/.rst/.txt files as heading/prose/code blocks (source_files.parquet)."""
    return artifact_store.materialize(context, lambda w: build_source_files(Path(config.source_dir), w.directory))
