"""Trainer callbacks: throughput/MFU and perplexity, the non-finite-loss guard, the progress line.

Values added in ``on_log`` are written both into the ``logs`` dict (seen by the
callbacks after this one, e.g. the Pipes streamer) and into the entry the Trainer has
just appended to ``state.log_history`` (which lands in ``trainer_state.json`` and so
survives a resume).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from transformers import EarlyStoppingCallback, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from pipeline.common.text_metrics import perplexity
from pipeline.train.device import model_flops_utilization

# Under fp16 the GradScaler skips a step whose gradients overflowed and halves its scale;
# from its initial 2**16 a few skips in a row are normal. This many consecutive non-finite
# log entries mean the run itself diverged.
FP16_NONFINITE_TOLERANCE = 8


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss or gradient norm; the run was stopped before saving."""


def _record(state: TrainerState, logs: dict, values: dict) -> None:
    logs.update(values)
    if state.log_history:
        state.log_history[-1].update(values)


class ThroughputCallback(TrainerCallback):
    """Tokens/s and MFU over training time only, warm-up left out.

    The first logging window after training starts (or resumes) is not counted: it holds
    ``torch.compile``'s compilation, CUDA's lazy start and the allocator's first growth, which
    can take longer than many later windows together. The clock runs from the end of the last
    log, evaluation or save to the next training log, so evaluation and checkpointing (which
    follow a log) are left out while the data loading of every step is in. ``synchronize``
    (``torch.cuda.synchronize`` on a GPU) is called before each reading, once per logging window
    rather than once per step, so queued kernels are counted and no step is stalled.
    MFU = achieved FLOP/s / (peak × processes), with FLOPs per token from
    ``models.sizing.flops_per_token`` (6·N + 12·L·d·T); it is left out when the peak is unknown
    (``model_flops_utilization``).
    """

    def __init__(
        self,
        tokens_per_step: int,
        flops_per_token: int,
        peak_flops: float | None,
        world_size: int,
        synchronize: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.tokens_per_step = tokens_per_step
        self.flops_per_token = flops_per_token
        self.peak_flops = peak_flops * world_size if peak_flops else None
        self.synchronize = synchronize or (lambda: None)
        self.clock = clock
        self.total_seconds = 0.0
        self.total_steps = 0
        self._window_started = 0.0
        self._window_first_step = 0
        self._warming_up = True

    def _restart(self, state: TrainerState) -> None:
        self.synchronize()
        self._window_started = self.clock()
        self._window_first_step = state.global_step

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._warming_up = True
        self._restart(state)

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._restart(state)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._restart(state)

    def rates(self, steps: int, seconds: float) -> dict:
        if steps <= 0 or seconds <= 0:
            return {}
        tokens_per_second = steps * self.tokens_per_step / seconds
        rates = {"tokens_per_second": tokens_per_second}
        mfu = model_flops_utilization(tokens_per_second, self.flops_per_token, self.peak_flops)
        if mfu is not None:
            rates["mfu"] = mfu
        return rates

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if logs is None:
            return
        if "eval_loss" in logs:
            _record(state, logs, {"eval_perplexity": perplexity(logs["eval_loss"])})
        if "loss" in logs:
            self.synchronize()
            seconds = self.clock() - self._window_started
            steps = state.global_step - self._window_first_step
            if not self._warming_up:
                _record(state, logs, self.rates(steps, seconds))
                self.total_seconds += seconds
                self.total_steps += steps
            self._warming_up = False
            self._restart(state)

    def overall(self) -> dict:
        """Average tokens/s and MFU over the steps this process ran after its warm-up window ({} if none)."""
        return self.rates(self.total_steps, self.total_seconds)


class NonFiniteLossGuard(TrainerCallback):
    """Stop with a clear error after ``tolerance`` consecutive NaN/inf training losses or gradient norms.

    ``tolerance`` is 1 (stop at the first) except under fp16, where the GradScaler skips
    overflowing steps without touching the weights (``FP16_NONFINITE_TOLERANCE``). The
    Trainer logs, then evaluates, then saves, so raising from ``on_log`` keeps the diverged
    weights out of any checkpoint: the last checkpoint stays the last good one.
    (``logging_nan_inf_filter`` must be off, or the Trainer would replace a NaN loss by the
    running mean before it reaches here.)
    """

    def __init__(self, tolerance: int = 1):
        if tolerance < 1:
            raise ValueError(f"NonFiniteLossGuard tolerance must be >= 1, got {tolerance}")
        self.tolerance = tolerance
        self.streak = 0

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return
        bad = [(key, logs[key]) for key in ("loss", "grad_norm") if logs.get(key) is not None]
        bad = [(key, value) for key, value in bad if not math.isfinite(value)]
        self.streak = self.streak + 1 if bad else 0
        if self.streak < self.tolerance:
            return
        key, value = bad[0]
        first = state.global_step - args.logging_steps + 1
        span = (
            f"step {state.global_step}"
            if first >= state.global_step
            else f"step {state.global_step} (logged over steps {max(first, 1)}..{state.global_step})"
        )
        repeated = f", {self.streak} log entries in a row" if self.streak > 1 else ""
        raise NonFiniteLossError(
            f"training {key} became {value} at {span}{repeated}, learning rate {logs.get('learning_rate')}; "
            "stopped before saving, so the last checkpoint holds the last good weights. "
            "Lower the learning rate or use fp32/bf16 instead of fp16."
        )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def progress_line(
    step: int, max_steps: int, loss: float | None, val_loss: float | None, tokens_per_second: float | None, eta_s
) -> str:
    """One human line: ``step 120/400 (30%)  loss 2.314  val 2.450  5,120 tok/s  ETA 3m12s``."""
    parts = [f"step {step}/{max_steps} ({step / max_steps:.0%})" if max_steps else f"step {step}"]
    parts.append(f"loss {loss:.3f}" if loss is not None else "loss –")
    parts.append(f"val {val_loss:.3f}" if val_loss is not None else "val –")
    parts.append(f"{tokens_per_second:,.0f} tok/s" if tokens_per_second else "– tok/s")
    parts.append(f"ETA {_duration(eta_s)}" if eta_s is not None else "ETA –")
    return "  ".join(parts)


class ProgressCallback(TrainerCallback):
    """Emit a progress line at every training log (after ThroughputCallback has added tokens/s).

    The ETA divides the wall time since this process started training (evaluation and saving
    included, since the user waits for them too) by the steps it ran, times the steps left.
    """

    def __init__(self, emit: Callable[[str], None], clock: Callable[[], float] = time.monotonic):
        self.emit = emit
        self.clock = clock
        self.val_loss: float | None = None
        self._started = 0.0
        self._first_step = 0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._started, self._first_step = self.clock(), state.global_step

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if not logs:
            return
        if "eval_loss" in logs:
            self.val_loss = logs["eval_loss"]
        if "loss" not in logs:
            return
        done = state.global_step - self._first_step
        eta = (self.clock() - self._started) / done * (state.max_steps - state.global_step) if done > 0 else None
        self.emit(
            progress_line(
                state.global_step, state.max_steps, logs["loss"], self.val_loss, logs.get("tokens_per_second"), eta
            )
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


class EarlyStoppingAfterWarmup(EarlyStoppingCallback):
    """Early stopping that counts no evaluation of the warm-up steps (``TrainSettings.warmup_share``): the
    val split is the corpus's, and general Python is not meant to fit it, only to prepare for it."""

    def __init__(self, warmup_steps: int, early_stopping_patience: int):
        super().__init__(early_stopping_patience=early_stopping_patience)
        self.warmup_steps = warmup_steps

    def on_evaluate(self, args, state, control, metrics, **kwargs):
        if state.global_step > self.warmup_steps:
            super().on_evaluate(args, state, control, metrics, **kwargs)

    def state(self) -> dict:
        saved = super().state()
        saved["args"] = {"warmup_steps": self.warmup_steps, "early_stopping_patience": self.early_stopping_patience}
        return saved
