"""Generation speed: llama.cpp (GGUF F32 and Q4_K_M) vs HF ``generate``, same run, same prompts.

Usage:
    .venv/bin/python benchmarks/generate.py [--family llama gpt2] [--size 25m] [--tokens 64]
    .venv/bin/python benchmarks/generate.py --model-dir path/to/trained_hf_dir

Without ``--model-dir`` a randomly initialised model of the project preset is
built (random weights decode exactly as fast as trained ones). Both engines get
the same thread count, greedy decoding and a fixed number of new tokens, so the
ratio compares engines, not stopping behaviour. llama.cpp runs in its own
process, as it does in production (Ollama), so torch's thread pools and ggml's
do not compete inside one process. Rounds alternate HF → F32 → Q4_K_M and the
median per-prompt speed is reported, so stalls on a shared machine do not land
on one engine only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.common.child import child_env
from pipeline.common.prompt_format import format_prompt
from pipeline.gguf.generate import greedy_tokens, load_llama, tokenize
from pipeline.gguf.quantize import quantize
from pipeline.gguf.writer import write_gguf

REPO_ROOT = Path(__file__).resolve().parents[1]

PROMPTS = [
    "Blink the LED on pin 2 every second.",
    "Read a temperature from a DS18B20 sensor on pin 4.",
    "Scan the I2C bus and print every address.",
    "Connect to Wi-Fi and print the IP address.",
]


def hf_speeds(model, tokenizer, prompts: list[str], n_tokens: int) -> list[float]:
    import torch

    speeds = []
    for prompt in prompts:
        ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=n_tokens, min_new_tokens=n_tokens, do_sample=False, pad_token_id=0)
        speeds.append((out.shape[1] - ids.shape[1]) / (time.perf_counter() - start))
    return speeds


def llama_cpp_speeds_here(gguf_path: Path, prompts: list[str], n_tokens: int, threads: int) -> list[float]:
    llm = load_llama(gguf_path, n_threads=threads)
    ids = [tokenize(llm, prompt) for prompt in prompts]
    greedy_tokens(llm, ids[0], n_tokens)  # warm-up
    speeds = []
    for prompt_ids in ids:
        tokens, seconds = greedy_tokens(llm, prompt_ids, n_tokens)
        speeds.append(len(tokens) / seconds)
    llm.close()
    return speeds


def llama_cpp_speeds(gguf_path: Path, prompts: list[str], n_tokens: int, threads: int) -> list[float]:
    """Per-prompt tok/s measured by a child process of this script."""
    request = json.dumps({"gguf": str(gguf_path), "prompts": prompts, "tokens": n_tokens, "threads": threads})
    done = subprocess.run(
        [sys.executable, __file__, "--child", request], capture_output=True, text=True, env=child_env(), check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def random_preset_model(family: str, size: str, out_dir: Path) -> Path:
    """A random-weight model of a project preset with the tokenizer stage's own BPE, trained on
    the bundled sources (random weights decode exactly as fast as trained ones)."""
    import torch

    from models.presets import resolve_preset
    from pipeline.tokens.tokenizer import TokenizerSettings, save_tokenizer, train_tokenizer
    from pipeline.train.model import build_model

    texts = [path.read_text() for path in sorted((REPO_ROOT / "data" / "sources").rglob("*.py"))]
    tokenizer = train_tokenizer(iter([texts]), TokenizerSettings(vocab_size=4096, min_frequency=1))
    save_tokenizer(tokenizer, out_dir)
    torch.manual_seed(0)
    build_model(resolve_preset(family, size, vocab_size=tokenizer.get_vocab_size())).save_pretrained(out_dir)
    return out_dir


def run(model_dir: Path, label: str, args: argparse.Namespace, scratch: Path) -> str:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts = [format_prompt(p) for p in PROMPTS]
    master = Path(write_gguf(model_dir, scratch / f"{label}-f32.gguf")["path"])
    q4 = Path(quantize(master, scratch / f"{label}-q4_k_m.gguf", "q4_k_m")["path"])
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    hf_speeds(model, tokenizer, prompts[:1], args.tokens)  # warm-up
    speeds: dict[str, list[float]] = {"hf": [], "f32": [], "q4": []}
    for _ in range(args.rounds):
        speeds["hf"] += hf_speeds(model, tokenizer, prompts, args.tokens)
        speeds["f32"] += llama_cpp_speeds(master, prompts, args.tokens, args.threads)
        speeds["q4"] += llama_cpp_speeds(q4, prompts, args.tokens, args.threads)
    hf, f32, q4_speed = (statistics.median(speeds[k]) for k in ("hf", "f32", "q4"))
    return f"| {label} | {hf:.1f} | {f32:.1f} | {q4_speed:.1f} | {f32 / hf:.2f}× | **{q4_speed / hf:.2f}×** |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, help="trained HF model directory (default: random preset)")
    parser.add_argument("--family", nargs="+", default=["llama", "gpt2"])
    parser.add_argument("--size", default="25m")
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per prompt")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both engines")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the prompts")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: llama.cpp measurement process
    args = parser.parse_args()
    if args.child:
        request = json.loads(args.child)
        print(
            json.dumps(
                llama_cpp_speeds_here(Path(request["gguf"]), request["prompts"], request["tokens"], request["threads"])
            )
        )
        return

    import torch

    torch.set_num_threads(args.threads)
    rows = [
        "| model | HF generate tok/s | llama.cpp F32 tok/s | llama.cpp Q4_K_M tok/s | F32/HF | Q4_K_M/HF |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as scratch:
        scratch = Path(scratch)
        if args.model_dir:
            rows.append(run(args.model_dir, args.model_dir.name, args, scratch))
        for family in [] if args.model_dir else args.family:
            model_dir = random_preset_model(family, args.size, scratch / family)
            rows.append(run(model_dir, f"{family}-{args.size} (random)", args, scratch))
    print(f"threads={args.threads}, {args.rounds} rounds x {len(PROMPTS)} prompts x {args.tokens} new tokens, greedy")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
