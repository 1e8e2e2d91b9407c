"""`base_checkpoint` and `instruct_checkpoint`: HF Trainer runs launched through Dagster Pipes.

The trainer (`python -m pipeline.train.run SETTINGS.json`) runs as a subprocess, or under
torchrun when the GPU resource asks for several processes, so its logs stream to the
UI, a cancelled run stops it, and a crash cannot take the run worker down with it.
Checkpoints go to a fixed directory derived from the settings and the process count (not the
run id), so a retry or a re-run with the same inputs resumes from the last checkpoint; once the
model is exported the directory is removed.
"""

import base64
import hashlib
import json
import shutil
import sys
from dataclasses import asdict, replace
from pathlib import Path

import dagster as dg

from models.presets import size_plan
from pipeline.common.artifacts import ArtifactStore, ArtifactWrite
from pipeline.common.text_metrics import perplexity
from pipeline.tokens.shards import SHARDS_SUBDIR
from pipeline.train.memory import read_oom_report
from pipeline.train.outputs import METRICS_FILE, RESULT_KEYS
from pipeline.train.run_dir import launcher_env, prune_run_dirs, training_root
from pipeline.train.settings import TrainSettings
from resources.artifact_store import ArtifactStoreResource
from resources.gpu import GpuResource
from resources.pools import GPU_POD_TAGS, GPU_POOL
from resources.settings_config import planned, settings_config, to_settings

# Paths and the device come from the artifact store and the GPU resource, not from config.
_WIRED = frozenset(
    {"mode", "shards_dir", "tokenizer_dir", "init_from", "output_dir", "export_dir", "device", "precision", "compile"}
)
TrainingConfig = settings_config(TrainSettings, "TrainingConfig", exclude=_WIRED)
# A checkpoint is its weights, shape and tokenizer; metrics.json and the card carry wall-clock
# numbers, so a re-run that resumes at the final step keeps the same data version.
CHECKPOINT_IDENTITY = ("model.safetensors", "config.json", "tokenizer.json")
# The inputs, each named once: the deps below and the builds' reads use these names.
_SHARDS, _TOKENIZER, _BASE = "token_shards", "bpe_tokenizer", "base_checkpoint"
_TRAINING = dict(
    group_name="training",
    kinds={"pytorch", "huggingface"},
    pool=GPU_POOL,
    op_tags=GPU_POD_TAGS,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL),
)


def _run_dir(asset: str, settings: TrainSettings, world_size: int, store: ArtifactStore) -> Path:
    """Checkpoint directory: the same settings, inputs and process count always map to the same place.

    The process count is part of the key because it sets the global batch and so the schedule:
    resuming a 1-GPU run with 2 would continue another run's optimizer state. Input paths enter
    the key relative to the store root, so a worker that mounts the store elsewhere resumes too.
    """
    identity = {k: v for k, v in asdict(settings).items() if k not in ("output_dir", "export_dir")}
    for field in ("shards_dir", "tokenizer_dir", "init_from"):
        if identity.get(field):
            identity[field] = store.relative(Path(identity[field]))
    identity["world_size"] = world_size
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return training_root(store.root) / asset / digest


def checkpoint_settings(config: dg.Config, mode: str, **wired) -> TrainSettings:
    """The trainer's settings from a training asset's config: the size's plan (models.presets.size_plan)
    fills every field the config leaves at its default, whoever launched the run."""
    settings = to_settings(config, TrainSettings, mode=mode, **wired)
    return planned(settings, size_plan(settings.size, mode))


def _loss_curve_markdown(png: Path) -> str:
    encoded = base64.b64encode(png.read_bytes()).decode()
    return f"![loss curves](data:image/png;base64,{encoded})"


