"""Check a GGUF variant in llama.cpp against the HF checkpoint it came from.

The HF side (tokenizer ids, reference logits) runs here in PyTorch; the
llama.cpp side runs in a child process (``python -m pipeline.gguf.verify``) so a
native abort is reported instead of killing the run, and torch and ggml do not
share one process. Both sides score the same token windows: each window starts
with ``<bos>`` (as every rendered document does) followed by consecutive
validation tokens, never longer than the model's context.

Bounds on the mean KL(HF || llama.cpp) per position: F32 must agree to 1e-4
(measured ~5e-7 on tiny random models; a missing q/k permutation gives ~0.5 and
a missing Conv1D transpose ~8, export notes §10.2); F16 to 1e-3 (measured
~1e-5). Quantized variants are judged by ΔPPL instead; their KL is reported.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from pipeline.common.child import run_child
from pipeline.common.prompt_format import BOS, format_prompt
from pipeline.common.text_metrics import perplexity
from pipeline.gguf.summary import tensor_summary

KL_BOUNDS = {"F32": 1e-4, "F16": 1e-3}
SAMPLE_INSTRUCTION = "Blink the LED on pin 2 every second."
VERIFY_TIMEOUT_S = 1800


class VerificationError(RuntimeError):
    pass


def make_windows(stream: list[int], bos_id: int, length: int, max_windows: int) -> list[list[int]]:
    """Non-overlapping ``[bos] + stream[i : i + length - 1]`` windows (a short last one dropped)."""
    if length < 2:
        raise ValueError(f"window length {length} leaves nothing to predict")
    step = length - 1
    windows = [[bos_id, *stream[i : i + step]] for i in range(0, len(stream) - step + 1, step)]
    return windows[:max_windows]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def window_perplexity(windows: list[list[int]], logits: list[np.ndarray]) -> float:
    """exp(mean NLL of each next token) over all positions of all windows."""
    nll = [
        -log_softmax(window_logits[:-1])[np.arange(len(ids) - 1), ids[1:]]
        for ids, window_logits in zip(windows, logits)
    ]
    return perplexity(float(np.concatenate(nll).mean()))


def compare_logits(reference: list[np.ndarray], candidate: list[np.ndarray]) -> dict:
    ref = log_softmax(np.concatenate(reference))
    cand = log_softmax(np.concatenate(candidate))
    kl = (np.exp(ref) * (ref - cand)).sum(axis=-1)
    return {
        "kl_vs_hf": float(kl.mean()),
        "top1_agreement": float((ref.argmax(-1) == cand.argmax(-1)).mean()),
        "max_abs_dlogit": float(np.abs(np.concatenate(reference) - np.concatenate(candidate)).max()),
    }


def hf_reference(hf_model_dir: Path, texts: list[str], window: int, max_windows: int):
    """HF token ids per text, the scoring windows and the HF logits on them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pipeline.gguf.writer import trained_context
    from pipeline.train.model import context_length

    tokenizer = AutoTokenizer.from_pretrained(hf_model_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_model_dir, dtype=torch.float32).eval()
    text_ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    context = trained_context(hf_model_dir, context_length(model.config))  # what the GGUF declares
    stream = [token for ids in text_ids for token in ids]
    windows = make_windows(stream, tokenizer.convert_tokens_to_ids(BOS), min(window, context), max_windows)
    if not windows:
        raise ValueError(f"validation texts give {len(stream)} tokens, too few for one {window}-token window")
    with torch.no_grad():
        logits = [model(torch.tensor([ids])).logits[0].numpy() for ids in windows]
    return text_ids, windows, logits


