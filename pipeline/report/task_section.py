"""The report card's "Does the code work?" section: the task-suite table (HF instruct and every GGUF
variant), and for three failing tasks the answer beside a timing picture against the reference."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.evaluate.sandbox import RunJob, run_many
from pipeline.evaluate.score import SCORES_FILE, scores_table
from pipeline.evaluate.timing import plot_timing
from pipeline.report.markdown import fenced

FAILURES_SHOWN = 3


def read_scores(scores_dir: Path) -> dict:
    path = Path(scores_dir) / SCORES_FILE
    if not path.is_file():
        raise ValueError(f"{path}: not found; materialize task_scores for this variant first")
    return json.loads(path.read_text())


def failure_pictures(summary: dict, out_dir: Path, workers: int | None = None) -> list[dict]:
    """Up to three failing tasks (greedy answer) of ``summary``: re-run answer and reference, draw both."""
    from pipeline.evaluate.tasks import all_tasks  # builds the suite

    tasks = {task.task_id: task for task in all_tasks()}
    failing = [row for row in summary["task_results"] if not row["greedy_passed"] and row["task_id"] in tasks]
    # One per family where possible: three blinks teach less than a blink, a PWM and an I2C task.
    chosen, families = [], set()
    for row in failing:
        if row["family"] not in families:
            chosen.append(row)
            families.add(row["family"])
    chosen = (chosen + [row for row in failing if row not in chosen])[:FAILURES_SHOWN]
    jobs = []
    for row in chosen:
        task = tasks[row["task_id"]]
        for source in (row["greedy"]["code"], task.reference):
            jobs.append(RunJob(source, board=task.board, seconds=task.seconds, world=task.world))
    runs = run_many(jobs, workers)
    shown = []
    for i, row in enumerate(chosen):
        task = tasks[row["task_id"]]
        picture = Path(out_dir) / f"timing-{i + 1}.png"
        title = f"{task.task_id}: {row['greedy']['reason']}"
        plot_timing(runs[2 * i], runs[2 * i + 1], task.seconds, picture, title, world=task.world)
        shown.append({"task_id": task.task_id, "prompt": task.prompt, "row": row, "picture": picture.name})
    return shown


def task_section(results: dict[str, dict], failures: list[dict], source_label: str, image) -> str:
    """Markdown; ``image(name)`` gives the link of a picture (a file name, or a data URI for the UI)."""
    if not results:
        return "## Does the code work? (task suite)\n\nNo model was scored on the task suite."
    first = next(iter(results.values()))
    k = first["samples"]
    sampled = f" and {k} times at temperature {first.get('temperature')} (pass@{k}: any of them passed)" if k else ""
    intro = (
        f"Each of {first['tasks']} maker requests answered once greedily (pass@1){sampled}; every answer's code "
        "ran in real MicroPython (WebAssembly port) on the task's simulated board and its hardware timeline was "
        "checked. Invented APIs: names the answer uses that the official stubs of the board's port do not have."
    )
    parts = ["## Does the code work? (task suite)", intro, scores_table(results)]
    if failures:
        parts.append(f"### Failing tasks ({source_label}, greedy answer beside the reference's timeline)")
    for shown in failures:
        row = shown["row"]
        greedy = row["greedy"]
        status = greedy["status"] + (f": {greedy['error']}" if greedy["error"] else "")
        parts.append(f"**{shown['task_id']}**: {shown['prompt']}  \nverdict: {greedy['reason']} (run {status})")
        # Blank lines a looping model pads its answer with would fill the page.
        parts.append(fenced(greedy["code"].rstrip().lstrip("\n") or "# (empty answer)"))
        parts.append(f"![timing of {shown['task_id']}]({image(shown['picture'])})")
    return "\n\n".join(parts)
