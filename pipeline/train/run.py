"""Pretrain or instruction-tune a preset model with the Hugging Face Trainer.

Run standalone, under ``torchrun --nproc_per_node N``, or from Dagster through Pipes::

    python -m pipeline.train.run CONFIG.json      # CONFIG.json: TrainSettings fields

Re-running with the same ``output_dir`` resumes from the last complete checkpoint in
``<output_dir>/checkpoints`` (the sampler replays to that step, so the data order
and the loss curve continue exactly); a lock file keeps a second trainer out of it.
Knobs left unset (sequence length, token budget, learning rate) are sized from the
splits and the preset (``pipeline.train.plan``). Rank 0 prints a progress line at every
log step (to stderr, and to Dagster through Pipes). The finished model is written to
``settings.model_dir``: an HF directory (weights, config, generation config,
tokenizer files, ``preset.json``, ``metrics.json``, ``loss_curve.png``, README.md).
Inside Dagster, rank 0 streams logs and metrics as JSON lines through Pipes; the asset then
commits the exported directory to the artifact store and reports it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedModel,
    PrinterCallback,
    Trainer,
    TrainerState,
    TrainingArguments,
    default_data_collator,
    set_seed,
)

from models.presets import ModelPreset, check_sequence, resolve_preset
from models.sizing import check_fits, flops_per_token, parameter_count
from pipeline.common.prompt_format import BOS, EOS, PAD, SPECIAL_TOKEN_IDS
from pipeline.common.text_metrics import perplexity
from pipeline.train.attention import use_causal_attention
from pipeline.train.callbacks import (
    FP16_NONFINITE_TOLERANCE,
    EarlyStoppingAfterWarmup,
    FinalCheckpoint,
    NonFiniteLossGuard,
    ProgressCallback,
    ThroughputCallback,
)
from pipeline.train.data import (
    TokenBlockDataset,
    check_one_tokenizer,
    open_split,
    unigram_loss,
    warmup_first,
    warmup_steps,
)
from pipeline.train.dev_eval import SELECTION_METRIC, DevTaskCallback, DevTasks, dev_metrics
from pipeline.train.device import DeviceInfo, child_device, refuse_data_parallel, resolve_device
from pipeline.train.memory import TrainingOutOfMemory, clear_oom_report, out_of_memory_message, write_oom_report
from pipeline.train.model import build_model, context_length
from pipeline.train.outputs import (
    LOSS_CURVE_FILE,
    METRICS_FILE,
    PRESET_FILE,
    copy_tokenizer_files,
    model_card,
    plot_loss_curve,
    read_preset,
    write_json,
)
from pipeline.train.pipes import PipesLogCallback, pipes_session
from pipeline.train.plan import RunPlan, plan_run
from pipeline.train.run_dir import RunLock, last_complete_checkpoint
from pipeline.train.settings import TrainSettings


def _world() -> tuple[int, int]:
    """(rank, world_size) as torchrun sets them; (0, 1) when run directly."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _prepare_model(settings: TrainSettings, vocab_size: int) -> tuple[ModelPreset, PreTrainedModel]:
    if settings.mode == "pretrain":
        preset = resolve_preset(settings.family, settings.size, vocab_size, settings.overrides)
        # The Trainer seeds only after the model exists: seed the initial weights here, so the
        # same inputs and settings give the same checkpoint (and the same data version).
        set_seed(settings.seed)
        return preset, use_causal_attention(build_model(preset))
    stored = read_preset(Path(settings.init_from))
    preset = resolve_preset(
        stored["family"],
        stored["size"],
        stored["vocab_size"],
        {k: v for k, v in stored.items() if k not in ("family", "size", "vocab_size")},
    )
    model = AutoModelForCausalLM.from_pretrained(settings.init_from, attn_implementation="sdpa")
    return preset, use_causal_attention(model)


