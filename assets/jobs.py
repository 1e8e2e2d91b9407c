"""Jobs and the re-training schedule.

Dagster jobs need one partitioning scheme, so the unpartitioned chain, the per-PDF
extraction (run by `pdf_inbox_sensor`) and the per-variant export are separate jobs.
"Materialize all" in the asset graph launches everything, partitions included.
The schedule runs `retrain`; the export and the report follow it by automation
(assets/automation.py).
"""

import os

import dagster as dg

# When scheduled re-training runs: weekly by default (Sundays 03:00); MPYFORGE_RETRAIN_CRON
# changes it (docs/configuration.md).
RETRAIN_CRON = os.environ.get("MPYFORGE_RETRAIN_CRON", "0 3 * * 0")

_EXPORT = dg.AssetSelection.assets("gguf_models", "task_scores", "ollama_model")
_UNPARTITIONED = dg.AssetSelection.all() - dg.AssetSelection.assets("pdf_documents") - _EXPORT
# The report joins every GGUF variant, so it follows the export (automation), never a training job.
_TRAINING_CHAIN = _UNPARTITIONED - dg.AssetSelection.assets("model_report")

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=_TRAINING_CHAIN,
    description="Sources, corpus and pairs through both checkpoints (PDFs and GGUF variants have their own jobs: "
    "pdf_extraction and export; the report follows the export).",
)
# The warm-up files have no input but the interpreter: re-reading them costs seconds (nothing when off),
# and a store from before they existed gets them here rather than failing at token_shards.
retrain = dg.define_asset_job(
    "retrain",
    selection=(dg.AssetSelection.assets("bpe_tokenizer").downstream() | dg.AssetSelection.assets("python_warmup_files"))
    & _TRAINING_CHAIN,
    description="Tokenizer, shards and both checkpoints from the current corpus and pairs (and the Python warm-up "
    "files); with automation on, the GGUF variants, their Ollama registration and the report follow.",
)
export = dg.define_asset_job(
    "export",
    selection=_EXPORT,
    description="One GGUF variant (the partition) written, quantized, verified, scored on the task suite and "
    "registered in Ollama.",
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
    description="Re-train from the current data on a schedule; automation carries it on to GGUF, Ollama and "
    "the report.",
)
