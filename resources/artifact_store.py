"""The artifact store as a Dagster resource.

Assets never hand files to an IO manager: each one builds its artifact in a temporary
directory that ``materialize`` commits (see ``pipeline.common.artifacts``), then reports the
path as metadata and the content hash as the data version. An identical re-run gives
the same data version, so Dagster does not mark downstream assets stale.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg

from pipeline.common.artifacts import Artifact, ArtifactStore, ArtifactWrite


def to_metadata(values: dict) -> dict[str, dg.MetadataValue]:
    """Plain build-function metadata → Dagster metadata values.

    Numbers stay numbers (the UI plots them over time); multi-line or Markdown text
    (tables, sample pairs, report cards) renders as Markdown; containers as JSON.
    """
    out: dict[str, dg.MetadataValue] = {}
    for key, value in values.items():
        if isinstance(value, bool):
            out[key] = dg.MetadataValue.bool(value)
        elif isinstance(value, int):
            out[key] = dg.MetadataValue.int(value)
        elif isinstance(value, float):
            out[key] = dg.MetadataValue.float(value)
        elif isinstance(value, str):
            is_markdown = "\n" in value or value.startswith(("|", "#", "!["))
            out[key] = dg.MetadataValue.md(value) if is_markdown else dg.MetadataValue.text(value)
        elif value is None:
            out[key] = dg.MetadataValue.null()
        else:
            out[key] = dg.MetadataValue.json(json.loads(json.dumps(value, default=str)))
    return out


def _blocking_failures(context: dg.AssetExecutionContext, results: list[dg.AssetCheckResult]) -> str | None:
    """Why the version must not become current: the blocking checks it failed, with their numbers."""
    blocking = {spec.name for spec in context.assets_def.check_specs if spec.blocking}
    failed = [r for r in results if not r.passed and r.check_name in blocking]
    if not failed:
        return None
    return "; ".join(
        f"blocking check {r.check_name} failed ({json.dumps({k: v.value for k, v in r.metadata.items()}, default=str)})"
        for r in failed
    )


def _undeclared_inputs(context: dg.AssetExecutionContext, write: ArtifactWrite) -> list[str]:
    """Artifacts the build read that are not among the asset's ``deps``: its deps are the one list of
    its inputs (lineage, staleness, the report's generation check), so a read must be declared there."""
    declared = {key.to_python_identifier() for key in context.assets_def.asset_deps[context.asset_key]}
    return sorted({label.partition("/")[0] for label in write.upstream} - declared)


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where artifacts live (``var/artifacts`` under the repo by default) and how many versions to keep."""

    root: str = "var/artifacts"
    keep_versions: int = 3

    def store(self) -> ArtifactStore:
        return ArtifactStore(Path(self.root), self.keep_versions)

    def current(self, asset: str, partition: str | None = None) -> Artifact:
        return self.store().current(asset, partition)

    def materialize(
        self,
        context: dg.AssetExecutionContext,
        build: Callable[[ArtifactWrite], dict],
        checks: Callable[[dict], Sequence[dg.AssetCheckResult]] | None = None,
        identity: tuple[str, ...] | None = None,
    ) -> dg.MaterializeResult:
        """Run ``build`` into a fresh temporary directory and commit it as this asset's artifact.

        ``checks`` turns the build's metadata into results for the asset's own check specs
        (checks that must run inside the materialization, e.g. per partition).
        ``identity`` names the files that define the version (default: all of them).
        """
        key = context.asset_key
        partition = context.partition_key if context.has_partition_key else None
        write = self.store().begin(key.to_python_identifier(), partition)
        try:
            metadata = build(write) or {}
            undeclared = _undeclared_inputs(context, write)
            if undeclared:
                raise ValueError(f"{key.to_user_string()} read {undeclared}, which its deps do not name")
            check_results = list(checks(metadata)) if checks else []
            quarantine = _blocking_failures(context, check_results)
            artifact = write.commit(
                run_id=context.run.run_id,
                code_version=context.assets_def.code_versions_by_key.get(key),
                extra={"metadata": json.loads(json.dumps(metadata, default=str))},
                identity=identity,
                quarantine=quarantine,
            )
        except BaseException:
            write.abort()
            raise
        if quarantine:
            context.log.warning(
                f"{key.to_user_string()}: version {artifact.version} is quarantined ({quarantine}); "
                f"the current version stays {self.store().current_version(key.to_python_identifier(), partition)}"
            )
        context.log.info(f"{key.to_user_string()}: wrote version {artifact.version} at {artifact.path}")
        return dg.MaterializeResult(
            metadata={
                # Relative to the store root: right on every host, whatever its mount path.
                "path": dg.MetadataValue.path(write.store.relative(artifact.path)),
                "artifact_version": dg.MetadataValue.text(artifact.version),
                **({"quarantined": dg.MetadataValue.text(quarantine)} if quarantine else {}),
                "upstream_versions": dg.MetadataValue.json(write.upstream),
                **to_metadata(metadata),
            },
            data_version=dg.DataVersion(artifact.version),
            check_results=check_results or None,
        )
