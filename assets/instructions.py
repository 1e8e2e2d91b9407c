"""`instruction_pairs`: mined, augmented, compiler-checked (instruction, MicroPython) pairs."""

import dagster as dg
import pandas as pd

from pipeline.pairs.build import PairSettings, build_instruction_pairs, find_split_leaks
from resources.artifact_store import ArtifactStoreResource
from resources.settings_config import settings_config, to_settings

InstructionPairsConfig = settings_config(PairSettings, "InstructionPairsConfig")
# Every data asset: rebuilt as soon as its inputs change (eager automation).
_DATA = dict(group_name="data", code_version="1", automation_condition=dg.AutomationCondition.eager())


@dg.asset(deps=["corpus"], kinds={"python", "parquet"}, **_DATA)
def instruction_pairs(
    context: dg.AssetExecutionContext, config: InstructionPairsConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Requests in a user's words → complete MicroPython snippets, mined from the corpus, judged by a
    quality gate (rejections counted by reason per source, with samples), deduplicated (best copy kept),
    augmented (rename, pins, rephrase); every response compiles in mpy-cross. pairs.parquet + pairs.jsonl.
    """

    def build(write):
        corpus_file = write.input("corpus").file("corpus.parquet")
        return build_instruction_pairs(corpus_file, write.directory, to_settings(config, PairSettings))

    return artifact_store.materialize(context, build)


@dg.asset_check(
    asset=instruction_pairs,
    blocking=True,
    description="Train and val share no origin, and no normalized code or instruction across origins.",
)
def no_split_leakage(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    pairs = pd.read_parquet(artifact_store.current("instruction_pairs").file("pairs.parquet"))
    leaks = find_split_leaks(pairs)
    return dg.AssetCheckResult(passed=not leaks, metadata={"leaks": len(leaks), "examples": leaks[:10]})
