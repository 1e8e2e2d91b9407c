"""Greedy generation from a trained HF model directory (a quick check of a checkpoint;
served inference goes through GGUF/Ollama)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeline.common.prompt_format import BOS, EOS, PAD, SPECIAL_TOKEN_IDS, format_prompt


def greedy_continuation(model, tokenizer, text: str, max_new_tokens: int) -> str:
    """Greedy continuation of ``text`` (special tokens included as written), up to ``<eos>``."""
    input_ids = torch.tensor([tokenizer.encode(text)])
    with torch.no_grad():
        output = model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=SPECIAL_TOKEN_IDS[EOS],
            pad_token_id=SPECIAL_TOKEN_IDS[PAD],
        )
    new_ids = output[0, input_ids.shape[1] :].tolist()
    if SPECIAL_TOKEN_IDS[EOS] in new_ids:
        new_ids = new_ids[: new_ids.index(SPECIAL_TOKEN_IDS[EOS])]
    return tokenizer.decode(new_ids, skip_special_tokens=False)


def generate_hf(model_dir: Path, prompt: str, max_new_tokens: int = 128, instruct: bool = False) -> str:
    """Greedy continuation of ``prompt``, without the prompt, stopping at ``<eos>``.

    ``instruct`` wraps ``prompt`` as an instruction in the project's prompt format
    (``<bos><|user|>…<|assistant|>``); otherwise the prompt is raw text after ``<bos>``,
    the way pretraining documents start.
    """
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.eval()
    text = format_prompt(prompt) if instruct else BOS + prompt
    return greedy_continuation(model, tokenizer, text, max_new_tokens)
