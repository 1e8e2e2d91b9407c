"""Wall time of the task suite for one model: answers per second and VM runs per second.

Usage:
    .venv/bin/python -m benchmarks.task_eval [--model PATH] [--tasks demo] [--samples 5] [--size tiny]

``score_model`` answers every chosen task (greedy + samples), runs the answers on the simulated
boards and checks them; its two phases are timed separately. VM runs per second are measured
on the tasks' reference programs (real programs that run their whole simulated time, unlike a
weak model's answers, which mostly stop at a SyntaxError). Without ``--model`` the model is a
random-weight preset written as an F16 GGUF (decoding speed does not depend on the weights; its
answers run to the token limit, the slow case for generation).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.generate import random_preset_model
from pipeline.evaluate.sandbox import RunJob, run_many
from pipeline.evaluate.score import ScoreSettings, chosen_tasks, score_model
from pipeline.gguf.writer import write_gguf

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="HF checkpoint dir or GGUF (default: random preset)")
    parser.add_argument("--size", default="tiny", help="preset size of the random model (default tiny)")
    parser.add_argument("--tasks", default="demo", help="task ids (glob) or 'demo' (default)")
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()

    tasks = chosen_tasks(args.tasks)
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model
        if model is None:
            model_dir = random_preset_model("llama", args.size, Path(scratch) / "hf")
            model = Path(write_gguf(model_dir, Path(scratch) / "model-f16.gguf", dtype="f16")["path"])
        summary = score_model(model, ScoreSettings(tasks=args.tasks, samples=args.samples), tasks=tasks)

    jobs = [RunJob(t.reference, board=t.board, seconds=t.seconds, world=t.world) for t in tasks]
    start = time.perf_counter()
    runs = run_many(jobs, workers)
    reference_s = time.perf_counter() - start
    simulated_s = sum(t.seconds for t in tasks)

    answers = summary["answers"]
    label = args.model or f"random llama-{args.size} F16 GGUF"
    print(f"model: {label}; {len(tasks)} tasks ({args.tasks}), {args.samples} samples each; {workers} workers")
    print(
        f"answers: {answers} in {summary['answer_s']:.1f} s = {answers / summary['answer_s']:.2f} answers/s; "
        f"their runs and checks: {summary['run_s']:.1f} s = {answers / summary['run_s']:.2f} answers/s"
    )
    print(
        f"reference programs: {len(runs)} runs in {reference_s:.1f} s = {len(runs) / reference_s:.2f} VM runs/s "
        f"({simulated_s:.0f} simulated s; {sum(r.status == 'ok' for r in runs)} ok)"
    )
    total = summary["answer_s"] + summary["run_s"]
    print(
        f"suite wall time for this model: {total:.1f} s (pass@1 {summary['pass_at_1']}, pass@k {summary['pass_at_k']})"
    )


if __name__ == "__main__":
    main()
