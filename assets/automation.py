"""What asset modules share: when an asset rebuilds (declarative automation), its group, and the
GGUF variants the export assets are partitioned by.

`weekly_retrain` (assets/jobs.py) is the one trigger per cron; it ends at the instruct
checkpoint. `gguf_models`, `ollama_model` and `model_report` carry `AFTER_NEW_MODEL`, so once
the automation sensor is on, a new instruct checkpoint gets every GGUF variant, then the
verified ones are registered and the report is written, whoever started the re-train
(the schedule, a click in the UI, `mpyforge run`).
"""

import dagster as dg

from pipeline.gguf.export import published_variants

# Rebuild when an input is new, once none is missing or still being built (so the report waits
# for the last variant), and never on top of an input whose blocking check failed: a GGUF that
# failed its parity check is neither registered nor reported.
AFTER_NEW_MODEL = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()

# Every data asset (PDFs, corpus, pairs): rebuilt as soon as its inputs change.
DATA_ASSET = dict(group_name="data", code_version="1", automation_condition=dg.AutomationCondition.eager())
# Every asset after training (GGUF variants, their scores and registration, the report).
EXPORT_ASSET = dict(group_name="export", code_version="1", automation_condition=AFTER_NEW_MODEL)
# One partition per published GGUF variant: gguf_models, task_scores and ollama_model.
VARIANT_PARTITIONS = dg.StaticPartitionsDefinition(list(published_variants()))
