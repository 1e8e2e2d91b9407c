"""`task_scores`: each GGUF variant's answers to the task suite, run on the simulated boards."""

import dagster as dg

from assets.automation import EXPORT_ASSET, VARIANT_PARTITIONS
from models.presets import scoring_plan
from pipeline.evaluate.score import ScoreSettings, build_task_scores
from pipeline.train.outputs import read_preset
from resources.artifact_store import ArtifactStoreResource
from resources.settings_config import planned, settings_config, to_settings

TaskScoresConfig = settings_config(ScoreSettings, "TaskScoresConfig")

# Its inputs, each named once: the deps below and the build's reads use these names. The instruct
# checkpoint is read for its preset only: the model's size picks the scoring plan.
_GGUF, _INSTRUCT = "gguf_models", "instruct_checkpoint"


def scoring_settings(config: dg.Config, size: str) -> ScoreSettings:
    """The scorer's settings from task_scores' config: the size's scoring plan (models.presets.scoring_plan)
    fills every field the config leaves at its default, whoever launched the run."""
    return planned(to_settings(config, ScoreSettings), scoring_plan(size))


@dg.asset(deps=[_GGUF, _INSTRUCT], partitions_def=VARIANT_PARTITIONS, kinds={"micropython"}, **EXPORT_ASSET)
def task_scores(
    context: dg.AssetExecutionContext, config: TaskScoresConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Does the variant's code work? Each task's prompt answered greedily and by sampling, each answer
    run in real MicroPython on the task's simulated board and checked: pass@1, pass@k, by family and
    board, invented-API and raised rates (scores.json, scores.md). `ollama_model` registers the variant
    only if it passes at least as many tasks as the model Ollama serves under its tag.
    """
    variant = context.partition_key

    def build(write):
        settings = scoring_settings(config, read_preset(write.input(_INSTRUCT).path)["size"])
        gguf_path = write.input(_GGUF, variant).file(f"model-{variant}.gguf")
        return build_task_scores(gguf_path, write.directory, settings, label=f"GGUF {variant}")

    return artifact_store.materialize(context, build)
