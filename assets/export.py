"""`gguf_models` (one partition per variant, verified in llama.cpp) and `ollama_model`."""

import json

import dagster as dg
from pydantic import Field

from assets.automation import EXPORT_ASSET, VARIANT_PARTITIONS
from pipeline.common.artifacts import ArtifactNotFound
from pipeline.corpus.build import CORPUS_FILE
from pipeline.gguf.export import GgufSettings, build_gguf_variant
from pipeline.gguf.summary import read_gguf_facts
from pipeline.serve.client import OllamaClient, register_model
from pipeline.serve.errors import OllamaUnreachableError
from pipeline.serve.modelfile import write_modelfile
from pipeline.serve.settings import OllamaSettings
from pipeline.serve.task_gate import (
    REGISTERED,
    REGISTRATION_FILE,
    hold_back_reason,
    recorded_figures,
    served_digest,
    task_figures,
)
from pipeline.tokens.texts import corpus_texts
from resources.artifact_store import ArtifactStoreResource
from resources.ollama import OllamaResource
from resources.settings_config import settings_config, to_settings

# The asset records the parity numbers; the blocking check below decides, so a bad file
# stops `ollama_model` instead of silently shipping.
GgufModelsConfig = settings_config(
    GgufSettings, "GgufModelsConfig", exclude=frozenset({"master_path", "reference_ppl", "fail_on_check"})
)
OllamaModelConfig = settings_config(
    OllamaSettings,
    "OllamaModelConfig",
    force=(bool, Field(False, description="register even if it passes fewer tasks than the model Ollama serves")),
)


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


# The inputs, each named once: the deps below and the builds' reads use these names.
_INSTRUCT, _CORPUS, _GGUF, _SCORES = "instruct_checkpoint", "corpus", "gguf_models", "task_scores"


@dg.asset(
    deps=[_INSTRUCT, _CORPUS],
    partitions_def=VARIANT_PARTITIONS,
    kinds={"gguf", "llamacpp"},
    check_specs=[
        dg.AssetCheckSpec(
            "gguf_tokenizer_parity",
            asset="gguf_models",
            blocking=True,
            description="llama.cpp token ids equal HF ids on val texts (100%); F32/F16 logits match HF (KL bound).",
        )
    ],
    **EXPORT_ASSET,
)
def gguf_models(
    context: dg.AssetExecutionContext, config: GgufModelsConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """The instruct model as GGUF (our writer for F32/F16, llama.cpp quantization for the rest), verified in
    llama.cpp: tokenizer parity, logit parity, perplexity, tokens/s.
    """
    settings = to_settings(config, GgufSettings, fail_on_check=False)

    def build(write):
        model_dir = write.input(_INSTRUCT).path
        texts = corpus_texts(write.input(_CORPUS).file(CORPUS_FILE), "val")
        return build_gguf_variant(model_dir, context.partition_key, write.directory, settings, texts)

    return artifact_store.materialize(context, build, checks=_parity_checks)


def _task_gate(metadata: dict) -> list[dg.AssetCheckResult]:
    figures = metadata.get("task_figures") or {}
    return [
        dg.AssetCheckResult(
            check_name="task_score_gate",
            passed=not metadata.get("held_back"),
            metadata={
                "held_back": metadata.get("held_back"),
                "tasks_passed": len(figures.get("passed", [])),
                "tasks": len(figures.get("tasks", [])),
                "forced": metadata.get("forced", False),
            },
        )
    ]


@dg.asset(
    deps=[_GGUF, _INSTRUCT, _SCORES],
    partitions_def=VARIANT_PARTITIONS,
    kinds={"ollama"},
    check_specs=[
        dg.AssetCheckSpec(
            "task_score_gate",
            asset="ollama_model",
            blocking=True,
            description="The variant passes at least as many tasks as the model Ollama serves under its tag "
            "(or the run forces it); a held-back version is quarantined with its figures.",
        )
    ],
    retry_policy=dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL),
    **EXPORT_ASSET,
)
def ollama_model(
    context: dg.AssetExecutionContext,
    config: OllamaModelConfig,
    artifact_store: ArtifactStoreResource,
    ollama: OllamaResource,
) -> dg.MaterializeResult:
    """One GGUF variant registered in Ollama over its REST API as `<model_name>:<preset>-<variant>` (every
    variant that passed its parity check, whatever started the run), plus a Modelfile for
    `ollama create NAME -f Modelfile`. A variant that passes fewer tasks (task_scores) than the model
    Ollama serves under its tag is held back and quarantined with the figures, unless `force`.
    """
    settings = to_settings(config, OllamaSettings)

    variant = context.partition_key

    def build(write):
        preset = write.input(_INSTRUCT).manifest["metadata"]["preset"]
        gguf_path = write.input(_GGUF, variant).file(f"model-{variant}.gguf")
        context_length = read_gguf_facts(gguf_path).context_length
        write_modelfile(write.directory / "Modelfile", gguf_path, context_length, settings, root=write.store.root)
        name = ollama.model_tag(preset, variant)
        figures = task_figures(write.input(_SCORES, variant).path)
        held_back = None if config.force else _held_back(write, ollama.base_url(), name, figures, settings)
        if held_back:
            outcome = {REGISTERED: False, "model": name, "held_back": held_back, "task_figures": figures}
            (write.directory / REGISTRATION_FILE).write_text(json.dumps(outcome, indent=2) + "\n")
            return {"status": f"NOT registered: {held_back}", **outcome}
        try:
            outcome = {REGISTERED: True, **register_model(ollama.base_url(), name, gguf_path, settings)}
            status = f"registered {name} in Ollama at {outcome['host']}; it answered the smoke prompt"
        except OllamaUnreachableError as err:
            # No Ollama here: keep the Modelfile and say plainly that nothing was registered.
            context.log.warning(f"{name}: not registered: {err}")
            outcome = {REGISTERED: False, "model": name, "host": ollama.base_url(), "reason": str(err)}
            status = f"NOT registered in Ollama: {err} The Modelfile is written: ollama create {name} -f Modelfile"
        outcome |= {"task_figures": figures, "forced": config.force}
        (write.directory / REGISTRATION_FILE).write_text(json.dumps(outcome, indent=2) + "\n")
        return {"status": status, **outcome}

    return artifact_store.materialize(context, build, checks=_task_gate)


def _held_back(write, host: str, name: str, figures: dict, settings: OllamaSettings) -> str | None:
    """Why this variant must not replace what Ollama serves as ``name`` (task_gate), or None."""
    try:
        previous = write.store.current("ollama_model", write.partition).path
    except ArtifactNotFound:
        previous = None
    try:
        digest = served_digest(OllamaClient(host, settings.timeout_s), name)
    except OllamaUnreachableError:
        return None  # registration says plainly that nothing was registered
    return hold_back_reason(figures, recorded_figures(previous, digest))
