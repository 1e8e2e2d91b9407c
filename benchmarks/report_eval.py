"""Cost of the report's generation evaluation, as ratios against load-once generation.

Usage:
    .venv/bin/python -m benchmarks.report_eval [--size 5m] [--pairs 8] [--tokens 48]

The report answers each val instruction with ``generate_hf`` and ``generate_gguf``,
which open the model on every call. The baselines, in the same run and on the same
prompts, open each model once and generate every answer from it. A third ratio
puts the scoring of the answers (mpy-cross, ``ast`` imports, chrF) against the
HF baseline, to show whether scoring matters next to generation. Models are
randomly initialised presets (decoding speed does not depend on the weights) with
the small test tokenizer; Q4_K_M comes from llama.cpp's quantizer.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.generate import PROMPTS as INSTRUCTIONS  # the same prompts as the speed benchmark
from benchmarks.generate import random_preset_model
from pipeline.common.prompt_format import EOS, PAD, SPECIAL_TOKEN_IDS, format_prompt, stop_sequences
from pipeline.gguf.generate import generate_gguf, load_llama, prompt_text, tokenize
from pipeline.gguf.quantize import quantize
from pipeline.gguf.writer import write_gguf
from pipeline.report.generation_eval import score_answers
from pipeline.train.generate import generate_hf

REPO_ROOT = Path(__file__).resolve().parents[1]

REFERENCE = (
    "from machine import Pin\nimport time\nled = Pin(2, Pin.OUT)\nwhile True:\n    led.toggle()\n    time.sleep(1)\n"
)


def hf_load_once(model_dir: Path, instructions: list[str], tokens: int) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    answers = []
    for instruction in instructions:
        ids = torch.tensor([tokenizer.encode(format_prompt(instruction))])
        with torch.no_grad():
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=tokens,
                do_sample=False,
                eos_token_id=SPECIAL_TOKEN_IDS[EOS],
                pad_token_id=SPECIAL_TOKEN_IDS[PAD],
            )
        answers.append(tokenizer.decode(out[0, ids.shape[1] :].tolist()))
    return answers


def gguf_load_once(gguf_path: Path, instructions: list[str], tokens: int) -> list[str]:
    llm = load_llama(gguf_path)
    answers = []
    for instruction in instructions:
        llm.reset()  # without it llama-cpp-python's prefix reuse between prompts slows decoding (gguf_generate)
        ids = tokenize(llm, prompt_text(instruction, instruct=True))
        answers.append(
            llm.create_completion(ids, max_tokens=tokens, temperature=0.0, stop=stop_sequences())["choices"][0]["text"]
        )
    llm.close()
    return answers


def timed(function, *args) -> tuple[float, list[str]]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="llama")
    parser.add_argument("--size", default="5m")
    parser.add_argument("--pairs", type=int, default=8, help="val instructions answered")
    parser.add_argument("--tokens", type=int, default=48, help="max new tokens per answer")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds; the best counts")
    args = parser.parse_args()
    instructions = [INSTRUCTIONS[i % len(INSTRUCTIONS)] for i in range(args.pairs)]

    with tempfile.TemporaryDirectory(prefix="bench-report-") as scratch:
        scratch = Path(scratch)
        model_dir = random_preset_model(args.family, args.size, scratch / "model")
        master = Path(write_gguf(model_dir, scratch / "f32.gguf")["path"])
        q4 = Path(quantize(master, scratch / "q4_k_m.gguf", "q4_k_m")["path"])
        hf_load_once(model_dir, instructions[:1], 4)  # warm-up: imports and first-call costs out of the timings
        runs = {
            "hf_once": lambda: [a.split(EOS)[0] for a in hf_load_once(model_dir, instructions, args.tokens)],
            "hf_each": lambda: [generate_hf(model_dir, i, args.tokens, instruct=True) for i in instructions],
            "gguf_once": lambda: gguf_load_once(q4, instructions, args.tokens),
            "gguf_each": lambda: [generate_gguf(q4, i, args.tokens, instruct=True) for i in instructions],
        }
        best: dict[str, float] = {}
        answers: dict[str, list[str]] = {}
        # Rounds alternate the four runs; the fastest round of each counts, so a
        # stall from other jobs on the shared machine does not land on one side only.
        for _ in range(args.rounds):
            for name, run in runs.items():
                seconds, answers[name] = timed(run)
                best[name] = min(seconds, best.get(name, seconds))
        for engine in ("hf", "gguf"):
            if answers[f"{engine}_once"] != answers[f"{engine}_each"]:
                raise RuntimeError(
                    f"{engine}: load-once and per-answer outputs differ; the timings would compare different work"
                )
        t_score, _ = timed(score_answers, answers["hf_each"], [REFERENCE] * len(instructions), "armv7m")

    t_hf_once, t_hf_each, t_gguf_once, t_gguf_each = (best[k] for k in runs)
    print(
        f"{args.family}-{args.size} (random weights), {args.pairs} instructions, <= {args.tokens} new tokens, "
        f"greedy, best of {args.rounds} rounds"
    )
    print("| engine | load once (baseline) | load per answer (report) | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| HF | {t_hf_once:.2f} s | {t_hf_each:.2f} s | {t_hf_each / t_hf_once:.2f}x |")
    print(f"| llama.cpp Q4_K_M | {t_gguf_once:.2f} s | {t_gguf_each:.2f} s | {t_gguf_each / t_gguf_once:.2f}x |")
    print(
        f"scoring {len(instructions)} answers: {t_score:.2f} s = {t_score / t_hf_once:.3f}x the HF baseline generation"
    )


if __name__ == "__main__":
    main()
