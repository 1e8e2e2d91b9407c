"""The dev tasks SFT keeps its checkpoint by: which tasks, their sandbox judge, and without a VM."""

from __future__ import annotations

from pipeline.evaluate.dev_tasks import DEV_PHRASING, choose_dev_tasks, dev_tasks_for
from pipeline.evaluate.tasks import DEMO_TASK_IDS
from pipeline.train.dev_eval import dev_metrics, selection_score
from pipeline.train.settings import TrainSettings


def _case(task_id: str) -> str:
    return task_id.rsplit("/", 1)[0]


def test_dev_tasks_are_fixed_varied_and_never_a_demo_case():
    chosen = choose_dev_tasks(8)
    assert [t.task_id for t in chosen] == [t.task_id for t in choose_dev_tasks(8)]
    assert len({t.family for t in chosen}) == 8 and len({t.board for t in chosen}) == 3
    assert all(t.task_id.endswith(f"/{DEV_PHRASING}") for t in chosen)
    assert not {_case(t.task_id) for t in chosen} & {_case(task_id) for task_id in DEMO_TASK_IDS}
    # More than there are families: each family's next case follows, still no demo case.
    many = choose_dev_tasks(40)
    assert len(many) == 40 and len({t.task_id for t in many}) == 40 and many[:8] == chosen


def test_the_judge_runs_answers_on_the_simulated_board():
    warnings: list[str] = []
    dev = dev_tasks_for(TrainSettings(dev_tasks=3), warnings.append)
    assert dev is not None and not warnings and len(dev.prompts) == 3
    tasks = choose_dev_tasks(3)
    assert dev.judge([t.reference for t in tasks]) == [True, True, True]
    assert dev.judge([t.wrong[0][1] for t in tasks]) == [False, False, False]
    # A fenced answer is judged by its code, as the task suite scores it.
    assert dev.judge([f"Here you go:\n```python\n{tasks[0].reference}```\n", "", "import machine\n"]) == [
        True,
        False,
        False,
    ]


def test_without_the_vm_the_run_is_judged_by_val_loss_after_one_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("MPYFORGE_MICROPYTHON_VM", str(tmp_path / "no-vm"))
    warnings: list[str] = []
    assert dev_tasks_for(TrainSettings(dev_tasks=4), warnings.append) is None
    assert len(warnings) == 1 and warnings[0].startswith("WARNING: dev tasks off") and "no-vm" in warnings[0]
    assert dev_tasks_for(TrainSettings(dev_tasks=0), warnings.append) is None and len(warnings) == 1


def test_selection_ranks_tasks_passed_first_then_val_loss():
    assert selection_score(1, 9.0) > selection_score(0, 0.01)
    assert selection_score(2, 1.0) > selection_score(2, 1.5) > selection_score(1, 0.0)
    history = [
        {"step": 5, "eval_loss": 2.0, "eval_dev_passed": 1, "eval_dev_tasks": 4, "eval_dev_pass_rate": 0.25},
        {"step": 10, "eval_loss": 1.5, "eval_dev_passed": 0, "eval_dev_tasks": 4, "eval_dev_pass_rate": 0.0},
    ]
    for entry in history:
        entry["eval_selection"] = selection_score(entry["eval_dev_passed"], entry["eval_loss"])
    kept = dev_metrics(history, best_metric=history[0]["eval_selection"], kept_best=True)
    assert kept["dev_passed"] == 1 and kept["dev_pass_rate_by_step"] == {5: 0.25, 10: 0.0}
    assert dev_metrics(history, best_metric=history[0]["eval_selection"], kept_best=False)["dev_passed"] == 0
    assert dev_metrics([{"step": 5, "eval_loss": 2.0}], None, True) == {}
