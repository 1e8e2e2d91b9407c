"""HF checkpoint tensors → GGUF tensors (names, layouts, dtypes).

The two layout transforms below are the ones that fail *silently*: a GGUF
without them loads fine and produces wrong logits (export notes §3 measured
KL 8.3 for an untransposed square ``attn.c_proj``, 0.52 for unpermuted q/k).
The verification stage's logit-parity check exists to catch exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np
from safetensors import safe_open

# GPT-2's Conv1D stores weights as [in, out]; llama.cpp expects nn.Linear's [out, in].
_CONV1D_WEIGHT = re.compile(r"\.(c_attn|c_proj|c_fc)\.weight$")
# Buffers that are not parameters: GPT-2's causal mask, Llama's rotary frequencies.
_DROPPED = re.compile(r"(\.attn\.bias|\.attn\.masked_bias|\.rotary_emb\.inv_freq)$")
_Q_PROJ = re.compile(r"\.self_attn\.q_proj\.(weight|bias)$")
_K_PROJ = re.compile(r"\.self_attn\.k_proj\.(weight|bias)$")

ARCHITECTURES = {"gpt2": gguf.MODEL_ARCH.GPT2, "llama": gguf.MODEL_ARCH.LLAMA}


def conv1d_to_linear(weight: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(weight.T)


def permute_for_rope(weight: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder q/k rows from HF's half-split RoPE pairs to llama.cpp's adjacent pairs.

    HF ``rotate_half`` rotates dims (i, i + head_dim/2); llama.cpp's LLAMA graph
    (ROPE_TYPE_NORM) rotates (2i, 2i+1). Same formula as llama.cpp's converter.
    """
    return (
        weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def keeps_f32(gguf_name: str, array: np.ndarray) -> bool:
    """Norms, biases, 1-D tensors and position embeddings stay F32 (llama.cpp never quantizes them)."""
    return (
        array.ndim < 2
        or not gguf_name.endswith(".weight")
        or "_norm." in gguf_name
        or gguf_name.startswith("position_embd")
    )


def read_checkpoint(model_dir: Path) -> dict[str, np.ndarray]:
    """All tensors of ``model.safetensors`` as float32 numpy arrays."""
    path = model_dir / "model.safetensors"
    if not path.is_file():
        raise ValueError(f"{path}: missing; expected a HF model directory saved with safetensors")
    tensors = {}
    with safe_open(str(path), framework="pt") as handle:
        for name in handle.keys():
            # via torch so bf16 checkpoints convert too (numpy has no bfloat16)
            tensors[name] = handle.get_tensor(name).float().numpy()
    return tensors


def convert_tensors(
    checkpoint: dict[str, np.ndarray],
    model_type: str,
    n_layers: int,
    n_head: int,
    n_head_kv: int,
    tied: bool,
    source: Path,
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (gguf_name, float32 array in nn.Linear layout) for every tensor llama.cpp reads."""
    name_map = gguf.get_tensor_name_map(ARCHITECTURES[model_type], n_layers)
    for hf_name, array in checkpoint.items():
        if _DROPPED.search(hf_name):
            continue
        gguf_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ValueError(f"{source}: tensor {hf_name!r} has no GGUF name for architecture {model_type}")
        if gguf_name == "output.weight" and tied:
            continue  # llama.cpp reuses token_embd when output.weight is absent
        if model_type == "gpt2" and _CONV1D_WEIGHT.search(hf_name):
            array = conv1d_to_linear(array)
        elif model_type == "llama" and _Q_PROJ.search(hf_name):
            array = permute_for_rope(array, n_head)
        elif model_type == "llama" and _K_PROJ.search(hf_name):
            array = permute_for_rope(array, n_head_kv)
        yield gguf_name, array