def training_arguments(
    settings: TrainSettings, device: DeviceInfo, plan: RunPlan, select_by_dev: bool = False
) -> TrainingArguments:
    """``select_by_dev``: keep the checkpoint (and stop early) by dev tasks passed, then val loss."""
    lr = plan.learning_rate
    return TrainingArguments(
        output_dir=str(settings.checkpoint_dir),
        max_steps=plan.max_steps,
        per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=plan.eval_batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=lr,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr": lr * settings.min_lr_ratio},
        warmup_steps=settings.warmup_ratio,  # a float < 1 is a ratio of max_steps in transformers 5
        weight_decay=settings.weight_decay,  # HF exempts biases and norm weights by name
        adam_beta1=0.9,
        adam_beta2=0.95,
        max_grad_norm=1.0,
        eval_strategy="steps",
        eval_steps=settings.eval_every,
        save_strategy="steps",
        save_steps=settings.save_every,
        save_total_limit=2,
        load_best_model_at_end=settings.early_stopping_patience > 0 or select_by_dev,
        metric_for_best_model=SELECTION_METRIC if select_by_dev else "eval_loss",
        greater_is_better=select_by_dev,
        prediction_loss_only=True,
        logging_steps=settings.log_every,
        logging_nan_inf_filter=False,  # else a NaN loss is replaced by the mean and the guard never sees it
        bf16=device.precision == "bf16-mixed",
        fp16=device.precision == "fp16-mixed",
        use_cpu=device.type == "cpu",
        torch_compile=settings.compile,
        seed=settings.seed,
        data_seed=settings.seed,
        # A short last batch would make a compiled model recompile (new shapes) for one step.
        dataloader_drop_last=True,
        # On a GPU one worker process reads the next blocks while the GPU runs, and pinned memory
        # lets the copy to the GPU overlap too (accelerate's non_blocking needs pin_memory). On the
        # CPU a worker would only take a core from the matmuls.
        dataloader_pin_memory=device.type == "cuda",
        dataloader_num_workers=1 if device.type == "cuda" else 0,
        dataloader_persistent_workers=device.type == "cuda",
        accelerator_config={"non_blocking": device.type == "cuda"},
        # Every parameter gets a gradient in these models; the search for unused ones costs a
        # graph traversal per step under DDP.
        ddp_find_unused_parameters=False,
        report_to="none",
        disable_tqdm=True,
        save_only_model=False,
        # A warm-up run's dataset is the run in training order (WarmupFirstDataset).
        train_sampling_strategy="sequential" if warmup_steps(settings.warmup_share, plan.max_steps) else "random",
    )


def _export(trainer: Trainer, settings: TrainSettings, preset: ModelPreset) -> None:
    model_dir = settings.model_dir
    model_dir.mkdir(parents=True, exist_ok=True)
    trainer.model.generation_config = GenerationConfig(
        bos_token_id=SPECIAL_TOKEN_IDS[BOS],
        eos_token_id=SPECIAL_TOKEN_IDS[EOS],
        pad_token_id=SPECIAL_TOKEN_IDS[PAD],
        do_sample=False,
        max_new_tokens=256,
    )
    trainer.save_model(str(model_dir))
    copy_tokenizer_files(Path(settings.tokenizer_dir), model_dir)
    write_json(model_dir / PRESET_FILE, preset.to_dict())


def _finished(checkpoint: str | None, max_steps: int) -> bool:
    """Is ``checkpoint`` the end of a completed run (its last step, or where early stopping ended it)?"""
    if checkpoint is None:
        return False
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    control = state.get("stateful_callbacks", {}).get("TrainerControl", {}).get("args", {})
    return state["global_step"] >= max_steps or bool(control.get("should_training_stop"))


def _restore_finished(trainer: Trainer, checkpoint: Path) -> None:
    """Load the state and the exported weights (the best ones when training keeps the best) of a finished run."""
    trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))
    best = trainer.state.best_model_checkpoint
    source = Path(best) if trainer.args.load_best_model_at_end and best else checkpoint
    weights = AutoModelForCausalLM.from_pretrained(source).state_dict()
    trainer.model.load_state_dict(weights)


def run_training(settings: TrainSettings, pipes=None, dev: DevTasks | None = None) -> dict:
    """Train as ``settings`` says and return the run's metrics (also in ``metrics.json``).

    ``pipes`` is an open Dagster Pipes context (or None): logs stream to it. Rank 0 holds the
    run directory's lock for the whole run (the other ranks follow it). ``dev``: the tasks an SFT
    run is judged by at each evaluation (``pipeline.evaluate.dev_tasks``); None judges by val loss.
    """
    settings.validate()
    rank, world_size = _world()
    lock = RunLock(Path(settings.output_dir)) if rank == 0 else contextlib.nullcontext()
    with lock:
        return _train(settings, pipes, rank, world_size, dev if settings.mode == "sft" else None)


