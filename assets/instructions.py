"""`instruction_pairs`: mined, augmented, compiler-checked (instruction, MicroPython) pairs."""

import dagster as dg
import pandas as pd

from assets.automation import DATA_ASSET
from pipeline.corpus.build import CORPUS_FILE
from pipeline.pairs.build import PAIRS_FILE, PairSettings, build_instruction_pairs, find_split_leaks
from resources.artifact_store import ArtifactStoreResource
from resources.settings_config import settings_config, to_settings

InstructionPairsConfig = settings_config(PairSettings, "InstructionPairsConfig")

# Its inputs, each named once: the deps below and the build's reads use these names.
_CORPUS = "corpus"


# code_version 2: issue 22's requests built from the code and variants that change every stated number.
# 3: a button driving an LED and a flash before deep sleep are described whole; unique origin ids.
@dg.asset(deps=[_CORPUS], kinds={"python", "parquet"}, **{**DATA_ASSET, "code_version": "3"})
def instruction_pairs(
    context: dg.AssetExecutionContext, config: InstructionPairsConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Requests in a user's words → complete MicroPython snippets, mined from the corpus, judged by a
    quality gate (rejections counted by reason per source, with samples), deduplicated (best copy kept),
    augmented (rename, pins, rephrase); every response compiles in mpy-cross. pairs.parquet + pairs.jsonl.
    """

    def build(write):
        corpus_file = write.input(_CORPUS).file(CORPUS_FILE)
        return build_instruction_pairs(corpus_file, write.directory, to_settings(config, PairSettings))

    return artifact_store.materialize(context, build)


@dg.asset_check(
    asset=instruction_pairs,
    blocking=True,
    description="Train and val share no origin, and no normalized code or instruction across origins.",
)
def no_split_leakage(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    pairs = pd.read_parquet(artifact_store.current("instruction_pairs").file(PAIRS_FILE))
    leaks = find_split_leaks(pairs)
    return dg.AssetCheckResult(passed=not leaks, metadata={"leaks": len(leaks), "examples": leaks[:10]})
