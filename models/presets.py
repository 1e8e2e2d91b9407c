"""Architecture presets: one dial (family + size) derives every other shape.

Families:
  ``gpt2``  learned positions, LayerNorm, GELU (``gelu_new``), FFN 4·d, biases.
  ``llama`` RoPE (``rope_theta``), RMSNorm, SwiGLU with d_ff ≈ 8/3·d, GQA with
            n_kv_heads = n_heads / 4, no biases.

Every size uses head_dim 64, context 512 and tied input/output embeddings. Widths and
d_ff are multiples of 256 because llama.cpp's K-quants pack each weight row in
super-blocks of 256 values (``QK_K`` in ggml); a row length that is not a multiple
falls back to a worse quant type.

``resolve_preset(family, size, vocab_size, overrides)`` applies overrides to the dial
fields (d_model, n_layers) first, then derives heads and d_ff from the result unless
those are overridden too, and validates the whole shape before anything is built.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

FAMILIES = ("gpt2", "llama")
HEAD_DIM = 64
CONTEXT = 512
QUANT_BLOCK = 256  # ggml QK_K: K-quant super-block length

# size -> (d_model, n_layers). Non-embedding parameter counts: gpt2 ≈ 12·L·d²,
# llama ≈ 10.5·L·d² (GQA attention 2.5·d² + SwiGLU 8·d²).
SIZES: dict[str, tuple[int, int]] = {
    "tiny": (256, 2),  # CPU demo: trains in a couple of minutes on a laptop
    "5m": (256, 6),
    "25m": (512, 8),
    "50m": (768, 8),
    "80m": (768, 12),
}

# Peak AdamW learning rate for pretraining, per size. Smaller models take larger rates:
# GPT-3 (Brown et al. 2020, Table 2.1) uses 6e-4 at 125M and 3e-4 at 350M; Pythia (Biderman
# et al. 2023, Table 1) 1e-3 at 70M, 6e-4 at 160M, 3e-4 at 410M. Both used
# ~0.5-2M-token batches; ours are ~8K tokens (16 × 512), so the rates stay at or below
# Pythia's 70M rate for 50m/80m and rise to 2e-3 only for the smallest models, where the
# warmup and grad-norm clipping at 1.0 keep them stable.
PRETRAIN_LR: dict[str, float] = {"tiny": 2e-3, "5m": 1.5e-3, "25m": 1e-3, "50m": 8e-4, "80m": 6e-4}

# A size's training plan, per mode (fields of pipeline.train.settings.TrainSettings). The training assets
# fill every field their run config leaves at its default from it, so `mpyforge run --preset tiny` and a
# UI "Materialize" of the default config train alike. `tiny` is the CPU demo: short sequences, a token
# budget that trains in well under two minutes per checkpoint on two cores, early stopping against the
# small sample corpus, and learning rates suited to a 3.6M-parameter model and a few hundred steps
# (they take the place of PRETRAIN_LR["tiny"] there). Other sizes are planned from the data.
_CPU_DEMO = dict(
    seq_len=128, batch_size=8, eval_every=20, save_every=20, log_every=10, eval_tokens=16_384, early_stopping_patience=3
)
SIZE_PLANS: dict[str, dict[str, dict]] = {
    "tiny": {
        "pretrain": {**_CPU_DEMO, "token_budget": 160_000, "lr": 1e-3},
        "sft": {**_CPU_DEMO, "token_budget": 40_000, "lr": 3e-4},
    }
}


def size_plan(size: str, mode: str) -> dict:
    """The training fields ``size`` fixes for ``mode`` (pretrain | sft); empty for sizes planned from the data."""
    return dict(SIZE_PLANS.get(size, {}).get(mode, {}))


# A size's scoring plan (fields of pipeline.evaluate.score.ScoreSettings). `task_scores` and the report's
# scoring of the HF model fill every field their config leaves at its default from it, as the training
# assets do from SIZE_PLANS, so a UI "Materialize" of a `tiny` model scores as `mpyforge run --preset tiny`
# does: the task suite's fixed demo subset (DEMO_TASK_IDS) with answers no longer than the demo's training
# sequences, so scoring four variants and the HF model fits the demo's minutes.
SCORING_PLANS: dict[str, dict] = {"tiny": {"tasks": "demo", "max_new_tokens": _CPU_DEMO["seq_len"]}}


def scoring_plan(size: str) -> dict:
    """The task-scoring fields ``size`` fixes; empty for sizes scored on the whole suite."""
    return dict(SCORING_PLANS.get(size, {}))


class PresetError(ValueError):
    """An architecture preset that cannot be built or trained as configured."""


@dataclass(frozen=True)
class ModelPreset:
    family: str
    size: str
    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_ff: int
    context: int = CONTEXT
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = True

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


def _round_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def _derived_d_ff(family: str, d_model: int) -> int:
    # SwiGLU has three matrices instead of two, so 8/3·d keeps the FFN at the same
    # parameter count as a 4·d two-matrix MLP (Shazeer 2020, "GLU Variants").
    factor = 4.0 if family == "gpt2" else 8.0 / 3.0
    return _round_up(factor * d_model, QUANT_BLOCK)


def resolve_preset(family: str, size: str, vocab_size: int, overrides: dict | None = None) -> ModelPreset:
    """The preset for ``family``/``size`` with ``overrides`` applied, validated."""
    if family not in FAMILIES:
        raise PresetError(f"model family {family!r} is unknown; expected one of {list(FAMILIES)}")
    if size not in SIZES:
        raise PresetError(f"model size {size!r} is unknown; expected one of {list(SIZES)}")
    overrides = dict(overrides or {})
    allowed = {f.name for f in fields(ModelPreset)} - {"family", "size", "vocab_size"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise PresetError(f"model override(s) {unknown} are not preset fields; expected some of {sorted(allowed)}")

    d_model, n_layers = SIZES[size]
    d_model = int(overrides.pop("d_model", d_model))
    n_layers = int(overrides.pop("n_layers", n_layers))
    n_heads = int(overrides.pop("n_heads", max(1, d_model // HEAD_DIM)))
    n_kv_heads = int(overrides.pop("n_kv_heads", n_heads if family == "gpt2" else max(1, n_heads // 4)))
    d_ff = int(overrides.pop("d_ff", _derived_d_ff(family, d_model)))
    preset = ModelPreset(
        family=family,
        size=size,
        vocab_size=int(vocab_size),
        d_model=d_model,
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        d_ff=d_ff,
        **overrides,
    )
    validate_preset(preset)
    return preset


def validate_preset(preset: ModelPreset) -> None:
    """Raise ``PresetError`` naming the field and the cause of the first problem found."""
    p = preset
    name = f"preset {p.family}/{p.size}"
    for field_name in ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "d_ff", "context"):
        if getattr(p, field_name) <= 0:
            raise PresetError(f"{name}: {field_name} must be positive, got {getattr(p, field_name)}")
    if p.d_model % p.n_heads:
        raise PresetError(f"{name}: d_model {p.d_model} is not divisible by n_heads {p.n_heads}")
    if p.n_heads % p.n_kv_heads:
        raise PresetError(f"{name}: n_heads {p.n_heads} is not divisible by n_kv_heads {p.n_kv_heads}")
    if p.family == "gpt2" and p.n_kv_heads != p.n_heads:
        raise PresetError(f"{name}: gpt2 has no grouped-query attention; n_kv_heads must equal n_heads {p.n_heads}")
    if p.family == "llama" and p.head_dim % 2:
        raise PresetError(f"{name}: RoPE rotates pairs of dimensions, so head_dim {p.head_dim} must be even")
    for field_name in ("d_model", "d_ff"):
        if getattr(p, field_name) % QUANT_BLOCK:
            raise PresetError(
                f"{name}: {field_name} {getattr(p, field_name)} is not a multiple of {QUANT_BLOCK}; "
                "llama.cpp K-quants need weight rows in blocks of 256"
            )


def check_sequence(preset: ModelPreset, seq_len: int, data_vocab_size: int, max_token_id: int) -> None:
    """Check the training data fits the model: ids inside the vocab, sequences inside the context.

    ``max_token_id`` is the largest id the shard dtype can hold (e.g. 65535 for uint16).
    """
    name = f"preset {preset.family}/{preset.size}"
    if seq_len > preset.context:
        raise PresetError(f"{name}: seq_len {seq_len} exceeds the context (positions) {preset.context}")
    if data_vocab_size > preset.vocab_size:
        raise PresetError(
            f"{name}: the data uses a vocabulary of {data_vocab_size} ids but the model has only {preset.vocab_size}"
        )
    if preset.vocab_size - 1 > max_token_id:
        raise PresetError(
            f"{name}: vocab_size {preset.vocab_size} does not fit the shard dtype (largest id {max_token_id})"
        )
