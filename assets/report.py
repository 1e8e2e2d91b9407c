"""`model_report`: the report card a user reads first, one per pipeline run."""

import dagster as dg

from assets.automation import AFTER_NEW_MODEL
from pipeline.gguf.export import published_variants
from pipeline.report.build import GgufInput, ReportInputs, ReportSettings, build_model_report
from resources.artifact_store import ArtifactStoreResource
from resources.settings_config import settings_config, to_settings

ModelReportConfig = settings_config(ReportSettings, "ModelReportConfig")
_CHAIN = ("instruction_pairs", "bpe_tokenizer", "token_shards", "base_checkpoint", "instruct_checkpoint")


@dg.asset(
    deps=[
        "corpus",
        "instruction_pairs",
        "bpe_tokenizer",
        "token_shards",
        "base_checkpoint",
        "instruct_checkpoint",
        "gguf_models",
        "task_scores",
    ],
    group_name="export",
    kinds={"markdown"},
    code_version="1",
    automation_condition=AFTER_NEW_MODEL,
)
def model_report(
    context: dg.AssetExecutionContext, config: ModelReportConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Report card (report.md): data per stage, tokenizer compression, preset, loss curves, val
    loss/perplexity/bits per byte, the GGUF table, and a generation evaluation (mpy-cross syntax rate,
    API overlap with the reference, repetition loops, MicroPython import rate, chrF) of the instruct
    model in HF and in every GGUF variant built, and the task suite: pass@1/pass@k of the HF model (scored
    here) and of every GGUF variant (task_scores), with three failing answers' timing pictures.
    """
    store = artifact_store.store()
    built = set(store.partitions("gguf_models"))
    # One generation of artifacts only: after `retrain`, GGUF files of the previous model must not
    # be reported as this one's. Refuse, naming what is stale, instead of mixing them.
    scored = set(store.partitions("task_scores")) & built
    inputs = [(name, None) for name in _CHAIN] + [("gguf_models", v) for v in published_variants() if v in built]
    inputs += [("task_scores", v) for v in published_variants() if v in scored]
    stale = [problem for asset, partition in inputs for problem in store.upstream_mismatches(asset, partition)]
    if stale:
        raise dg.Failure(
            "model_report: its inputs are not one generation: " + "; ".join(stale) + ". Re-run the stale assets "
            "(`mpyforge run` rebuilds what is stale) and then the report."
        )

    def build(write):
        inputs = ReportInputs(
            corpus_dir=write.input("corpus").path,
            instruction_pairs_dir=write.input("instruction_pairs").path,
            bpe_tokenizer_dir=write.input("bpe_tokenizer").path,
            token_shards_dir=write.input("token_shards").path,
            base_checkpoint_dir=write.input("base_checkpoint").path,
            instruct_checkpoint_dir=write.input("instruct_checkpoint").path,
            gguf={
                v: GgufInput.from_artifact_dir(write.input("gguf_models", v).path, v)
                for v in published_variants()
                if v in built
            },
            task_scores={v: write.input("task_scores", v).path for v in published_variants() if v in scored},
        )
        return build_model_report(inputs, write.directory, to_settings(config, ReportSettings))

    return artifact_store.materialize(context, build)
