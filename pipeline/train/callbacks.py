"""Trainer callbacks: throughput/MFU and perplexity, the non-finite-loss guard.

Values added in ``on_log`` are written both into the ``logs`` dict (seen by the
callbacks after this one, e.g. the Pipes streamer) and into the entry the Trainer has
just appended to ``state.log_history`` (which lands in ``trainer_state.json`` and so
survives a resume).
"""

from __future__ import annotations

import math
import time

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from pipeline.common.text_metrics import perplexity


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss or gradient norm; the run was stopped before saving."""


def _record(state: TrainerState, logs: dict, values: dict) -> None:
    logs.update(values)
    if state.log_history:
        state.log_history[-1].update(values)


class ThroughputCallback(TrainerCallback):
    """Tokens/s and MFU over optimizer-step time only (evaluation and saving excluded).

    MFU = achieved FLOP/s / (peak FLOP/s × processes), with FLOPs per token from
    ``models.sizing.flops_per_token`` (6·N + 12·L·d·T). A peak of 0 (unknown GPU)
    leaves MFU out rather than reporting a made-up number.
    """

    def __init__(self, tokens_per_step: int, flops_per_token: int, peak_flops: float, world_size: int):
        self.tokens_per_step = tokens_per_step
        self.flops_per_token = flops_per_token
        self.peak_flops = peak_flops * world_size
        self.window_seconds = 0.0
        self.window_steps = 0
        self.total_seconds = 0.0
        self.total_steps = 0
        self._step_started = 0.0

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._step_started = time.perf_counter()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        elapsed = time.perf_counter() - self._step_started
        self.window_seconds += elapsed
        self.window_steps += 1
        self.total_seconds += elapsed
        self.total_steps += 1

    def _rates(self, steps: int, seconds: float) -> dict:
        if steps == 0 or seconds <= 0:
            return {}
        tokens_per_second = steps * self.tokens_per_step / seconds
        rates = {"tokens_per_second": tokens_per_second}
        if self.peak_flops > 0:
            rates["mfu"] = tokens_per_second * self.flops_per_token / self.peak_flops
        return rates

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if logs is None:
            return
        if "eval_loss" in logs:
            _record(state, logs, {"eval_perplexity": perplexity(logs["eval_loss"])})
        if "loss" in logs:
            _record(state, logs, self._rates(self.window_steps, self.window_seconds))
            self.window_seconds, self.window_steps = 0.0, 0

    def overall(self) -> dict:
        """Average tokens/s and MFU over every step this process ran."""
        return self._rates(self.total_steps, self.total_seconds)


class NonFiniteLossGuard(TrainerCallback):
    """Stop with a clear error on a NaN/inf training loss or gradient norm.

    The Trainer logs, then evaluates, then saves, so raising from ``on_log`` keeps
    the diverged weights out of any checkpoint: the last checkpoint stays the last
    good one. (``logging_nan_inf_filter`` must be off, or the Trainer would replace
    a NaN loss by the running mean before it reaches here.)
    """

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if not logs:
            return
        for key in ("loss", "grad_norm"):
            value = logs.get(key)
            if value is not None and not math.isfinite(value):
                first = state.global_step - args.logging_steps + 1
                span = (
                    f"step {state.global_step}"
                    if first >= state.global_step
                    else (f"step {state.global_step} (logged over steps {max(first, 1)}..{state.global_step})")
                )
                raise NonFiniteLossError(
                    f"training {key} became {value} at {span}, learning rate {logs.get('learning_rate')}; "
                    "stopped before saving, so the last checkpoint holds the last good weights. "
                    "Lower the learning rate or use fp32/bf16 instead of fp16."
                )


class FinalCheckpoint(TrainerCallback):
    """Log, evaluate and save at the last step (or where early stopping ends training) as well.

    Without it a run whose step count is not a multiple of ``save_every`` ends with a
    checkpoint before its last steps, and a re-run (the asset re-materialized with the
    same inputs) would resume there and train the tail again, giving slightly different
    weights. Logging and evaluating first keeps the NaN guard and best-model tracking
    in front of that save, as for every other checkpoint.
    """

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_log = control.should_evaluate = control.should_save = True

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if control.should_training_stop:  # early stopping ends the run here: keep this step too
            control.should_save = True
