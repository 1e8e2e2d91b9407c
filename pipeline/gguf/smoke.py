"""Does llama.cpp work on this machine? Build info plus one quantized GGUF generating tokens.

`smoke_test` writes a tiny random-weight llama model (the project's own tokenizer code, preset
and GGUF writer), quantizes it to Q4_K_M with llama.cpp and generates a few tokens from it. Both
llama.cpp steps run in child processes (`python -m pipeline.gguf.smoke GGUF`), so a binary built
for instructions the CPU refuses ends in a readable SIGILL message instead of killing the caller.
A random model is enough: the quantized kernels that fault are the same for any weights.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from pipeline.common.child import run_child
from pipeline.gguf.quantize import quantize
from pipeline.gguf.writer import write_gguf

SMOKE_VARIANT = "q4_k_m"
SMOKE_TOKENS = 8
SMOKE_TIMEOUT_S = 600
SMOKE_TEXTS = (
    "from machine import Pin\nimport time\nled = Pin(2, Pin.OUT)\nwhile True:\n    led.toggle()\n",
    "i2c = I2C(0, scl=Pin(22), sda=Pin(21))\nprint(i2c.scan())\n",
)


class SmokeTestError(RuntimeError):
    pass


def _tiny_model(out_dir: Path) -> Path:
    import torch

    from models.presets import resolve_preset
    from pipeline.tokens.tokenizer import TokenizerSettings, save_tokenizer, train_tokenizer
    from pipeline.train.model import build_model

    tokenizer = train_tokenizer(iter([list(SMOKE_TEXTS)]), TokenizerSettings(min_frequency=1))
    save_tokenizer(tokenizer, out_dir)
    torch.manual_seed(0)
    build_model(resolve_preset("llama", "tiny", vocab_size=tokenizer.get_vocab_size())).save_pretrained(out_dir)
    return out_dir


def smoke_test(workdir: Path | None = None) -> dict:
    """Quantize and run a tiny GGUF; returns llama.cpp's system info and what it generated."""
    with tempfile.TemporaryDirectory(prefix="mpyforge-smoke-", dir=workdir) as scratch:
        scratch = Path(scratch)
        model_dir = _tiny_model(scratch / "model")
        master = Path(write_gguf(model_dir, scratch / "tiny-f32.gguf")["path"])
        quantized = Path(quantize(master, scratch / f"tiny-{SMOKE_VARIANT}.gguf", SMOKE_VARIANT)["path"])
        failure = f"llama.cpp could not run a {SMOKE_VARIANT} GGUF"
        log = run_child("pipeline.gguf.smoke", [str(quantized)], SMOKE_TIMEOUT_S, SmokeTestError, failure)
    report = json.loads(log.strip().splitlines()[-1])
    if report["generated_tokens"] != SMOKE_TOKENS:
        raise SmokeTestError(f"{failure}: generated {report['generated_tokens']} of {SMOKE_TOKENS} tokens")
    return {"variant": SMOKE_VARIANT, **report}


def _run_in_this_process(gguf_path: str) -> None:
    import llama_cpp  # only in the child: a native crash stays here

    from pipeline.gguf.generate import greedy_tokens, load_llama, tokenize

    system_info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    llm = load_llama(Path(gguf_path), n_ctx=64)
    tokens, seconds = greedy_tokens(llm, tokenize(llm, SMOKE_TEXTS[0][:20]), SMOKE_TOKENS)
    report = {
        "system_info": system_info,
        "llama_cpp_python": llama_cpp.__version__,
        "generated_tokens": len(tokens),
        "seconds": round(seconds, 3),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    _run_in_this_process(sys.argv[1])
