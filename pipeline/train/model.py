"""Preset → HF config → model. HF classes are used (not a custom module) so that
``save_pretrained`` handles the tied embeddings and the GGUF writer and llama.cpp
see a standard architecture."""

from __future__ import annotations

from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedConfig, PreTrainedModel

from models.presets import ModelPreset
from pipeline.common.prompt_format import BOS, EOS, PAD, SPECIAL_TOKEN_IDS


def build_config(p: ModelPreset) -> PreTrainedConfig:
    special_ids = {
        "pad_token_id": SPECIAL_TOKEN_IDS[PAD],
        "bos_token_id": SPECIAL_TOKEN_IDS[BOS],
        "eos_token_id": SPECIAL_TOKEN_IDS[EOS],
    }
    # fmt: off
    if p.family == "gpt2":
        return GPT2Config(
            vocab_size=p.vocab_size, n_positions=p.context, n_embd=p.d_model, n_layer=p.n_layers,
            n_head=p.n_heads, n_inner=p.d_ff, activation_function="gelu_new",
            layer_norm_epsilon=p.norm_eps, tie_word_embeddings=p.tie_embeddings,
            # Dropout hurts single-epoch pretraining of small models; none anywhere.
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **special_ids,
        )
    return LlamaConfig(
        vocab_size=p.vocab_size, hidden_size=p.d_model, intermediate_size=p.d_ff,
        num_hidden_layers=p.n_layers, num_attention_heads=p.n_heads, num_key_value_heads=p.n_kv_heads,
        head_dim=p.head_dim, max_position_embeddings=p.context, rope_theta=p.rope_theta,
        rms_norm_eps=p.norm_eps, tie_word_embeddings=p.tie_embeddings, hidden_act="silu", **special_ids,
    )
    # fmt: on


def build_model(p: ModelPreset) -> PreTrainedModel:
    """A freshly initialised causal LM for the preset, using PyTorch SDPA attention."""
    model_class = GPT2LMHeadModel if p.family == "gpt2" else LlamaForCausalLM
    return model_class._from_config(build_config(p), attn_implementation="sdpa")


def context_length(config: PreTrainedConfig) -> int:
    """Positions the model was built for: ``max_position_embeddings`` (llama) or ``n_positions`` (gpt2)."""
    length = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if not length:
        raise ValueError(f"{type(config).__name__}: no max_position_embeddings or n_positions")
    return int(length)
