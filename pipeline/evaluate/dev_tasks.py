"""The dev tasks an SFT run keeps its checkpoint by, and the SFT trainer that answers them::

    python -m pipeline.evaluate.dev_tasks SETTINGS.json   # pipeline.train.run with the dev tasks

Training cannot import the task suite or the sandbox (they sit in this later stage), so the trainer
gets them from here as ``DevTasks``: prompts, and a judge that runs each answer on its task's
simulated board (``score.judge`` through ``sandbox.run_many``: model code runs nowhere else).

Which tasks: families in the suite's order, and of each the second phrasing (``/p1``) of its first
case that the demo does not score (``DEMO_TASK_IDS``), the boards taken in turn (family i starts with
``BOARDS[i % 3]``); then each family's next such case, and so on, until ``TrainSettings.dev_tasks``.
So no dev task is, or shares a case with, a task of the demo's report card; the whole suite
(``task_scores`` with ``tasks: "*"``) holds every task, these included.

Without Node or the MicroPython VM the run goes on judged by val loss alone, after one warning.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import chain, zip_longest

from pipeline.evaluate.sandbox import BOARDS, SandboxError, self_check
from pipeline.evaluate.score import judge
from pipeline.evaluate.tasks import DEMO_TASK_IDS, Task, all_tasks
from pipeline.train import run
from pipeline.train.dev_eval import DevTasks
from pipeline.train.settings import TrainSettings

DEV_PHRASING = "p1"


def _case(task_id: str) -> str:
    return task_id.rsplit("/", 1)[0]


def choose_dev_tasks(count: int) -> list[Task]:
    """``count`` dev tasks (fewer if the suite has fewer), the same ones on every run."""
    demo_cases = {_case(task_id) for task_id in DEMO_TASK_IDS}
    by_family: dict[str, list[Task]] = {}
    for task in all_tasks():
        if task.task_id.endswith(f"/{DEV_PHRASING}") and _case(task.task_id) not in demo_cases:
            by_family.setdefault(task.family, []).append(task)
    for i, tasks in enumerate(by_family.values()):
        first_board = BOARDS[i % len(BOARDS)]
        tasks.sort(key=lambda task, board=first_board: task.board != board)  # stable: else suite order
    in_turn = chain.from_iterable(zip_longest(*by_family.values()))
    return [task for task in in_turn if task is not None][:count]


def sandbox_problem() -> str | None:
    """Why the sandbox cannot run a program here (no Node, an old one, no VM, reads denied), or None."""
    try:
        self_check()
    except SandboxError as err:
        return str(err)
    return None


def dev_tasks_for(settings: TrainSettings, warn: Callable[[str], None]) -> DevTasks | None:
    """The ``DevTasks`` of an SFT run, or None (turned off, or no sandbox: ``warn`` says so once)."""
    if settings.dev_tasks == 0:
        return None
    problem = sandbox_problem()
    if problem is not None:
        warn(f"WARNING: dev tasks off, the checkpoint is kept by val loss alone: {problem}")
        return None
    tasks = choose_dev_tasks(settings.dev_tasks)

    def passed(answers: list[str]) -> list[bool]:
        return [group[0].passed for group in judge(tasks, [[answer] for answer in answers])]

    return DevTasks(tuple(t.task_id for t in tasks), tuple(t.prompt for t in tasks), passed)


if __name__ == "__main__":
    sys.exit(run.main(dev_tasks=dev_tasks_for))
