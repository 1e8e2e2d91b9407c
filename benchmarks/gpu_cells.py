"""The measurements of benchmarks/gpu.sh, one cell per call, each appending JSON lines to ``--out``.

    python -m benchmarks.gpu_cells CELL --out results.jsonl [--cpu-dry-run] [--quality-shards DIR]

Cells (gpu.sh runs each in its own process under its own timeout, so one that hangs or runs out of
memory costs only itself; a line is appended per measurement, so a timeout keeps what finished):

* ``preflight``: versions, the GPU, and flash SDPA with GQA, forward and backward;
* ``trainer16`` / ``trainer32`` / ``trainer32cap``: the HF Trainer as ``pipeline.train.run`` sets it
  up (bf16, the causal attention, eager): tokens/s, MFU, p50/p90 step time, peak memory beside the
  ``models.sizing`` estimate, for every preset at 16 × 512 and 32 × 512 tokens; ``cap`` repeats
  32 × 512 with the process limited to 12 GiB (``torch.cuda.set_per_process_memory_fraction``), a
  12 GB card's share;
* ``bare``: the Trainer against a bare PyTorch loop at 5m and 80m (``benchmarks/train_throughput.py``);
* ``compiled``: ``torch.compile`` at 5m and 80m, the compile time (first window) apart;
* ``quality``: llama-5m for 90 s on the real library's shards with the CPU run's shape and val
  tokens; its val loss beside the CPU run's (docs/benchmarks.md, "Training quality": 2.656).

``--cpu-dry-run`` runs every cell on the CPU with the tiny preset and a few steps (CI runs it, so
the script cannot rot before a GPU comes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import Trainer, TrainerCallback, default_data_collator

from benchmarks.train_throughput import VOCAB, fixed_step_plan, run_bare, write_random_shards
from models.presets import PRETRAIN_LR, resolve_preset
from models.sizing import flops_per_token, training_memory
from pipeline.tokens.shard_format import TokenShards
from pipeline.train.attention import use_causal_attention
from pipeline.train.data import TokenBlockDataset
from pipeline.train.device import DeviceInfo, model_flops_utilization, resolve_device
from pipeline.train.model import build_model
from pipeline.train.plan import plan_run
from pipeline.train.run import training_arguments
from pipeline.train.settings import TrainSettings

GIB = 1024**3
CAP_BYTES = 12 * GIB
CPU_QUALITY = {"val_loss": 2.656, "source": "docs/benchmarks.md, Training quality: llama-5m, 8 x 128, 900 steps"}


@dataclasses.dataclass(frozen=True)
class Scale:
    sizes: tuple[str, ...]
    pairs: tuple[str, ...]  # sizes of the bare-loop and compile comparisons
    steps: int
    warmup: int
    quality_size: str
    quality_s: float
    device: str
    precision: str
    compile_backend: str  # the dry run traces with dynamo (our attention included) but generates no code


GPU = Scale(("5m", "25m", "50m", "80m"), ("5m", "80m"), 40, 10, "5m", 90.0, "cuda", "bf16-mixed", "inductor")
DRY = Scale(("tiny",), ("tiny",), 4, 1, "tiny", 3.0, "cpu", "fp32", "eager")


def emit(out: Path, record: dict) -> None:
    with out.open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


class StepTimes(TrainerCallback):
    """The wall time of every optimizer step (synchronized at its end, so it is the GPU's time too)."""

    def __init__(self, synchronize):
        self.synchronize = synchronize
        self.ends: list[float] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.synchronize()
        self.ends = [time.perf_counter()]

    def on_step_end(self, args, state, control, **kwargs):
        self.synchronize()
        self.ends.append(time.perf_counter())


def _settings(size: str, batch: int, seq_len: int, scale: Scale, root: Path, compile_model: bool) -> TrainSettings:
    return TrainSettings(
        size=size,
        shards_dir=str(root),
        tokenizer_dir=str(root),
        output_dir=str(root / "run"),
        batch_size=batch,
        seq_len=seq_len,
        lr=PRETRAIN_LR[size],
        device=scale.device,
        precision=scale.precision,
        compile=compile_model,
    )


def measure_trainer(device: DeviceInfo, scale: Scale, size: str, batch: int, seq_len: int, compile_model: bool) -> dict:
    """One Trainer run of ``scale.steps`` steps on random tokens; the first ``scale.warmup`` are warm-up."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    preset = resolve_preset("llama", size, VOCAB)
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(size, batch, seq_len, scale, Path(tmp), compile_model)
        data = TokenBlockDataset(write_random_shards(Path(tmp), batch * seq_len * (scale.steps + 2)), seq_len, False)
        args = dataclasses.replace(
            training_arguments(settings, device, fixed_step_plan(settings, scale.steps)),
            eval_strategy="no",
            save_strategy="no",
            logging_steps=scale.steps,
            torch_compile_backend=scale.compile_backend if compile_model else None,
        )
        torch.manual_seed(0)
        model = use_causal_attention(build_model(preset))
        clock = StepTimes(sync)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=default_data_collator)
        trainer.add_callback(clock)
        trainer.train()
    steps = np.diff(clock.ends)
    timed = steps[scale.warmup :]
    tokens_per_second = batch * seq_len * len(timed) / float(timed.sum())
    estimate = training_memory(preset, batch, seq_len, device.mixed_precision).total
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    return {
        "size": size,
        "batch": batch,
        "seq_len": seq_len,
        "compile": compile_model,
        "tokens_per_second": tokens_per_second,
        "mfu": model_flops_utilization(tokens_per_second, flops_per_token(preset, seq_len), device.peak_flops),
        "step_ms_p50": float(np.percentile(timed, 50) * 1e3),
        "step_ms_p90": float(np.percentile(timed, 90) * 1e3),
        "warmup_s": float(steps[: scale.warmup].sum()),  # compile time when compile is on
        "peak_gib": peak / GIB if peak else None,
        "estimate_gib": estimate / GIB,
        "peak_over_estimate": peak / estimate if peak else None,
    }


def _measure_or_oom(out: Path, cell: str, device: DeviceInfo, scale: Scale, size: str, batch: int, compile_model=False):
    try:
        record = measure_trainer(device, scale, size, batch, 512 if device.type == "cuda" else 64, compile_model)
    except torch.OutOfMemoryError as err:
        record = {"size": size, "batch": batch, "out_of_memory": str(err).splitlines()[0]}
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()
    emit(out, {"cell": cell, **record})


def preflight(out: Path, device: DeviceInfo, scale: Scale, opts) -> None:
    record = {
        "cell": "preflight",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "device": device.to_dict(),
    }
    if device.type == "cuda":
        record["capability"] = list(torch.cuda.get_device_capability())
        record["arch_list"] = torch.cuda.get_arch_list()
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    q = torch.randn(2, 8, 256, 64, device=device.device, dtype=dtype, requires_grad=True)
    k, v = (torch.randn(2, 2, 256, 64, device=device.device, dtype=dtype, requires_grad=True) for _ in range(2))
    from torch.nn.attention import SDPBackend, sdpa_kernel

    try:
        with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):  # flash only: an error, not a silent fallback
            torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True).sum().backward()
        record["flash_sdpa_gqa_fwd_bwd"] = "ok"
    except RuntimeError as err:
        record["flash_sdpa_gqa_fwd_bwd"] = str(err).splitlines()[0]
    emit(out, record)


def trainer_cell(batch: int, cap: bool):
    def cell(out: Path, device: DeviceInfo, scale: Scale, opts) -> None:
        name = f"trainer{batch}{'cap' if cap else ''}"
        if cap:
            if device.type != "cuda":
                emit(out, {"cell": name, "skipped": "a memory cap needs a GPU"})
                return
            torch.cuda.set_per_process_memory_fraction(min(1.0, CAP_BYTES / device.memory_bytes))
        for size in scale.sizes:
            _measure_or_oom(out, name, device, scale, size, batch if device.type == "cuda" else 2)

    return cell


def bare(out: Path, device: DeviceInfo, scale: Scale, opts) -> None:
    batch, seq_len = (32, 512) if device.type == "cuda" else (2, 64)
    for size in scale.pairs:
        trainer = measure_trainer(device, scale, size, batch, seq_len, False)
        with tempfile.TemporaryDirectory() as tmp:
            settings = _settings(size, batch, seq_len, scale, Path(tmp), False)
            data = TokenBlockDataset(
                write_random_shards(Path(tmp), batch * seq_len * (scale.steps + 2)), seq_len, False
            )
            seconds = run_bare(settings, device, data, scale.steps, scale.warmup)
        bare_rate = batch * seq_len * (scale.steps - scale.warmup) / seconds
        rates = {"trainer_tokens_per_second": trainer["tokens_per_second"], "bare_tokens_per_second": bare_rate}
        emit(out, {"cell": "bare", "size": size, **rates, "ratio": trainer["tokens_per_second"] / bare_rate})


def compiled(out: Path, device: DeviceInfo, scale: Scale, opts) -> None:
    for size in scale.pairs:
        _measure_or_oom(out, "compiled", device, scale, size, 32 if device.type == "cuda" else 2, compile_model=True)


def quality(out: Path, device: DeviceInfo, scale: Scale, opts) -> None:
    """llama-5m for ``scale.quality_s`` seconds with the run's own plan, then its val loss."""
    shards_dir = opts.quality_shards
    if shards_dir is None or not (shards_dir / "manifest.json").is_file():
        emit(out, {"cell": "quality", "skipped": f"no token shards at {shards_dir} (gpu.sh --help says how)"})
        return
    train, val = (TokenShards(shards_dir, "pretrain", split) for split in ("train", "val"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = TrainSettings(
            shards_dir=str(shards_dir),
            tokenizer_dir=tmp,
            output_dir=tmp,
            size=scale.quality_size,
            device=scale.device,
            precision=scale.precision,
            eval_tokens=32_768,
        )
        preset = resolve_preset("llama", scale.quality_size, train.vocab_size)
        plan = plan_run(settings, preset, train.num_tokens, val.num_tokens, 1)
        torch.manual_seed(settings.seed)
        model = use_causal_attention(build_model(preset))
        deadline = time.monotonic() + scale.quality_s

        class Deadline(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                # Only ever set it: assigning False would undo the Trainer's own stop at max_steps.
                if time.monotonic() > deadline:
                    control.should_training_stop = True

        # The full plan's schedule (warm-up, cosine) cut at the deadline: what a longer run would have done by then.
        args = dataclasses.replace(training_arguments(settings, device, plan), eval_strategy="no", save_strategy="no")
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=TokenBlockDataset(train, plan.seq_len, False),
            eval_dataset=TokenBlockDataset(val, plan.seq_len, False, max_tokens=plan.eval_tokens),
            data_collator=default_data_collator,
            callbacks=[Deadline()],
        )
        started = time.monotonic()
        trainer.train()
        trained_s = time.monotonic() - started
        val_loss = trainer.evaluate()["eval_loss"]
    shape = {"steps": trainer.state.global_step, "max_steps": plan.max_steps, "batch": plan.batch_size}
    emit(
        out,
        {
            "cell": "quality",
            **shape,
            "seq_len": plan.seq_len,
            "train_s": trained_s,
            "val_loss": val_loss,
            "cpu_run": CPU_QUALITY,
        },
    )


CELLS = {
    "preflight": preflight,
    "trainer16": trainer_cell(16, False),
    "trainer32": trainer_cell(32, False),
    "trainer32cap": trainer_cell(32, True),
    "bare": bare,
    "compiled": compiled,
    "quality": quality,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cell", choices=list(CELLS))
    parser.add_argument("--out", type=Path, required=True, help="JSON lines file the results are appended to")
    parser.add_argument("--cpu-dry-run", action="store_true", help="tiny preset, a few steps, on the CPU")
    parser.add_argument("--quality-shards", type=Path, help="a token_shards artifact's shards directory")
    opts = parser.parse_args()
    scale = DRY if opts.cpu_dry_run else GPU
    device = resolve_device(scale.device, scale.precision)
    started = time.monotonic()
    CELLS[opts.cell](opts.out, device, scale, opts)
    print(f"{opts.cell}: {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
