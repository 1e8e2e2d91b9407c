"""`pdf_documents` (one partition per PDF in the inbox) and its sensor."""

import dagster as dg

from assets.automation import DATA_ASSET
from assets.inbox import partition_changes, pdf_inbox, pdf_partitions
from pipeline.pdf.extract import ExtractionLimits, PdfExtractionError, build_pdf_document
from pipeline.pdf.inbox import inbox_file, inbox_paths, scan_inbox
from resources.artifact_store import ArtifactStoreResource
from resources.settings_config import settings_config, to_settings

PdfDocumentConfig = settings_config(ExtractionLimits, "PdfDocumentConfig")
# Metadata key: the hash of the PDF an extraction was made from (`mpyforge run` compares it).
PDF_SHA256 = "sha256"


@dg.asset(partitions_def=pdf_partitions, kinds={"pdf", "parquet"}, **DATA_ASSET)
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
        return {"file": str(entry.path), PDF_SHA256: entry.sha256, **metadata}

    return artifact_store.materialize(context, build)


@dg.sensor(
    job_name="pdf_extraction",  # assets/jobs.py
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the PDF inbox: adds a partition per new PDF, re-runs changed ones, removes deleted ones.",
)
def pdf_inbox_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    files = scan_inbox(pdf_inbox(), context.log.warning)
    added, removed = partition_changes(context.instance, set(files))
    requests = []
    if added:
        requests.append(pdf_partitions.build_add_request(added))
    if removed:
        requests.append(pdf_partitions.build_delete_request(removed))
    # The content hash in the run key: an unchanged file never runs twice, a changed one runs again.
    runs = [dg.RunRequest(partition_key=key, run_key=f"{key}:{files[key].sha256}") for key in sorted(files)]
    return dg.SensorResult(run_requests=runs, dynamic_partitions_requests=requests)
