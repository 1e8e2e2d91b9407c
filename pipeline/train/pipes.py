"""The trainer's one link to Dagster: a Pipes session and the callback that streams logs into it.

This is the only module of `pipeline/` that imports a Dagster package (`dagster_pipes`, the small
client-side library, not `dagster` itself); the import-linter contracts allow it here and nowhere
else. Outside Dagster, `open_dagster_pipes` finds no Pipes environment and its messages go nowhere.
"""

from __future__ import annotations

import contextlib
import json

from dagster_pipes import open_dagster_pipes
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments


def pipes_session(rank: int):
    """A Pipes context on rank 0; other ranks get None (they would duplicate every message)."""
    return open_dagster_pipes() if rank == 0 else contextlib.nullcontext(None)


class PipesLogCallback(TrainerCallback):
    """Stream every log entry to Dagster as one JSON line, at debug level: the human progress
    line (``callbacks.ProgressCallback``) is the info-level message of the same step."""

    def __init__(self, pipes):
        self.pipes = pipes

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if logs:
            self.pipes.log.debug(json.dumps({"step": state.global_step, **logs}, default=float))
