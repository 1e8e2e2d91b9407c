"""`model_report`: the report card a user reads first, one per pipeline run."""

import dagster as dg

from assets.automation import EXPORT_ASSET
from models.presets import scoring_plan
from pipeline.gguf.export import published_variants
from pipeline.report.build import GgufInput, ReportInputs, ReportSettings, build_model_report
from pipeline.train.outputs import read_preset
from resources.artifact_store import ArtifactStoreResource
from resources.settings_config import planned, settings_config, to_settings

ModelReportConfig = settings_config(ReportSettings, "ModelReportConfig")
# The unpartitioned inputs, each read as ReportInputs.<name>_dir, then the per-variant ones.
_CHAIN = ("corpus", "instruction_pairs", "bpe_tokenizer", "token_shards", "base_checkpoint", "instruct_checkpoint")
_VARIANTS = ("gguf_models", "task_scores")


def report_settings(config: dg.Config, size: str) -> ReportSettings:
    """The report's settings from its config: the size's scoring plan (models.presets.scoring_plan) fills
    the fields of the HF model's scoring that the config leaves at their defaults, as in task_scores."""
    plan = {ReportSettings.SCORING[name]: value for name, value in scoring_plan(size).items()}
    return planned(to_settings(config, ReportSettings), plan)


@dg.asset(deps=[*_CHAIN, *_VARIANTS], kinds={"markdown"}, **EXPORT_ASSET)
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
    # Variants with a GGUF file, then those of them also scored.
    exported, scored = (set(store.partitions(name)) for name in _VARIANTS)
    built = [v for v in published_variants() if v in exported]
    present = {_VARIANTS[0]: built, _VARIANTS[1]: [v for v in built if v in scored]}
    # One generation of artifacts only: after `retrain`, GGUF files of the previous model must not
    # be reported as this one's. Refuse, naming what is stale, instead of mixing them.
    inputs = [(name, None) for name in _CHAIN] + [(name, v) for name in _VARIANTS for v in present[name]]
    stale = [problem for asset, partition in inputs for problem in store.upstream_mismatches(asset, partition)]
    if stale:
        raise dg.Failure(
            "model_report: its inputs are not one generation: " + "; ".join(stale) + ". Re-run the stale assets "
            "(`mpyforge run` rebuilds what is stale) and then the report."
        )

    def build(write):
        gguf, scores = ({v: write.input(name, v).path for v in present[name]} for name in _VARIANTS)
        inputs = ReportInputs(
            **{f"{name}_dir": write.input(name).path for name in _CHAIN},
            gguf={v: GgufInput.from_artifact_dir(path, v) for v, path in gguf.items()},
            task_scores=scores,
        )
        settings = report_settings(config, read_preset(inputs.instruct_checkpoint_dir)["size"])
        return build_model_report(inputs, write.directory, settings)

    return artifact_store.materialize(context, build)
