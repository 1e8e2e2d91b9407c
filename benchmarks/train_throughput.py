"""HF Trainer (as pipeline.train.run configures it) vs a bare PyTorch loop: tokens/s.

Both train the same preset from the same initial weights on the same token shards
(random ids, written here) with the same batch, AdamW settings, grad clipping and
precision. Only steady-state steps are timed (the first ``--warmup`` are not), and
the two are run alternately ``--rounds`` times, keeping each one's best, so that a
noisy shared machine penalises both alike. Goal: trainer / bare ≥ 0.95.

    python benchmarks/train_throughput.py                      # CPU: tiny llama
    python benchmarks/train_throughput.py --sizes 25m --batch 32 --seq-len 512 --steps 50   # GPU
    benchmarks/gpu.sh                                          # the GPU day's cells (benchmarks/gpu_cells.py)
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import Trainer, TrainerCallback, default_data_collator

from models.presets import PRETRAIN_LR, resolve_preset
from models.sizing import flops_per_token
from pipeline.tokens.shard_format import TokenShards, write_manifest, write_stream
from pipeline.train.attention import use_causal_attention
from pipeline.train.data import TokenBlockDataset
from pipeline.train.device import DeviceInfo, model_flops_utilization, resolve_device
from pipeline.train.model import build_model
from pipeline.train.plan import RunPlan
from pipeline.train.run import training_arguments
from pipeline.train.settings import TrainSettings

VOCAB = 8192


class _StepClock(TrainerCallback):
    """Time from the end of step ``warmup`` to the end of the last step."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.started = self.finished = 0.0

    def on_step_end(self, args, state, control, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if state.global_step == self.warmup:
            self.started = time.perf_counter()
        self.finished = time.perf_counter()


def write_random_shards(directory: Path, tokens: int) -> TokenShards:
    rng = np.random.default_rng(0)
    docs = [rng.integers(7, VOCAB, size=1000) for _ in range(-(-tokens // 1000))]  # whole documents, rounded up
    entries = write_stream(directory, "pretrain", "train", docs, None, VOCAB, shard_tokens=1 << 20)
    write_manifest(directory, entries, VOCAB, tokenizer_sha256="benchmark")
    return TokenShards(directory, "pretrain", "train")


def fixed_step_plan(settings: TrainSettings, steps: int) -> RunPlan:
    """A plan of exactly ``steps`` optimizer steps at the settings' own shape (no sizing from data)."""
    tokens = settings.batch_size * settings.seq_len
    return RunPlan(
        seq_len=settings.seq_len,
        batch_size=settings.batch_size,
        eval_tokens=tokens,
        eval_batch_size=settings.batch_size,
        token_budget=steps * tokens,
        tokens_per_step=tokens,
        max_steps=steps,
        learning_rate=settings.lr,
    )


def run_trainer(settings: TrainSettings, device: DeviceInfo, data: TokenBlockDataset, steps: int, warmup: int) -> float:
    torch.manual_seed(0)
    model = use_causal_attention(build_model(resolve_preset(settings.family, settings.size, VOCAB)))
    plan = fixed_step_plan(settings, steps)
    args = dataclasses.replace(
        training_arguments(settings, device, plan), eval_strategy="no", save_strategy="no", logging_steps=steps
    )
    clock = _StepClock(warmup)
    Trainer(model=model, args=args, train_dataset=data, data_collator=default_data_collator, callbacks=[clock]).train()
    return clock.finished - clock.started


def run_bare(settings: TrainSettings, device: DeviceInfo, data: TokenBlockDataset, steps: int, warmup: int) -> float:
    torch.manual_seed(0)
    model = use_causal_attention(build_model(resolve_preset(settings.family, settings.size, VOCAB))).to(device.device)
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr,
        betas=(0.9, 0.95),
        fused=True,
    )
    loader = DataLoader(
        data, batch_size=settings.batch_size, shuffle=True, drop_last=True, pin_memory=device.type == "cuda"
    )
    autocast_dtype = {"bf16-mixed": torch.bfloat16, "fp16-mixed": torch.float16}.get(device.precision)
    batches = iter(loader)
    started = 0.0
    for step in range(1, steps + 1):
        batch = next(batches)
        input_ids = batch["input_ids"].to(device.device, non_blocking=True)
        with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            loss = model(input_ids=input_ids, labels=input_ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def measure(opts: argparse.Namespace, device: DeviceInfo, size: str, compile_model: bool) -> dict[str, float]:
    """Tokens/s of each loop for one preset: the best of ``--rounds`` alternating runs."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = TrainSettings(
            family=opts.family,
            size=size,
            shards_dir=tmp,
            tokenizer_dir=tmp,
            output_dir=str(Path(tmp) / "run"),
            batch_size=opts.batch,
            seq_len=opts.seq_len,
            lr=PRETRAIN_LR[size],
            device=opts.device,
            precision=opts.precision,
            compile=compile_model,
        )
        shards = write_random_shards(Path(tmp), opts.batch * opts.seq_len * (opts.steps + 2))
        data = TokenBlockDataset(shards, opts.seq_len, use_mask=False)
        timed_tokens = (opts.steps - opts.warmup) * opts.batch * opts.seq_len
        loops = {"trainer": run_trainer} if opts.trainer_only else {"bare": run_bare, "trainer": run_trainer}
        best = dict.fromkeys(loops, float("inf"))
        for _ in range(opts.rounds):
            for name, loop in loops.items():
                best[name] = min(best[name], loop(settings, device, data, opts.steps, opts.warmup))
    return {name: timed_tokens / seconds for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="llama")
    parser.add_argument("--sizes", default="tiny", help="comma-separated preset sizes, e.g. 5m,25m,50m,80m")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--compile", choices=("off", "on", "both"), default="off", help="torch.compile the model")
    parser.add_argument("--trainer-only", action="store_true", help="time the Trainer alone (no bare loop)")
    opts = parser.parse_args()

    device = resolve_device(opts.device, opts.precision)
    print(f"device {device.name} ({device.precision}), peak {(device.peak_flops or 0) / 1e12:.2f} TFLOP/s")
    print(
        f"batch {opts.batch} x seq_len {opts.seq_len}, {opts.steps - opts.warmup} timed steps "
        f"after {opts.warmup}, best of {opts.rounds}"
    )
    compiles = {"off": [False], "on": [True], "both": [False, True]}[opts.compile]
    for size in opts.sizes.split(","):
        preset = resolve_preset(opts.family, size, VOCAB)
        per_token = flops_per_token(preset, opts.seq_len)
        for compile_model in compiles:
            rates = measure(opts, device, size, compile_model)
            for name, rate in rates.items():
                mfu = model_flops_utilization(rate, per_token, device.peak_flops)
                print(
                    f"{opts.family}/{size:4s} compile {'on ' if compile_model else 'off'} {name:8s} "
                    f"{rate:12,.0f} tokens/s   MFU {'–' if mfu is None else f'{mfu:.1%}'}",
                    flush=True,
                )
            if "bare" in rates:
                print(f"ratio trainer/bare = {rates['trainer'] / rates['bare']:.3f} (goal >= 0.95)", flush=True)


if __name__ == "__main__":
    main()
