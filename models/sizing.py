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


# Bytes kept per token for the backward pass: per layer as (per d_model, per d_ff, per K/V width,
# per head, constant), then per d_model outside the layers (embedding, final norm). Measured, not
# derived: the tensors alive after the forward pass and at the peak of the backward pass of HF Llama
# and GPT-2 (transformers 5.x, SDPA with is_causal and GQA), tracked op by op on the CPU under bf16
# autocast and in fp32 (tests/test_memory_estimate.py measures again and holds the formula to it).
# Under autocast HF keeps the residual stream and the norms in fp32, so a llama-80m layer keeps
# ~52·d bytes a token (with its SwiGLU), not the 34·d of Korthikanti et al. 2022 (eq. 1) for an
# all-16-bit model.
TOKEN_BYTES: dict[tuple[str, bool], tuple[int, int, int, int, int, int]] = {
    ("llama", True): (30, 8, 4, 4, 0, 10),
    ("llama", False): (32, 16, 8, 4, 8, 12),
    ("gpt2", True): (24, 10, 0, 4, 16, 6),
    ("gpt2", False): (40, 20, 0, 4, 16, 8),
}


def training_memory(p: ModelPreset, batch_size: int, seq_len: int, mixed_precision: bool) -> MemoryEstimate:
    """Bytes needed to train: fp32 weights, grads, two AdamW moments, and activations.

    Activations are ``TOKEN_BYTES`` per token, plus per token the fp32 log-softmax of the logits
    (4·V) and the peak of the head's backward
    pass (8·V a token: the logits' fp32 gradient and its 16-bit copy). Mixed precision adds autocast's
    16-bit copy of every matmul weight (2 bytes a parameter, cached for the step, saved for backward);
    fp32 adds the tied head's weight gradient before it joins the embedding's (4·V·d).
    """
    params = parameter_count(p)
    tokens = batch_size * seq_len
    per_d, per_ff, per_kv, per_head, const, outside = TOKEN_BYTES[(p.family, mixed_precision)]
    layer = per_d * p.d_model + per_ff * p.d_ff + per_kv * p.n_kv_heads * p.head_dim + per_head * p.n_heads + const
    per_token = p.n_layers * layer + outside * p.d_model + (4 + 8) * p.vocab_size
    extra = 2 * flops_parameter_count(p) if mixed_precision else 4 * p.vocab_size * p.d_model
    return MemoryEstimate(
        weights=4 * params, gradients=4 * params, optimizer=8 * params, activations=tokens * per_token + extra
    )


# What to change when a run does not fit: the same tokens per optimizer step in smaller micro-batches.
MEMORY_FIX = "halve batch_size and double grad_accum (same tokens per step)"


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
            f"offers {memory_bytes / gib:.1f} GiB ({headroom:.0%} usable); {MEMORY_FIX}"
        )
    return estimate