def _progress_printer(pipes):
    def emit(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        if pipes is not None:
            pipes.log.info(line)

    return emit


def _train(settings: TrainSettings, pipes, rank: int, world_size: int, dev: DevTasks | None) -> dict:
    started = time.time()
    emit = _progress_printer(pipes)
    device = resolve_device(settings.device, settings.precision)
    if device.warning and rank == 0:
        emit(f"WARNING: {device.warning}")
    if rank == 0:
        clear_oom_report(Path(settings.output_dir))
    tokenizer = AutoTokenizer.from_pretrained(settings.tokenizer_dir)
    train_shards = open_split(Path(settings.shards_dir), settings.stream, "train")
    val_shards = open_split(Path(settings.shards_dir), settings.stream, "val")

    preset, model = _prepare_model(settings, len(tokenizer))
    init_from = Path(settings.init_from) if settings.mode == "sft" else None
    check_one_tokenizer(Path(settings.tokenizer_dir), train_shards, init_from)
    plan = plan_run(settings, preset, train_shards.num_tokens, val_shards.num_tokens, world_size)
    check_sequence(preset, plan.seq_len, train_shards.vocab_size, int(np.iinfo(train_shards.dtype).max))
    # On a GPU, what is free now: a display and other processes hold part of a desktop card.
    usable = torch.cuda.mem_get_info()[0] if device.type == "cuda" else device.memory_bytes
    where = f"{device.name} (free now)" if device.type == "cuda" else device.name
    estimate = check_fits(preset, plan.batch_size, plan.seq_len, device.mixed_precision, usable, where)

    use_mask = settings.mode == "sft"
    train_data = TokenBlockDataset(train_shards, plan.seq_len, use_mask)
    warmup = warmup_steps(settings.warmup_share, plan.max_steps)
    if warmup:
        blocks_per_step = plan.tokens_per_step // plan.seq_len  # every rank's micro-batches of one optimizer step
        train_data = warmup_first(
            Path(settings.shards_dir),
            train_data,
            warmup * blocks_per_step,
            plan.max_steps * blocks_per_step,
            settings.seed,
        )
    val_data = TokenBlockDataset(val_shards, plan.seq_len, use_mask, max_tokens=plan.eval_tokens)

    throughput = ThroughputCallback(
        plan.tokens_per_step,
        flops_per_token(preset, plan.seq_len),
        device.peak_flops,
        world_size,
        synchronize=torch.cuda.synchronize if device.type == "cuda" else None,
    )
    tolerance = FP16_NONFINITE_TOLERANCE if device.precision == "fp16-mixed" else 1
    callbacks = [throughput, NonFiniteLossGuard(tolerance)]
    if rank == 0:
        callbacks.append(ProgressCallback(emit))
    if pipes is not None:
        callbacks.append(PipesLogCallback(pipes))
    dev_callback = None
    if dev is not None and dev.prompts:
        dev_callback = DevTaskCallback(
            dev, tokenizer, context_length(model.config), settings.dev_max_new_tokens, emit if rank == 0 else None
        )
        callbacks.append(dev_callback)  # before early stopping, which reads what it adds
    if settings.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingAfterWarmup(warmup, settings.early_stopping_patience))
    callbacks.append(FinalCheckpoint())  # last: it sees the early-stopping decision of this evaluation
    trainer = Trainer(
        model=model,
        args=training_arguments(settings, device, plan, select_by_dev=dev_callback is not None),
        train_dataset=train_data,
        eval_dataset=val_data,
        data_collator=default_data_collator,
        callbacks=callbacks,
    )
    # The progress line replaces the Trainer's printout of every log dict (with disable_tqdm).
    trainer.remove_callback(PrinterCallback)
    refuse_data_parallel(trainer.args.n_gpu)
    checkpoint = last_complete_checkpoint(settings.checkpoint_dir, remove_torn=rank == 0)
    last_checkpoint = str(checkpoint) if checkpoint else None
    if pipes is not None:
        pipes.log.info(
            f"preset {preset.to_dict()}, {parameter_count(preset):,} parameters, device {device.to_dict()}, "
            f"plan {plan.to_dict()}, {world_size} process(es), resume from {last_checkpoint}"
        )
    try:
        if _finished(last_checkpoint, plan.max_steps):
            # A re-run of a completed training: take its weights instead of resuming, which would
            # make the Trainer step the optimizer once more and change the exported model.
            _restore_finished(trainer, Path(last_checkpoint))
        else:
            trainer.train(resume_from_checkpoint=last_checkpoint)
        if dev_callback is not None:
            # These weights were judged at their own evaluation, and training is over: nothing to stop.
            dev_callback.active = False
            trainer.remove_callback(EarlyStoppingAfterWarmup)
        final_eval = trainer.evaluate()
    except torch.OutOfMemoryError as err:
        peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
        message = out_of_memory_message(
            device.name, device.memory_bytes, peak, estimate.total, plan.batch_size, settings.grad_accum, plan.seq_len
        )
        if rank == 0:
            write_oom_report(Path(settings.output_dir), message)
        raise TrainingOutOfMemory(message) from err

    history = trainer.state.log_history
    train_losses = [e["loss"] for e in history if "loss" in e]
    stopped_early = trainer.state.global_step < plan.max_steps
    overall = throughput.overall()
    metrics = {
        "mode": settings.mode,
        "stream": settings.stream,
        "init_from": settings.init_from,
        "preset": preset.to_dict(),
        "parameters": parameter_count(preset),
        "device": device.to_dict(),
        "world_size": world_size,
        "shards_dir": settings.shards_dir,
        "seq_len": plan.seq_len,
        "batch_size": plan.batch_size,
        "tokens_per_step": plan.tokens_per_step,
        "token_budget": plan.token_budget,
        "train_tokens_available": train_shards.num_tokens,
        "val_tokens_evaluated": len(val_data) * plan.seq_len,
        "learning_rate": plan.learning_rate,
        "min_learning_rate": plan.learning_rate * settings.min_lr_ratio,
        "steps": trainer.state.global_step,
        "max_steps": plan.max_steps,
        "tokens": trainer.state.global_step * plan.tokens_per_step,
        "warmup_steps": warmup,
        "resumed_from": last_checkpoint,
        "stopped_reason": f"stopped early: {'dev tasks and ' if dev_callback else ''}val loss stopped improving"
        if stopped_early
        else f"ran all {plan.max_steps} steps",
        "final_train_loss": train_losses[-1] if train_losses else None,
        "final_val_loss": final_eval["eval_loss"],
        "val_perplexity": perplexity(final_eval["eval_loss"]),
        "val_unigram_loss": unigram_loss(train_shards, val_shards, plan.eval_tokens, use_mask),
        "tokens_per_second": overall.get("tokens_per_second"),
        "mfu": overall.get("mfu"),
        "wall_time_s": time.time() - started,
        **dev_metrics(history, trainer.state.best_metric, trainer.args.load_best_model_at_end),
        "dev_eval_s": round(dev_callback.seconds, 2) if dev_callback else None,
        "log_history": history,
    }
    if trainer.is_world_process_zero():
        _export(trainer, settings, preset)
        model_dir = settings.model_dir
        metrics["model_dir"] = str(model_dir)
        write_json(model_dir / METRICS_FILE, metrics)
        plot_loss_curve(history, model_dir / LOSS_CURVE_FILE, f"{settings.mode} {preset.family}/{preset.size}")
        (model_dir / "README.md").write_text(model_card(metrics))
    return metrics


