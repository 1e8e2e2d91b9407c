"""`source_files`: MicroPython sources and docs from `data/sources/` as a block table; `python_warmup_files`:
general Python this interpreter already has, for a warm-up before the MicroPython corpus (off by default)."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from pipeline.sources.files import build_source_files
from pipeline.sources.python_warmup import WarmupSettings, build_python_warmup
from resources.artifact_store import ArtifactStoreResource
from resources.settings_config import settings_config, to_settings


class SourceFilesConfig(dg.Config):
    source_dir: str = Field("data/sources", description="Folder of .py/.md/.rst/.txt files to ingest.")


PythonWarmupConfig = settings_config(WarmupSettings, "PythonWarmupConfig")


@dg.asset(group_name="data", kinds={"python", "parquet"}, code_version="1")
def source_files(
    context: dg.AssetExecutionContext, config: SourceFilesConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """MicroPython .py/.md/.rst/.txt files as heading/prose/code blocks (source_files.parquet)."""
    return artifact_store.materialize(context, lambda w: build_source_files(Path(config.source_dir), w.directory))


@dg.asset(group_name="data", kinds={"python", "parquet"}, code_version="1")
def python_warmup_files(
    context: dg.AssetExecutionContext, config: PythonWarmupConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """The interpreter's standard library (and, on request, installed packages) as code blocks with their
    licence (python_warmup.parquet), for the base model's warm-up; an empty table unless enabled."""
    settings = to_settings(config, WarmupSettings)
    return artifact_store.materialize(context, lambda w: build_python_warmup(w.directory, settings))
