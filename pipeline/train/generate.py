"""Greedy generation from a trained HF model directory (a quick check of a checkpoint;
served inference goes through GGUF/Ollama)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeline.common.decoding import DECODING, DecodingSettings
from pipeline.common.prompt_format import BOS, EOS, PAD, SPECIAL_TOKEN_IDS, format_prompt


@contextmanager
def decoding_threads(model) -> Iterator[None]:
    """One CPU thread while ``model`` decodes, the caller's count again after.

    Decoding one or a few sequences is a chain of tiny matmuls: on 2 busy cores OpenMP's hand-offs
    between threads made it 18 times slower than one thread (14 s against 0.8 s for 2 x 32 tokens).
    A model on a GPU is left alone.
    """
    threads = torch.get_num_threads()
    if model.device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def hf_generate_kwargs(decoding: DecodingSettings, max_new_tokens: int, temperature: float | None = None) -> dict:
    """``model.generate`` arguments for ``decoding`` (``temperature`` overrides its temperature: pass@k samples).

    HF stops at the ``<eos>`` id only; the other stop strings are cut afterwards (``cut_at_stop``).
    """
    temperature = decoding.temperature if temperature is None else temperature
    sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": decoding.top_p}
    return {
        "max_new_tokens": min(max_new_tokens, decoding.max_new_tokens),
        "repetition_penalty": decoding.repeat_penalty,
        "eos_token_id": SPECIAL_TOKEN_IDS[EOS],
        "pad_token_id": SPECIAL_TOKEN_IDS[PAD],
        **(sampling if temperature > 0 else {"do_sample": False}),
    }


def continuations(
    model,
    tokenizer,
    text: str,
    max_new_tokens: int,
    temperature: float | None = None,
    n: int = 1,
    seed: int = 0,
    decoding: DecodingSettings = DECODING,
) -> list[str]:
    """``n`` continuations of ``text`` (special tokens included as written), each up to ``<eos>``.

    Temperature 0 is greedy (``n`` identical answers); above it, ``n`` samples drawn with ``seed``.
    ``temperature`` None is ``decoding``'s.
    """
    input_ids = torch.tensor([tokenizer.encode(text)], device=model.device)
    torch.manual_seed(seed)
    with torch.no_grad():
        output = model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            num_return_sequences=n,
            **hf_generate_kwargs(decoding, max_new_tokens, temperature),
        )
    return [_up_to_eos(tokenizer, row) for row in output[:, input_ids.shape[1] :].tolist()]


def greedy_batch(model, tokenizer, texts: list[str], max_new_tokens: int, decoding: DecodingSettings = DECODING):
    """Greedy continuations of several ``texts`` in one ``generate`` call (left-padded, masked), each
    up to ``<eos>``; ``max_new_tokens`` must leave room after the longest text. One call instead of one
    per text: a small model's generation is dominated by the per-token overhead, not the batch."""
    ids = [tokenizer.encode(text) for text in texts]
    longest = max(map(len, ids))
    pad = SPECIAL_TOKEN_IDS[PAD]
    input_ids = torch.tensor([[pad] * (longest - len(row)) + row for row in ids], device=model.device)
    mask = torch.tensor([[0] * (longest - len(row)) + [1] * len(row) for row in ids], device=model.device)
    with torch.no_grad():
        output = model.generate(
            input_ids, attention_mask=mask, **hf_generate_kwargs(decoding, max_new_tokens, temperature=0.0)
        )
    return [_up_to_eos(tokenizer, row) for row in output[:, longest:].tolist()]


def _up_to_eos(tokenizer, row: list[int]) -> str:
    if SPECIAL_TOKEN_IDS[EOS] in row:
        row = row[: row.index(SPECIAL_TOKEN_IDS[EOS])]
    return tokenizer.decode(row, skip_special_tokens=False)


def greedy_continuation(model, tokenizer, text: str, max_new_tokens: int) -> str:
    """Greedy continuation of ``text`` (special tokens included as written), up to ``<eos>``."""
    return continuations(model, tokenizer, text, max_new_tokens, temperature=0.0)[0]


def load_hf(model_dir: Path):
    """``(model, tokenizer)`` of a trained HF model directory, ready for generation."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.eval()
    return model, tokenizer


def generate_hf(model_dir: Path, prompt: str, max_new_tokens: int = 128, instruct: bool = False) -> str:
    """Greedy continuation of ``prompt``, without the prompt, stopping at ``<eos>``.

    ``instruct`` wraps ``prompt`` as an instruction in the project's prompt format
    (``<bos><|user|>…<|assistant|>``); otherwise the prompt is raw text after ``<bos>``,
    the way pretraining documents start.
    """
    model, tokenizer = load_hf(model_dir)
    text = format_prompt(prompt) if instruct else BOS + prompt
    return greedy_continuation(model, tokenizer, text, max_new_tokens)
