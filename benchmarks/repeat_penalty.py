"""Which repetition penalty: greedy answers of one HF instruct checkpoint to the task suite, per penalty.

Usage:
    .venv/bin/python -m benchmarks.repeat_penalty MODEL_DIR [--tasks demo] [--penalties 1.0 1.1 1.3]
        [--max-new-tokens 128]

For each penalty (everything else as ``pipeline.common.decoding.DECODING``) it prints the tasks
passed on the simulated board, the answers whose code parses (CPython's ``ast``: the code is parsed,
never run outside the sandbox) and the answers that loop (``report.answer_checks``).
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import replace
from pathlib import Path

import torch

from pipeline.common.decoding import DECODING
from pipeline.common.prompt_format import cut_at_stop, format_prompt
from pipeline.evaluate.score import chosen_tasks, extract_code, judge
from pipeline.report.answer_checks import check_answer
from pipeline.train.generate import continuations, load_hf


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="an HF instruct checkpoint directory")
    parser.add_argument("--tasks", default="demo", help="task ids (glob) or 'demo'")
    parser.add_argument("--penalties", type=float, nargs="+", default=[1.0, 1.1, 1.3])
    parser.add_argument("--max-new-tokens", type=int, default=DECODING.max_new_tokens)
    args = parser.parse_args()
    torch.set_num_threads(1)  # a few short sequences: one thread is the fastest on a busy CPU
    model, tokenizer = load_hf(args.model)
    tasks = chosen_tasks(args.tasks)
    for penalty in args.penalties:
        decoding = replace(DECODING, repeat_penalty=penalty)
        budget = min(args.max_new_tokens, decoding.max_new_tokens)
        answers = [
            cut_at_stop(continuations(model, tokenizer, format_prompt(t.prompt), budget, decoding=decoding)[0])
            for t in tasks
        ]
        passed = sum(group[0].passed for group in judge(tasks, [[answer] for answer in answers]))
        codes = [extract_code(answer) for answer in answers]
        print(
            f"repeat_penalty {penalty}: passed {passed}/{len(tasks)}, code parses {sum(map(_parses, codes))}, "
            f"looping {sum(check_answer(code).looping for code in codes)}"
        )


if __name__ == "__main__":
    main()
