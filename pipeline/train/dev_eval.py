"""Dev tasks during SFT: the checkpoint kept is the one whose answers pass the most tasks.

Val loss alone picks the checkpoint that predicts the reference answers best, which is not the one
whose code runs: a model can lower its loss on comments and still never toggle a pin. At every
evaluation ``DevTaskCallback`` answers a few tasks of the task suite greedily (with the served
decoding settings, ``pipeline.common.decoding``) and has them judged; it adds to the evaluation's
metrics

* ``eval_dev_passed`` and ``eval_dev_pass_rate``;
* ``eval_selection`` = passed + 1 / (1 + val loss): more tasks passed wins, and at equal counts the
  lower val loss (the fraction is below 1, so it never outweighs one task). The Trainer keeps the
  best checkpoint and stops early by it (``metric_for_best_model``).

The tasks and their judge come from the evaluation layer above this one (``DevTasks``): answers are
run only in its sandbox, never here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from pipeline.common.prompt_format import cut_at_stop, format_prompt
from pipeline.train.generate import decoding_threads, greedy_batch

SELECTION_METRIC = "selection"  # the Trainer reads it as eval_selection


@dataclass(frozen=True)
class DevTasks:
    """Prompts and a judge of the answers to them (True: the answer's program passed its task)."""

    task_ids: tuple[str, ...]
    prompts: tuple[str, ...]
    judge: Callable[[list[str]], list[bool]]


def selection_score(passed: int, eval_loss: float) -> float:
    """Tasks passed first, then val loss: one number a larger value of which is a better checkpoint."""
    return passed + 1.0 / (1.0 + eval_loss)


def dev_metrics(history: list[dict], best_metric: float | None, kept_best: bool) -> dict:
    """The dev numbers of the exported weights: the best evaluation's when the best is kept, else the last."""
    evals = [entry for entry in history if f"eval_{SELECTION_METRIC}" in entry]
    if not evals:
        return {}
    chosen = evals[-1]
    if kept_best and best_metric is not None:
        chosen = next((e for e in evals if e[f"eval_{SELECTION_METRIC}"] == best_metric), chosen)
    return {
        "dev_passed": chosen["eval_dev_passed"],
        "dev_pass_rate": chosen["eval_dev_pass_rate"],
        "dev_tasks": chosen["eval_dev_tasks"],
        "dev_pass_rate_by_step": {e["step"]: e["eval_dev_pass_rate"] for e in evals},
    }


class DevTaskCallback(TrainerCallback):
    """Answer and judge the dev tasks at each evaluation; put the result into its metrics.

    Rank 0 answers and judges; under torchrun the count is broadcast, so every process keeps and
    stops at the same checkpoint. ``active`` is cleared before the run's final ``evaluate()`` of
    weights that were already judged at their own evaluation.
    """

    def __init__(
        self, dev: DevTasks, tokenizer, context: int, max_new_tokens: int, emit: Callable[[str], None] | None = None
    ):
        self.dev = dev
        self.tokenizer = tokenizer
        self.context = context
        self.max_new_tokens = max_new_tokens
        self.emit = emit or (lambda line: None)
        self.active = True
        self.seconds = 0.0  # wall time spent answering and judging, over the run

    def answers(self, model) -> list[str]:
        was_training, attention = model.training, model.config._attn_implementation
        model.eval()
        # Training's attention takes packed blocks only (pipeline.train.attention); generation needs sdpa.
        model.set_attn_implementation("sdpa")
        try:
            texts = [format_prompt(prompt) for prompt in self.dev.prompts]
            longest = max(len(self.tokenizer.encode(text)) for text in texts)
            budget = min(self.max_new_tokens, self.context - longest)
            # Prompts that leave no room get empty answers: they fail like any non-answer.
            if budget <= 0:
                return [""] * len(texts)
            with decoding_threads(model):
                answers = greedy_batch(model, self.tokenizer, texts, budget)
            return [cut_at_stop(answer) for answer in answers]
        finally:
            model.set_attn_implementation(attention)
            model.train(was_training)

    def on_evaluate(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, metrics=None, model=None, **kwargs
    ):
        if not self.active or metrics is None or "eval_loss" not in metrics:
            return
        started = time.perf_counter()
        passed = [sum(self.dev.judge(self.answers(model)))] if state.is_world_process_zero else [0]
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast_object_list(passed, src=0)
        self.seconds += time.perf_counter() - started
        count = len(self.dev.prompts)
        values = {
            "eval_dev_passed": passed[0],
            "eval_dev_tasks": count,
            "eval_dev_pass_rate": round(passed[0] / count, 4),
            f"eval_{SELECTION_METRIC}": selection_score(passed[0], metrics["eval_loss"]),
        }
        metrics.update(values)  # the dict the Trainer ranks checkpoints and early stopping by
        if state.log_history and "eval_loss" in state.log_history[-1]:
            state.log_history[-1].update(values)
        if state.is_world_process_zero:
            seconds = time.perf_counter() - started
            self.emit(f"step {state.global_step}: dev tasks passed {passed[0]}/{count} ({seconds:.1f} s)")