def _run_llama_cpp(gguf_path: Path, request: dict, work: Path) -> tuple[dict, list[np.ndarray]]:
    (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
    failure = f"{gguf_path}: llama.cpp could not load/run it"
    log = run_child("pipeline.gguf.verify", [str(gguf_path), str(work)], VERIFY_TIMEOUT_S, VerificationError, failure)
    if not (work / "result.json").is_file():
        raise VerificationError(f"{failure}: no result written:\n{log[-3000:]}")
    result = json.loads((work / "result.json").read_text(encoding="utf-8"))
    with np.load(work / "logits.npz") as stored:
        logits = [stored[f"w{i}"] for i in range(len(request["windows"]))]
    return result, logits


def verify_variant(
    gguf_path: Path,
    hf_model_dir: Path,
    texts: list[str],
    reference_ppl: float | None = None,
    window: int = 128,
    max_windows: int = 8,
    gen_tokens: int = 32,
) -> dict:
    """One row of the variant table: size, bits/weight, PPL, ΔPPL%, tok/s, parity and a sample."""
    gguf_path, hf_model_dir = Path(gguf_path), Path(hf_model_dir)
    if not texts:
        raise ValueError("verify_variant needs at least one validation text")
    text_ids, windows, hf_logits = hf_reference(hf_model_dir, texts, window, max_windows)
    request = {
        "texts": texts,
        "windows": windows,
        "gen_tokens": gen_tokens,
        "prompt": format_prompt(SAMPLE_INSTRUCTION),
    }
    with tempfile.TemporaryDirectory(prefix="gguf-verify-") as work:
        result, gguf_logits = _run_llama_cpp(gguf_path, request, Path(work))
    matching = sum(a == b for a, b in zip(result["text_ids"], text_ids))
    summary = tensor_summary(gguf_path)
    ppl = window_perplexity(windows, gguf_logits)
    row = {
        "variant": gguf_path.stem.removeprefix("model-"),
        "file": gguf_path.name,
        "size_mb": round(summary["size_bytes"] / 1e6, 3),
        **summary,
        "ppl": ppl,
        "hf_ppl": window_perplexity(windows, hf_logits),
        "delta_ppl_pct": None if reference_ppl is None else 100.0 * (ppl - reference_ppl) / reference_ppl,
        "tok_per_s": result["tok_per_s"],
        "tokenizer_parity": matching / len(texts),
        "n_windows": len(windows),
        "sample": result["sample"],
        **compare_logits(hf_logits, gguf_logits),
    }
    row["failures"] = _failures(row)
    return row


def _failures(row: dict) -> list[str]:
    """Checks a variant must pass: exact tokenization, and logit parity for unquantized files."""
    failures = []
    if row["tokenizer_parity"] < 1.0:
        failures.append(f"tokenizer parity {row['tokenizer_parity']:.1%} (llama.cpp ids differ from HF)")
    weight_types = set(row["tensor_types"]) - {"F32"}  # F32 norms/biases are in every file
    float_type = "F32" if not weight_types else ("F16" if weight_types == {"F16"} else None)
    if float_type and row["kl_vs_hf"] >= KL_BOUNDS[float_type]:
        failures.append(f"{float_type} logits differ from HF: KL {row['kl_vs_hf']:.3g} >= {KL_BOUNDS[float_type]:g}")
    return failures


def _probe_in_this_process(gguf_path: str, work: Path) -> None:
    """Child side: tokenize, score the windows, time greedy generation; results to ``work``."""
    from pipeline.gguf.generate import greedy_tokens, load_llama, tokenize

    request = json.loads((work / "request.json").read_text(encoding="utf-8"))
    llm = load_llama(Path(gguf_path), logits_all=True)
    text_ids = [tokenize(llm, text) for text in request["texts"]]
    logits = {}
    for i, ids in enumerate(request["windows"]):
        llm.reset()
        llm.eval(ids)
        logits[f"w{i}"] = np.array(llm.scores[: len(ids)], dtype=np.float32)
    produced, seconds = greedy_tokens(llm, tokenize(llm, request["prompt"]), request["gen_tokens"])
    sample = llm.detokenize(produced, special=True).decode("utf-8", errors="replace")
    llm.close()
    np.savez(work / "logits.npz", **logits)
    result = {"text_ids": text_ids, "tok_per_s": len(produced) / seconds, "sample": sample}
    (work / "result.json").write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    _probe_in_this_process(sys.argv[1], Path(sys.argv[2]))
