"""HF greedy answers on the CPU: all of torch's threads against one (``decoding_threads``), same run.

Usage:
    .venv/bin/python -m benchmarks.decode_threads [--size 5m] [--tokens 128] [--rounds 3]

A random-weight llama preset (decoding speed does not depend on the weights) answers the prompts of
``benchmarks.generate`` to a fixed number of new tokens, the way ``score.py``'s HF path does: one
prompt at a time. Rounds alternate the two settings, so a stall on a shared machine does not land on
one setting only; each round prints seconds per answer for both and their ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.generate import PROMPTS, random_preset_model
from pipeline.common.prompt_format import format_prompt


def seconds_per_answer(model, tokenizer, tokens: int) -> float:
    import torch

    started = time.perf_counter()
    for prompt in PROMPTS:
        ids = torch.tensor([tokenizer.encode(format_prompt(prompt))])
        with torch.no_grad():
            model.generate(ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, pad_token_id=0)
    return (time.perf_counter() - started) / len(PROMPTS)


def main() -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pipeline.train.generate import decoding_threads

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="5m")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = random_preset_model("llama", args.size, Path(scratch))
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        print(f"llama-{args.size}, {args.tokens} new tokens, torch threads {torch.get_num_threads()}")
        for round_ in range(1, args.rounds + 1):
            every = seconds_per_answer(model, tokenizer, args.tokens)
            with decoding_threads(model):
                one = seconds_per_answer(model, tokenizer, args.tokens)
            ratio = every / one
            print(f"round {round_}: all threads {every:.2f} s/answer, one thread {one:.2f} s/answer, ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
