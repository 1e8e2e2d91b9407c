"""`bpe_tokenizer` and `token_shards`, each behind blocking checks."""

import dagster as dg
import pandas as pd

from pipeline.corpus.build import CORPUS_FILE
from pipeline.pairs.build import PAIRS_FILE
from pipeline.sources.python_warmup import WARMUP_FILE
from pipeline.tokens.checks import roundtrip_failures, sample_windows, shard_problems, special_token_problems
from pipeline.tokens.shards import SHARDS_SUBDIR, ShardSettings, build_token_shards
from pipeline.tokens.texts import corpus_texts
from pipeline.tokens.tokenizer import TokenizerSettings, build_tokenizer
from resources.artifact_store import ArtifactStoreResource
from resources.settings_config import settings_config, to_settings

BpeTokenizerConfig = settings_config(TokenizerSettings, "BpeTokenizerConfig")
TokenShardsConfig = settings_config(ShardSettings, "TokenShardsConfig")
# The inputs, each named once: the deps below and the builds' reads use these names.
_CORPUS, _PAIRS, _TOKENIZER, _WARMUP = "corpus", "instruction_pairs", "bpe_tokenizer", "python_warmup_files"
_STAGE = dict(group_name="tokenizer", automation_condition=dg.AutomationCondition.eager())


@dg.asset(deps=[_CORPUS, _PAIRS], kinds={"huggingface", "json"}, code_version="1", **_STAGE)
def bpe_tokenizer(
    context: dg.AssetExecutionContext, config: BpeTokenizerConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Byte-level BPE tokenizer (HF tokenizers) trained on the train split of the corpus and pairs."""

    def build(write):
        corpus_file = write.input(_CORPUS).file(CORPUS_FILE)
        pairs_file = write.input(_PAIRS).file(PAIRS_FILE)
        return build_tokenizer(corpus_file, pairs_file, write.directory, to_settings(config, TokenizerSettings))

    return artifact_store.materialize(context, build)


def _val_texts(artifact_store: ArtifactStoreResource) -> list[str]:
    """Every val text the model will see: corpus documents and formatted pair parts."""
    texts = corpus_texts(artifact_store.current("corpus").file(CORPUS_FILE), "val")
    pairs = pd.read_parquet(artifact_store.current("instruction_pairs").file(PAIRS_FILE))
    val = pairs[pairs.split == "val"]
    return texts + val.instruction.tolist() + val.response.tolist()


@dg.asset_check(asset=bpe_tokenizer, blocking=True, description="decode(encode(x)) == x for every val text.")
def tokenizer_roundtrip(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    texts = _val_texts(artifact_store)
    failures = roundtrip_failures(artifact_store.current("bpe_tokenizer").path, texts)
    return dg.AssetCheckResult(
        passed=not failures,
        metadata={
            "texts": len(texts),
            "failures": len(failures),
            "first_failures": [texts[i][:200] for i in failures[:3]],
        },
    )


@dg.asset_check(asset=bpe_tokenizer, blocking=True, description="Special tokens sit at their fixed ids, one id each.")
def tokenizer_special_tokens(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    problems = special_token_problems(artifact_store.current("bpe_tokenizer").path)
    return dg.AssetCheckResult(passed=not problems, metadata={"problems": problems})


@dg.asset(deps=[_TOKENIZER, _CORPUS, _PAIRS, _WARMUP], kinds={"numpy"}, code_version="1", **_STAGE)
def token_shards(
    context: dg.AssetExecutionContext, config: TokenShardsConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Token shards (.bin, 256-int32 header + uint16 ids) for pretraining and SFT, train and val, and the
    general-Python warm-up (train only) when python_warmup_files is enabled."""

    def build(write):
        return build_token_shards(
            write.input(_TOKENIZER).path,
            write.input(_CORPUS).file(CORPUS_FILE),
            write.input(_PAIRS).file(PAIRS_FILE),
            write.directory / SHARDS_SUBDIR,
            to_settings(config, ShardSettings),
            write.input(_WARMUP).file(WARMUP_FILE),
        )

    return artifact_store.materialize(context, build)


@dg.asset_check(asset=token_shards, blocking=True, description="Every shard header matches the manifest; totals agree.")
def shard_integrity(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    problems = shard_problems(artifact_store.current("token_shards").path / SHARDS_SUBDIR)
    return dg.AssetCheckResult(passed=not problems, metadata={"problems": problems})


@dg.asset_check(
    asset=token_shards, blocking=True, description="Random pretraining windows decode to text found in the corpus."
)
def shard_windows_in_corpus(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    corpus_file = artifact_store.current("corpus").file(CORPUS_FILE)
    documents = corpus_texts(corpus_file, "train")
    windows = sample_windows(
        artifact_store.current("token_shards").path / SHARDS_SUBDIR,
        artifact_store.current("bpe_tokenizer").path,
        n=32,
        length=64,
        seed=0,
    )
    missing = [w for w in windows if w and not any(w in doc for doc in documents)]
    return dg.AssetCheckResult(passed=not missing, metadata={"windows": len(windows), "not_found": missing[:3]})
