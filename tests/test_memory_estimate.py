"""The training-memory estimate (models.sizing) against memory measured on the CPU with the GPU's dtypes.

A dispatch mode sees every tensor the forward and backward passes create and when its storage
dies, so the peak of live activation bytes is measured exactly, op by op, on tiny models under bf16
autocast (what a GPU trains in) and in fp32. Activation bytes are linear in batch × seq_len and in
the layer count, which is how the estimate extrapolates from these shapes to 32 × 512 tokens.
"""

from __future__ import annotations

import weakref

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from models.presets import resolve_preset
from models.sizing import training_memory
from pipeline.train.attention import use_causal_attention
from pipeline.train.model import build_model


class LiveBytes(TorchDispatchMode):
    """Bytes of tensor storage created under the mode and still alive; their peak."""

    def __init__(self, known: set[int]):
        super().__init__()
        self.seen = set(known)  # storages made before (weights, gradients) are not activations
        self.live = self.peak = 0

    def _free(self, key: int, size: int) -> None:
        self.live -= size
        self.seen.discard(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                storage = tensor.untyped_storage()
                key, size = storage.data_ptr(), storage.nbytes()
                if size and key not in self.seen:
                    self.seen.add(key)
                    self.live += size
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(storage, self._free, key, size)  # fires when the storage itself dies
        return out


def measured_peak(family: str, overrides: dict, batch: int, seq_len: int, vocab: int, mixed: bool) -> int:
    torch.manual_seed(0)
    model = use_causal_attention(build_model(resolve_preset(family, "tiny", vocab, overrides)))
    for param in model.parameters():  # from the second step on, gradients exist and are added into
        param.grad = torch.zeros_like(param)
    known = {t.untyped_storage().data_ptr() for p in model.parameters() for t in (p, p.grad)}
    ids = torch.randint(7, vocab, (batch, seq_len))
    with LiveBytes(known) as mode:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
    return mode.peak


LLAMA = {"d_model": 256, "n_layers": 2, "n_heads": 4, "n_kv_heads": 1, "d_ff": 512}
GPT2 = {"d_model": 256, "n_layers": 2, "n_heads": 4, "d_ff": 1024}


# Real runs hold 8-32 thousand tokens a step, so activations dwarf the transient gradients of single
# weights; the shapes here keep tokens × width ahead of the largest weight too (d 512 needs 512 tokens).
@pytest.mark.parametrize(
    ("family", "overrides", "vocab", "batch", "seq_len"),
    [
        ("llama", LLAMA, 1024, 2, 64),
        ("llama", {**LLAMA, "n_layers": 3, "n_kv_heads": 2, "d_ff": 768}, 2048, 2, 64),
        ("gpt2", GPT2, 1024, 2, 64),
        ("gpt2", {**GPT2, "d_model": 512, "n_heads": 8}, 2048, 4, 128),
    ],
)
def test_mixed_precision_estimate_matches_the_measured_peak(family, overrides, vocab, batch, seq_len):
    preset = resolve_preset(family, "tiny", vocab, overrides)
    measured = measured_peak(family, overrides, batch, seq_len, vocab, mixed=True)
    estimate = training_memory(preset, batch, seq_len, mixed_precision=True).activations
    assert estimate == pytest.approx(measured, rel=0.03)


@pytest.mark.parametrize(("family", "overrides"), [("llama", LLAMA), ("gpt2", GPT2)])
def test_fp32_estimate_is_an_upper_bound(family, overrides):
    preset = resolve_preset(family, "tiny", 1024, overrides)
    measured = measured_peak(family, overrides, 2, 64, 1024, mixed=False)
    estimate = training_memory(preset, 2, 64, mixed_precision=False).activations
    assert measured <= estimate <= 1.3 * measured


def test_activations_grow_with_tokens_as_measured():
    """Doubling the batch adds what the per-token terms say: the extrapolation to 32 × 512 holds."""
    preset = resolve_preset("llama", "tiny", 1024, LLAMA)
    grown = measured_peak("llama", LLAMA, 4, 64, 1024, True) - measured_peak("llama", LLAMA, 2, 64, 1024, True)
    predicted = training_memory(preset, 4, 64, True).activations - training_memory(preset, 2, 64, True).activations
    assert grown == pytest.approx(predicted, rel=0.01)


def test_llama_80m_at_32x512_is_about_10_gib_not_7():
    preset = resolve_preset("llama", "80m", 8192)
    total = training_memory(preset, 32, 512, mixed_precision=True).total / 2**30
    assert 10.0 < total < 11.0  # the 16-bit-only estimate said 7.0: over a 12 GB card with a display