def main(
    argv: list[str] | None = None,
    dev_tasks: Callable[[TrainSettings, Callable[[str], None]], DevTasks | None] | None = None,
) -> int:
    """``dev_tasks(settings, warn)``, from a layer that can run answers (``python -m
    pipeline.evaluate.dev_tasks``), gives an SFT run the tasks it is judged by, or None."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m pipeline.train.run CONFIG.json", file=sys.stderr)
        return 2
    settings = TrainSettings.from_json_file(Path(argv[0]))
    rank, world_size = _world()
    # Before anything starts CUDA: one process sees one GPU (else the HF Trainer runs nn.DataParallel
    # over all of them), and the allocator grows segments instead of fragmenting. The launcher has
    # usually done it already; pinning again changes nothing.
    child = child_device(settings.device, world_size, os.environ)
    os.environ.update(child.env)
    settings = dataclasses.replace(settings, device=child.device)
    if rank == 0:
        print(child.note, file=sys.stderr, flush=True)
    with pipes_session(rank) as pipes:
        # The asset commits the exported directory and reports it (metrics.json holds the numbers).
        warn = _progress_printer(pipes) if rank == 0 else lambda line: None
        dev = dev_tasks(settings, warn) if dev_tasks and settings.mode == "sft" else None
        run_training(settings, pipes, dev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
