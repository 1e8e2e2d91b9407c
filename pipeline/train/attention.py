"""Causal attention for packed training blocks: SDPA with ``is_causal=True`` and no mask at all.

Our training blocks are packed and never padded, so every block needs the plain causal mask and
nothing else. The stock ``sdpa`` path of transformers 5.x cannot always see that:

* under ``torch.compile`` it builds a full (B, 1, T, T) mask: ``_ignore_causal_mask_sdpa`` returns
  False while dynamo traces (``masking_utils``, up to torch 2.13: "older versions keep the previous
  behavior of never skipping while compiling"), and ``find_packed_sequence_indices`` returns a
  tensor instead of None when traced ("this is a dynamic control flow, so we cannot enable this
  check on anything compile related");
* with a mask, ``use_gqa_in_sdpa`` is False (``integrations/sdpa_attention.py``: CUDA "require[s]
  no mask"), so K/V are repeated to every query head (``repeat_kv``) and SDPA leaves the flash
  kernel for the memory-efficient one;
* in eager mode the same checks read tensor values (``.all()``), a GPU→CPU sync per forward.

An attention function registered under its own name (``AttentionInterface.register``) has no mask
function (``ALL_MASK_ATTENTION_FUNCTIONS``), and for such a name ``masking_utils`` builds no mask
("custom attention without equivalent mask creation: we don't need a mask!"). It is only right
without padding and without a KV cache, so only training uses it: the config does not store the
attention implementation (``_attn_implementation_internal`` is dropped on save), and a saved model
loads with the stock ``sdpa`` for generation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import AttentionInterface, PreTrainedModel

CAUSAL_ATTENTION = "mpyforge_causal"


def causal_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """(B, H, T, D) query and (B, H_kv, T, D) key/value → (B, T, H, D), as the HF attention layers expect."""
    if attention_mask is not None or query.shape[2] != key.shape[2]:
        raise ValueError(
            f"attention {CAUSAL_ATTENTION!r} is for packed, unpadded training blocks; got a mask or "
            f"{query.shape[2]} queries over {key.shape[2]} keys (generation): load the model with 'sdpa'"
        )
    # enable_gqa lets the flash kernel read each K/V head for its group of query heads (torch >= 2.5).
    output = F.scaled_dot_product_attention(
        query, key, value, dropout_p=dropout, scale=scaling, is_causal=True, enable_gqa=True
    )
    return output.transpose(1, 2).contiguous(), None


def use_causal_attention(model: PreTrainedModel) -> PreTrainedModel:
    """Train ``model`` with ``causal_attention`` (registered once per process)."""
    AttentionInterface.register(CAUSAL_ATTENTION, causal_attention)
    model.set_attn_implementation(CAUSAL_ATTENTION)
    return model
