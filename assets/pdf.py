"""`pdf_documents` (one partition per PDF in the inbox), its sensor, and `corpus`."""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipeline.common.artifacts import PruneRefused
from pipeline.corpus.build import CorpusSettings, build_corpus
from pipeline.pdf.extract import ExtractionLimits, PdfExtractionError, build_pdf_document
from pipeline.pdf.inbox import inbox_file, inbox_paths, scan_inbox
from resources.artifact_store import ArtifactStoreResource
from resources.settings_config import settings_config, to_settings

pdf_partitions = dg.DynamicPartitionsDefinition(name="pdfs")


def pdf_inbox() -> Path:
    """The PDF inbox: ``$MPYFORGE_PDF_INBOX`` or ``data/pdfs``. The one answer for the asset, the
    sensor and `mpyforge run`; run config cannot move it, or the sensor would see another
    folder's PDFs as deleted and drop their partitions."""
    return Path(os.environ.get("MPYFORGE_PDF_INBOX", "data/pdfs"))


PdfDocumentConfig = settings_config(ExtractionLimits, "PdfDocumentConfig")
CorpusConfig = settings_config(
    CorpusSettings,
    "CorpusConfig",
    remove_all_pdfs=(
        bool,
        Field(False, description="let an empty inbox remove every stored PDF extraction (refused otherwise)"),
    ),
)
# Every data asset: rebuilt as soon as its inputs change (eager automation).
_DATA = dict(group_name="data", code_version="1", automation_condition=dg.AutomationCondition.eager())


@dg.asset(partitions_def=pdf_partitions, kinds={"pdf", "parquet"}, **_DATA)
def pdf_documents(
    context: dg.AssetExecutionContext, config: PdfDocumentConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """One PDF of the inbox as heading/prose/code blocks (blocks.parquet) and Markdown (document.md)."""
    key = context.partition_key
    inbox = pdf_inbox()
    path = inbox_paths(inbox, context.log.warning).get(key)  # only this run's PDF is hashed, not the whole inbox
    if path is None:
        raise dg.Failure(f"partition {key!r}: no such PDF in the inbox {inbox} any more (deleted or renamed)")
    entry = inbox_file(key, path)
    limits = to_settings(config, ExtractionLimits)

    def build(write):
        try:
            metadata = build_pdf_document(entry.path, key, write.directory, limits)
        except PdfExtractionError as err:
            # Dagster shows the description on the failed partition; other partitions are untouched.
            raise dg.Failure(description=str(err), metadata={"file": str(entry.path)}) from err
        return {"file": str(entry.path), "sha256": entry.sha256, **metadata}

    return artifact_store.materialize(context, build)


@dg.sensor(
    job_name="pdf_extraction",  # assets/jobs.py
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the PDF inbox: adds a partition per new PDF, re-runs changed ones, removes deleted ones.",
)
def pdf_inbox_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    files = scan_inbox(pdf_inbox(), context.log.warning)
    added, removed = _partition_changes(context.instance, set(files))
    requests = []
    if added:
        requests.append(pdf_partitions.build_add_request(added))
    if removed:
        requests.append(pdf_partitions.build_delete_request(removed))
    # The content hash in the run key: an unchanged file never runs twice, a changed one runs again.
    runs = [dg.RunRequest(partition_key=key, run_key=f"{key}:{files[key].sha256}") for key in sorted(files)]
    return dg.SensorResult(run_requests=runs, dynamic_partitions_requests=requests)


def _partition_changes(instance: dg.DagsterInstance, keys: set[str]) -> tuple[list[str], list[str]]:
    """The partition keys to add and to remove for the inbox's current keys."""
    known = set(instance.get_dynamic_partitions(pdf_partitions.name))
    return sorted(keys - known), sorted(known - keys)


def sync_pdf_partitions(instance: dg.DagsterInstance) -> None:
    """What the sensor does to partitions, for in-process runs (`mpyforge run`) and tests."""
    added, removed = _partition_changes(instance, set(inbox_paths(pdf_inbox())))
    if added:
        instance.add_dynamic_partitions(pdf_partitions.name, added)
    for key in removed:
        instance.delete_dynamic_partition(pdf_partitions.name, key)


@dg.asset(deps=[pdf_documents, "source_files"], kinds={"pandas", "parquet"}, **_DATA)
def corpus(
    context: dg.AssetExecutionContext, config: CorpusConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """All extracted PDFs and source files, deduplicated (exact + MinHash), filtered, split train/val by
    document.
    """
    keys = context.instance.get_dynamic_partitions(pdf_partitions.name)
    extracted = set(artifact_store.store().partitions("pdf_documents"))

    def build(write):
        pdf_blocks = {k: write.input("pdf_documents", k).file("blocks.parquet") for k in keys if k in extracted}
        failed = {
            k: "no extracted text (its pdf_documents partition failed or has not run)"
            for k in keys
            if k not in extracted
        }
        sources = write.input("source_files").file("source_files.parquet")
        return build_corpus(pdf_blocks, sources, write.directory, to_settings(config, CorpusSettings), failed)

    result = artifact_store.materialize(context, build)
    # A PDF that left the inbox lost its partition (the sensor); now that the corpus no longer
    # reads it, its extracted text goes too. The keys are read again at deletion: a PDF the
    # sensor added while this ran is not "gone".
    try:
        removed = artifact_store.store().remove_partitions(
            "pdf_documents",
            keep=lambda: set(context.instance.get_dynamic_partitions(pdf_partitions.name)),
            allow_all=config.remove_all_pdfs,
        )
    except PruneRefused as err:
        context.log.warning(
            f"{err}; nothing removed (set corpus.remove_all_pdfs=true if the inbox is meant to be empty)"
        )
        removed = []
    for key in removed:
        context.log.info(f"removed the artifacts of {key}: it is no longer in the inbox")
    return result


@dg.asset_check(
    asset=corpus, description="Every PDF in the inbox made it into the corpus (warns on failed extractions)."
)
def extraction_failures(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    failed = artifact_store.current("corpus").manifest["metadata"]["failed_pdfs"]
    return dg.AssetCheckResult(
        passed=not failed, severity=dg.AssetCheckSeverity.WARN, metadata={"failed_pdfs": len(failed), "details": failed}
    )
