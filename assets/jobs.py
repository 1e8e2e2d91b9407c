"""Jobs and the re-training schedule.

Dagster jobs need one partitioning scheme, so the unpartitioned chain, the per-PDF
extraction (run by `pdf_inbox_sensor`) and the per-variant export are separate jobs.
"Materialize all" in the asset graph launches everything, partitions included.
"""

import dagster as dg

from pipeline.train.settings import RETRAIN_CRON

_UNPARTITIONED = dg.AssetSelection.all() - dg.AssetSelection.assets("pdf_documents", "gguf_models", "ollama_model")

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=_UNPARTITIONED,
    description="Sources, corpus and pairs through both checkpoints and the report (PDFs and GGUF variants "
    "have their own jobs: pdf_extraction and export).",
)
retrain = dg.define_asset_job(
    "retrain",
    selection=dg.AssetSelection.assets("bpe_tokenizer").downstream() & _UNPARTITIONED,
    description="Tokenizer, shards and both checkpoints from the current corpus and pairs.",
)
export = dg.define_asset_job(
    "export",
    selection=dg.AssetSelection.assets("gguf_models", "ollama_model"),
    description="One GGUF variant (the partition) written, quantized, verified and registered in Ollama.",
)

# One run per PDF partition (launched by `pdf_inbox_sensor` or a backfill), up to the run queue's
# limit at once. The step runs in the run's own process: the extraction already happens in a
# spawned worker with its own timeout and memory cap, and a second process per step would
# re-import the whole code location (torch included) for every PDF.
pdf_extraction = dg.define_asset_job(
    "pdf_extraction",
    selection=dg.AssetSelection.assets("pdf_documents"),
    executor_def=dg.in_process_executor,
    description="One PDF of the inbox (the partition) extracted into heading/prose/code blocks.",
)

# Stopped until turned on in the UI (Dagster's default for schedules).
weekly_retrain = dg.ScheduleDefinition(
    name="weekly_retrain",
    job=retrain,
    cron_schedule=RETRAIN_CRON,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Re-train from the current data on a schedule.",
)
