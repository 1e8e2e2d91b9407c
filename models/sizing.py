"""Parameter counts, FLOPs per token and a training-memory estimate for a preset.

The counts are exact for the HF models that ``pipeline.train.model`` makes (a test checks
them against ``model.num_parameters()``), so a config can be sized and refused before
any tensor is allocated.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.presets import ModelPreset, PresetError


def _layer_params(p: ModelPreset) -> int:
    d, ff, kv = p.d_model, p.d_ff, p.n_kv_heads * p.head_dim
    if p.family == "gpt2":
        attention = d * 3 * d + 3 * d + d * d + d  # fused qkv + output projection, with biases
        mlp = d * ff + ff + ff * d + d
        norms = 2 * 2 * d  # two LayerNorms, weight and bias
    else:
        attention = d * d + 2 * d * kv + d * d  # q, k, v (GQA), o; no biases
        mlp = 3 * d * ff  # gate, up, down
        norms = 2 * d  # two RMSNorms, weight only
    return attention + mlp + norms


def parameter_count(p: ModelPreset) -> int:
    """Total trainable parameters (tied head counted once)."""
    embeddings = p.vocab_size * p.d_model
    positions = p.context * p.d_model if p.family == "gpt2" else 0
    final_norm = 2 * p.d_model if p.family == "gpt2" else p.d_model
    head = 0 if p.tie_embeddings else p.vocab_size * p.d_model
    return embeddings + positions + p.n_layers * _layer_params(p) + final_norm + head


def flops_parameter_count(p: ModelPreset) -> int:
    """Parameters that take part in a matmul per token: all but the position table.

    The token embedding stays in because, tied, it is also the output projection
    (the convention of nanoGPT's ``estimate_mfu`` and PaLM appendix B).
    """
    positions = p.context * p.d_model if p.family == "gpt2" else 0
    return parameter_count(p) - positions


def flops_per_token(p: ModelPreset, seq_len: int) -> int:
    """Training FLOPs per token: 6·N for the matmuls plus 12·L·d·T for attention scores (PaLM B)."""
    return 6 * flops_parameter_count(p) + 12 * p.n_layers * p.d_model * seq_len


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    gradients: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations


def training_memory(p: ModelPreset, batch_size: int, seq_len: int, mixed_precision: bool) -> MemoryEstimate:
    """Bytes needed to train: fp32 weights, grads, two AdamW moments, and activations.

    Activations per layer follow Korthikanti et al. 2022 ("Reducing Activation
    Recomputation in Large Transformer Models", eq. 1) without the attention-score
    term, which SDPA's fused kernels do not store: 34·T·b·d bytes at 16-bit, twice
    that in fp32. The logits are upcast to fp32 by the HF loss and kept with their
    gradient: 2 · 4 bytes · T·b·V.
    """
    params = parameter_count(p)
    tokens = batch_size * seq_len
    per_layer = 34 * tokens * p.d_model * (1 if mixed_precision else 2)
    logits = 2 * 4 * tokens * p.vocab_size
    return MemoryEstimate(
        weights=4 * params, gradients=4 * params, optimizer=8 * params, activations=p.n_layers * per_layer + logits
    )


def check_fits(
    p: ModelPreset,
    batch_size: int,
    seq_len: int,
    mixed_precision: bool,
    memory_bytes: int,
    device_name: str,
    headroom: float = 0.9,
) -> MemoryEstimate:
    """Refuse a config whose estimate exceeds ``headroom`` of the device memory."""
    estimate = training_memory(p, batch_size, seq_len, mixed_precision)
    budget = int(memory_bytes * headroom)
    if estimate.total > budget:
        gib = 1024**3
        raise PresetError(
            f"preset {p.family}/{p.size} with batch_size {batch_size} × seq_len {seq_len} needs about "
            f"{estimate.total / gib:.1f} GiB (weights {estimate.weights / gib:.2f}, "
            f"grads {estimate.gradients / gib:.2f}, "
            f"AdamW {estimate.optimizer / gib:.2f}, activations {estimate.activations / gib:.2f}) but {device_name} "
            f"offers {memory_bytes / gib:.1f} GiB ({headroom:.0%} usable); lower batch_size and raise grad_accum"
        )
    return estimate
