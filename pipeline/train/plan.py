"""Defaults from the data and the model: what a run does when the user leaves a knob unset.

* learning rate: the preset size's rate (``models.presets.PRETRAIN_LR``), for SFT times ``sft_lr_scale``
  (0.5). Measured on the sample library (tiny base, 3 epochs of its 17k SFT tokens, response-only val
  loss): 2.908 at 5e-5 (the fixed SFT rate before), 2.626 at 3e-4, 2.366 at 1e-3 (half of tiny's 2e-3),
  2.530 at 3e-3; the real library's llama-5m at 5e-5 stopped early at 4.31 after 500 steps. Tied to
  the size's rate, SFT never runs above the rate its base was pretrained at;
* sequence length: the longest power of two up to the model's context at which the val split
  still holds ``MIN_EVAL_BLOCKS`` blocks and the train split one batch, so a small library
  trains at 64 or 128 tokens instead of failing on a 512-token block;
* token budget: ``max_epochs`` (SFT: ``sft_epochs``) passes over the train split, capped at ``tokens_per_parameter``
  tokens per model parameter (Chinchilla's ~20, Hoffmann et al. 2022), since repeating data
  beyond ~4 epochs stops paying (Muennighoff et al. 2023, "Scaling Data-Constrained Language
  Models": up to 4 epochs are almost as good as fresh data). SFT makes ``sft_epochs`` (3) passes: a
  probe that fine-tuned the real library's llama-5m for 3 epochs on task-family pairs (AdamW one-cycle,
  batch 16, prompt tokens masked) took it from 0 to 4-7 of 24 held-out maker requests passed;
* steps: a small library makes a small budget, and at 16 × 512 tokens a step it is a few hundred
  optimizer steps, too few to learn much. Until the budget gives ``MIN_STEPS`` steps, pretraining
  halves its sequence length (down to ``MIN_STEPS_SEQ_LEN``), then any run halves its batch (down
  to ``MIN_BATCH``). Measured on a real library (docs/benchmarks.md, "Training quality"): in the
  same 5 CPU minutes llama-5m reached 4.11 bits/byte at 16 × 512 tokens a step, 3.48 at 4 × 512,
  3.30 at 8 × 256, 3.09 at 16 × 128 and 3.05 at 8 × 128. SFT keeps its sequence length: it is the
  context the served model answers in.

A split too small for even the shortest sequence is refused here, naming the split and its size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from models.presets import PRETRAIN_LR, ModelPreset
from models.sizing import parameter_count
from pipeline.train.settings import TrainSettings

MIN_SEQ_LEN = 64
MIN_EVAL_BLOCKS = 2  # one val block is a noisy signal for early stopping and best-model choice
DEFAULT_BATCH = 16  # sequences per device per micro-step when the budget is large enough
MIN_STEPS = 2000
MIN_STEPS_SEQ_LEN = 128
MIN_BATCH = 4


class SplitTooSmall(ValueError):
    """A train or val split holds fewer tokens than the run needs."""


@dataclass(frozen=True)
class RunPlan:
    seq_len: int
    batch_size: int  # sequences per device per micro-step
    eval_tokens: int
    eval_batch_size: int  # divides the val blocks of each process, so drop_last drops none of them
    token_budget: int
    tokens_per_step: int
    max_steps: int
    learning_rate: float

    def to_dict(self) -> dict:
        return asdict(self)


def choose_seq_len(context: int, train_tokens: int, val_tokens: int, batch_size: int, where: str) -> int:
    """The longest power-of-two sequence length (``MIN_SEQ_LEN``..``context``) both splits can feed."""
    seq_len = 1 << (context.bit_length() - 1)  # largest power of two <= context
    while seq_len >= MIN_SEQ_LEN:
        if val_tokens >= MIN_EVAL_BLOCKS * seq_len and train_tokens >= batch_size * seq_len:
            return seq_len
        seq_len //= 2
    raise SplitTooSmall(
        f"{where}: the val split holds {val_tokens:,} tokens and the train split {train_tokens:,}; even "
        f"seq_len {MIN_SEQ_LEN} needs {MIN_EVAL_BLOCKS * MIN_SEQ_LEN:,} val tokens and "
        f"{batch_size * MIN_SEQ_LEN:,} train tokens (batch_size {batch_size}); add documents or lower batch_size"
    )


def eval_batch_size(blocks: int, batch_size: int, world_size: int) -> int:
    """The largest batch up to ``batch_size`` that splits ``blocks`` evenly over the processes.

    Training drops a short last batch (``dataloader_drop_last``: a compiled model would recompile for
    it) and the Trainer applies that to evaluation too, so the val batch must divide the val blocks.
    ``blocks`` is a multiple of ``world_size`` (``plan_run`` rounds it down).
    """
    per_process = blocks // world_size
    return next(size for size in range(min(batch_size, per_process), 0, -1) if per_process % size == 0)


def check_splits(seq_len: int, train_tokens: int, val_tokens: int, where: str) -> None:
    """A user-set seq_len must fit at least one block in each split."""
    for split, tokens in (("train", train_tokens), ("val", val_tokens)):
        if tokens < seq_len:
            raise SplitTooSmall(
                f"{where}: the {split} split holds {tokens:,} tokens, fewer than one block of seq_len {seq_len}; "
                "lower seq_len or leave it unset to size it to the data"
            )


def plan_run(
    settings: TrainSettings, preset: ModelPreset, train_tokens: int, val_tokens: int, world_size: int
) -> RunPlan:
    where = f"{settings.shards_dir} stream {settings.stream!r}"
    batch_size = settings.batch_size or DEFAULT_BATCH
    if settings.seq_len is None:
        seq_len = choose_seq_len(preset.context, train_tokens, val_tokens, batch_size, where)
    else:
        seq_len = settings.seq_len
        check_splits(seq_len, train_tokens, val_tokens, where)
    if settings.token_budget is not None:
        budget = settings.token_budget
    else:
        epochs = settings.sft_epochs if settings.mode == "sft" else settings.max_epochs
        budget = int(min(epochs * train_tokens, settings.tokens_per_parameter * parameter_count(preset)))

    def steps(batch: int, length: int) -> int:
        return budget // (batch * settings.grad_accum * length * world_size)

    # The shape follows the data's budget even when max_steps ends the run sooner (a probe of a few
    # steps trains with the shape the full run will have).
    if settings.seq_len is None and settings.mode == "pretrain":
        while seq_len > MIN_STEPS_SEQ_LEN and steps(batch_size, seq_len) < MIN_STEPS:
            seq_len //= 2
    if settings.batch_size is None:
        while batch_size > MIN_BATCH and steps(batch_size, seq_len) < MIN_STEPS:
            batch_size //= 2
    # drop_last skips a short batch, so a split smaller than one batch per process would give none:
    # the batch shrinks to what the split holds (the plan, logged at the start, shows it).
    blocks_per_process = train_tokens // seq_len // world_size
    if blocks_per_process == 0:
        raise SplitTooSmall(f"{where}: the train split holds fewer than one block of seq_len {seq_len} per process")
    batch_size = min(batch_size, blocks_per_process)
    tokens_per_step = batch_size * settings.grad_accum * seq_len * world_size
    if settings.lr is not None:
        lr = settings.lr
    else:
        lr = PRETRAIN_LR[preset.size] * (settings.sft_lr_scale if settings.mode == "sft" else 1.0)
    eval_blocks = min(settings.eval_tokens, val_tokens) // seq_len
    eval_blocks -= eval_blocks % world_size  # each process evaluates as many blocks
    if eval_blocks == 0:
        raise SplitTooSmall(f"{where}: the val split holds {val_tokens:,} tokens, fewer than one block per process")
    return RunPlan(
        seq_len=seq_len,
        batch_size=batch_size,
        eval_tokens=eval_blocks * seq_len,
        eval_batch_size=eval_batch_size(eval_blocks, batch_size, world_size),
        token_budget=budget,
        tokens_per_step=tokens_per_step,
        max_steps=settings.max_steps or max(1, budget // tokens_per_step),
        learning_rate=lr,
    )
