"""`gguf_models` (one partition per variant, verified in llama.cpp) and `ollama_model`."""

import json

import dagster as dg

from assets.automation import AFTER_NEW_MODEL
from pipeline.gguf.export import GgufSettings, build_gguf_variant, published_variants
from pipeline.gguf.summary import read_gguf_facts
from pipeline.serve.client import register_model
from pipeline.serve.errors import OllamaUnreachableError
from pipeline.serve.modelfile import write_modelfile
from pipeline.serve.settings import OllamaSettings
from pipeline.tokens.texts import corpus_texts
from resources.artifact_store import ArtifactStoreResource
from resources.ollama import OllamaResource
from resources.settings_config import settings_config, to_settings

gguf_partitions = dg.StaticPartitionsDefinition(list(published_variants()))

# The asset records the parity numbers; the blocking check below decides, so a bad file
# stops `ollama_model` instead of silently shipping.
GgufModelsConfig = settings_config(
    GgufSettings, "GgufModelsConfig", exclude=frozenset({"master_path", "reference_ppl", "fail_on_check"})
)
OllamaModelConfig = settings_config(OllamaSettings, "OllamaModelConfig")
_EXPORT = dict(group_name="export", code_version="1", automation_condition=AFTER_NEW_MODEL)


def _parity_checks(metadata: dict) -> list[dg.AssetCheckResult]:
    row = metadata["row"]
    return [
        dg.AssetCheckResult(
            check_name="gguf_tokenizer_parity",
            passed=not row["failures"],
            metadata={
                "tokenizer_parity": row["tokenizer_parity"],
                "kl_vs_hf": row.get("kl_vs_hf"),
                "failures": row["failures"],
            },
        )
    ]


@dg.asset(
    deps=["instruct_checkpoint", "corpus"],
    partitions_def=gguf_partitions,
    kinds={"gguf", "llamacpp"},
    check_specs=[
        dg.AssetCheckSpec(
            "gguf_tokenizer_parity",
            asset="gguf_models",
            blocking=True,
            description="llama.cpp token ids equal HF ids on val texts (100%); F32/F16 logits match HF (KL bound).",
        )
    ],
    **_EXPORT,
)
def gguf_models(
    context: dg.AssetExecutionContext, config: GgufModelsConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """The instruct model as GGUF (our writer for F32/F16, llama.cpp quantization for the rest), verified in
    llama.cpp: tokenizer parity, logit parity, perplexity, tokens/s.
    """
    settings = to_settings(config, GgufSettings, fail_on_check=False)

    def build(write):
        model_dir = write.input("instruct_checkpoint").path
        texts = corpus_texts(write.input("corpus").file("corpus.parquet"), "val")
        return build_gguf_variant(model_dir, context.partition_key, write.directory, settings, texts)

    return artifact_store.materialize(context, build, checks=_parity_checks)


@dg.asset(
    deps=[gguf_models, "instruct_checkpoint"],
    partitions_def=gguf_partitions,
    kinds={"ollama"},
    retry_policy=dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL),
    **_EXPORT,
)
def ollama_model(
    context: dg.AssetExecutionContext,
    config: OllamaModelConfig,
    artifact_store: ArtifactStoreResource,
    ollama: OllamaResource,
) -> dg.MaterializeResult:
    """One GGUF variant registered in Ollama over its REST API as `<model_name>:<preset>-<variant>` (every
    variant that passed its parity check, whatever started the run), plus a Modelfile for
    `ollama create NAME -f Modelfile`.
    """
    settings = to_settings(config, OllamaSettings)

    variant = context.partition_key

    def build(write):
        preset = write.input("instruct_checkpoint").manifest["metadata"]["preset"]
        gguf_path = write.input("gguf_models", variant).file(f"model-{variant}.gguf")
        context_length = read_gguf_facts(gguf_path).context_length
        write_modelfile(write.directory / "Modelfile", gguf_path, context_length, settings, root=write.store.root)
        name = ollama.model_tag(preset, variant)
        try:
            outcome = {"registered": True, **register_model(ollama.base_url(), name, gguf_path, settings)}
            status = f"registered {name} in Ollama at {outcome['host']}; it answered the smoke prompt"
        except OllamaUnreachableError as err:
            # No Ollama here: keep the Modelfile and say plainly that nothing was registered.
            context.log.warning(f"{name}: not registered: {err}")
            outcome = {"registered": False, "model": name, "host": ollama.base_url(), "reason": str(err)}
            status = f"NOT registered in Ollama: {err} The Modelfile is written: ollama create {name} -f Modelfile"
        (write.directory / "registration.json").write_text(json.dumps(outcome, indent=2) + "\n")
        return {"status": status, **outcome}

    return artifact_store.materialize(context, build)
