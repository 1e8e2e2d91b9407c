"""Tiny models that really answer: a 1-layer Llama trained (real torch, a few seconds on a CPU) until it
reproduces given answers to given prompts greedily, in HF and, written as GGUF, in llama.cpp.

A random-weight model answers nothing that runs, so a test that needs a model passing a task gets
one that learned the task's reference program by heart.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeline.common.prompt_format import EOS, split_pair
from tests.tiny_models import build_tiny_llama


def train_answering_model(out_dir: Path, pairs: list[tuple[str, str]], steps: int = 300, seed: int = 0) -> Path:
    """An HF model directory that answers each prompt of ``pairs`` with its answer (then ``<eos>``)."""
    out_dir = Path(out_dir)
    build_tiny_llama(out_dir, hidden=64, layers=1, heads=2, kv_heads=1, intermediate=256, context=512)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    model = AutoModelForCausalLM.from_pretrained(out_dir)
    texts = ["".join(split_pair(prompt, answer)) for prompt, answer in pairs]
    texts = [text if text.endswith(EOS) else text + EOS for text in texts]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.01:
            break
    model.eval()
    model.save_pretrained(out_dir)
    return out_dir