def train_checkpoint(
    context: dg.AssetExecutionContext,
    write: ArtifactWrite,
    settings: TrainSettings,
    gpu: GpuResource,
    pipes: dg.PipesSubprocessClient,
) -> dict:
    """Launch the trainer for `settings` and export its model into the artifact directory."""
    child = gpu.child()  # one GPU per trainer process: cuda:N -> CUDA_VISIBLE_DEVICES, cuda:0 inside
    settings = replace(
        settings,
        device=child.device,
        precision=gpu.precision,
        compile=gpu.compile,
        shards_dir=str(write.input(_SHARDS).path / SHARDS_SUBDIR),
        tokenizer_dir=str(write.input(_TOKENIZER).path),
    )
    run_dir = _run_dir(context.asset_key.to_python_identifier(), settings, gpu.nproc_per_node, write.store)
    settings = replace(settings, output_dir=str(run_dir), export_dir=str(write.directory))
    settings.validate()
    run_dir.mkdir(parents=True, exist_ok=True)
    settings_file = run_dir / "settings.json"
    settings_file.write_text(settings.to_json())
    device = gpu.describe()
    context.log.info(
        f"training in {run_dir} on {device.name} ({device.memory_bytes / 2**30:.1f} GiB, {device.precision}); "
        f"{child.note}"
    )
    # An SFT run is judged by its dev tasks as well: that trainer lives with the task suite it imports.
    module = "pipeline.evaluate.dev_tasks" if settings.mode == "sft" else "pipeline.train.run"
    command = [*gpu.launcher(sys.executable), "-m", module, str(settings_file)]
    try:
        pipes.run(command=command, context=context, env={"PYTHONUNBUFFERED": "1", **child.env, **launcher_env()})
    except Exception:
        # Out of GPU memory: the same settings would fail the same way, so the retry policy must not rerun them.
        oom = read_oom_report(run_dir)
        if oom is not None:
            raise dg.Failure(description=oom, allow_retries=False) from None
        raise
    metrics = json.loads((write.directory / METRICS_FILE).read_text())
    keys = ("parameters", *RESULT_KEYS, "stopped_reason")
    # The model is exported: the checkpoints (GBs for the larger presets) have done their job,
    # and of the runs that never finished only the newest few are kept for a resume.
    shutil.rmtree(run_dir, ignore_errors=True)
    for stale in prune_run_dirs(run_dir.parent, keep=write.store.keep_versions):
        context.log.info(f"removed the unfinished training directory {stale}")
    return {
        **{key: metrics[key] for key in keys},
        "preset": f"{metrics['preset']['family']}-{metrics['preset']['size']}",
        "resumed_from": metrics["resumed_from"] or "",
        "loss_curves": _loss_curve_markdown(write.directory / "loss_curve.png"),
        "model_card": (write.directory / "README.md").read_text(),
    }


def _checkpoint_asset(name: str, mode: str, deps: list, description: str, version: str) -> dg.AssetsDefinition:
    """One training asset: both checkpoints run the same trainer, with another mode and input."""

    @dg.asset(name=name, deps=deps, code_version=version, description=description, **_TRAINING)
    def checkpoint(
        context: dg.AssetExecutionContext,
        config: TrainingConfig,
        artifact_store: ArtifactStoreResource,
        gpu: GpuResource,
        pipes_subprocess_client: dg.PipesSubprocessClient,
    ) -> dg.MaterializeResult:
        def build(write: ArtifactWrite) -> dict:
            # SFT starts from the base checkpoint this write reads (its version is recorded).
            base = {"init_from": str(write.input(_BASE).path)} if mode == "sft" else {}
            settings = checkpoint_settings(config, mode, **base)
            return train_checkpoint(context, write, settings, gpu, pipes_subprocess_client)

        return artifact_store.materialize(context, build, identity=CHECKPOINT_IDENTITY)

    return checkpoint


base_checkpoint = _checkpoint_asset(
    _BASE,
    "pretrain",
    [_SHARDS, _TOKENIZER],
    "Pretrained base model (HF directory) from the pretraining token shards.",
    version="1",
)
instruct_checkpoint = _checkpoint_asset(
    "instruct_checkpoint",
    "sft",
    [_BASE, _SHARDS, _TOKENIZER],
    "Instruction-tuned model (HF directory): the base model fine-tuned on the SFT shards, "
    "loss on response tokens only.",
    version="2",  # issue 22: SFT's rate from the size's, sft_epochs, checkpoint kept by dev tasks passed
)


def _perplexity_check(artifact_store: ArtifactStoreResource, asset: str) -> dg.AssetCheckResult:
    """Warn when the model predicts val text worse than a unigram model would (train token
    frequencies scored on the val tokens: the best model that ignores context)."""
    metrics = artifact_store.current(asset).manifest["metadata"]
    baseline = perplexity(metrics["val_unigram_loss"])
    return dg.AssetCheckResult(
        passed=metrics["val_perplexity"] <= baseline,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"val_perplexity": metrics["val_perplexity"], "unigram_perplexity": baseline},
    )


@dg.asset_check(
    asset=base_checkpoint, description="Val perplexity is below that of a unigram model of the train split."
)
def base_val_perplexity(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    return _perplexity_check(artifact_store, "base_checkpoint")


@dg.asset_check(
    asset=instruct_checkpoint, description="Val perplexity is below that of a unigram model of the train split."
)
def instruct_val_perplexity(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    return _perplexity_check(artifact_store, "instruct_checkpoint")
