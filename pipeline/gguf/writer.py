"""Write a HF GPT-2 / Llama checkpoint as a GGUF file llama.cpp can run.

We write GGUF ourselves (gguf-py) because llama.cpp's ``convert_hf_to_gguf.py``
rejects any retrained BPE (unknown pre-tokenizer hash) and needs ``n_ctx`` that
current ``GPT2Config`` no longer has. Key names and required fields follow
/work/shared/notes/export.md §2; quantization beyond F16 is left to llama.cpp.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import gguf
import numpy as np

from pipeline.gguf.tensors import convert_tensors, keeps_f32, read_checkpoint
from pipeline.gguf.tokenizer import add_vocab, read_vocab
from pipeline.train.outputs import METRICS_FILE

POSITION_TABLE = "position_embd.weight"  # GPT-2's learned positions (wpe), rows = context
FILE_TYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16}
# llama.cpp's gpt2 graph uses the tanh GELU; the llama graph uses SiLU.
SUPPORTED_ACTIVATIONS = {"gpt2": {"gelu_new", "gelu_pytorch_tanh"}, "llama": {"silu"}}


@dataclass(frozen=True)
class Hparams:
    model_type: str
    context_length: int
    embedding_length: int
    block_count: int
    feed_forward_length: int
    head_count: int
    head_count_kv: int
    norm_eps: float
    vocab_size: int
    tied: bool
    rope_theta: float = 10000.0
    head_dim: int = 0


def _require(config: dict, key: str, path: Path):
    if key not in config:
        raise ValueError(f"{path}: field {key!r} is missing")
    return config[key]


def trained_context(model_dir: Path, table: int) -> int:
    """The context to declare: the longest sequence this model, or the base it was tuned from,
    trained on (``seq_len`` in their metrics.json), never more than its position table.

    Positions past it were never trained (GPT-2's table rows there are still random init), so
    llama.cpp and Ollama should not offer them. A model without metrics (not trained here) keeps
    its table.
    """
    lengths, directory = [], Path(model_dir)
    for _ in range(2):  # the model, then its base
        try:
            metrics = json.loads((directory / METRICS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            break
        lengths.append(int(metrics["seq_len"]))
        if not metrics.get("init_from"):
            break
        directory = Path(metrics["init_from"])
    return min(table, max(lengths)) if lengths else table


def read_hparams(model_dir: Path) -> Hparams:
    """Architecture numbers from ``config.json`` (GPT-2 or Llama), validated for llama.cpp; the
    context is the trained one (``trained_context``)."""
    hp = _config_hparams(Path(model_dir))
    return replace(hp, context_length=trained_context(model_dir, hp.context_length))


def _config_hparams(model_dir: Path) -> Hparams:
    path = model_dir / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read model config: {exc}") from exc
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_ACTIVATIONS:
        raise ValueError(f"{path}: model_type {model_type!r} is not supported (gpt2 or llama)")
    activation = config.get("activation_function" if model_type == "gpt2" else "hidden_act")
    activation = activation or ("gelu_new" if model_type == "gpt2" else "silu")
    if activation not in SUPPORTED_ACTIVATIONS[model_type]:
        raise ValueError(f"{path}: activation {activation!r} differs from llama.cpp's {model_type} graph")
    if model_type == "gpt2":
        n_embd = int(_require(config, "n_embd", path))
        n_head = int(_require(config, "n_head", path))
        return Hparams(
            model_type=model_type,
            context_length=int(_require(config, "n_positions", path)),  # = wpe rows
            embedding_length=n_embd,
            block_count=int(_require(config, "n_layer", path)),
            feed_forward_length=int(config.get("n_inner") or 4 * n_embd),
            head_count=n_head,
            head_count_kv=n_head,
            norm_eps=float(config.get("layer_norm_epsilon", 1e-5)),
            vocab_size=int(_require(config, "vocab_size", path)),
            tied=bool(config.get("tie_word_embeddings", True)),
        )
    rope = config.get("rope_parameters") or {}
    if rope.get("rope_type", "default") != "default" or config.get("rope_scaling"):
        raise ValueError(f"{path}: rope scaling {rope or config.get('rope_scaling')!r} is not supported")
    hidden = int(_require(config, "hidden_size", path))
    n_head = int(_require(config, "num_attention_heads", path))
    head_dim = int(config.get("head_dim") or hidden // n_head)
    if head_dim * n_head != hidden:
        raise ValueError(f"{path}: head_dim {head_dim} x {n_head} heads != hidden_size {hidden}")
    return Hparams(
        model_type=model_type,
        context_length=int(_require(config, "max_position_embeddings", path)),
        embedding_length=hidden,
        block_count=int(_require(config, "num_hidden_layers", path)),
        feed_forward_length=int(_require(config, "intermediate_size", path)),
        head_count=n_head,
        head_count_kv=int(config.get("num_key_value_heads") or n_head),
        norm_eps=float(config.get("rms_norm_eps", 1e-6)),
        vocab_size=int(_require(config, "vocab_size", path)),
        tied=bool(config.get("tie_word_embeddings", False)),
        rope_theta=float(rope.get("rope_theta", config.get("rope_theta", 10000.0))),
        head_dim=head_dim,
    )


def _add_hparams(writer: gguf.GGUFWriter, hp: Hparams) -> None:
    writer.add_context_length(hp.context_length)
    writer.add_embedding_length(hp.embedding_length)
    writer.add_block_count(hp.block_count)
    writer.add_feed_forward_length(hp.feed_forward_length)
    writer.add_head_count(hp.head_count)
    if hp.model_type == "gpt2":
        writer.add_layer_norm_eps(hp.norm_eps)  # required by llama.cpp's gpt2 loader
        return
    writer.add_head_count_kv(hp.head_count_kv)
    writer.add_layer_norm_rms_eps(hp.norm_eps)  # required by llama.cpp's llama loader
    writer.add_rope_freq_base(hp.rope_theta)
    writer.add_rope_dimension_count(hp.head_dim)  # llama.cpp rejects n_rot != head dim
    writer.add_vocab_size(hp.vocab_size)


def write_gguf(model_dir: Path, out_path: Path, dtype: str = "f32", name: str | None = None) -> dict:
    """Write ``model_dir`` (HF GPT-2/Llama + tokenizer.json) as an F32 or F16 GGUF file."""
    model_dir, out_path = Path(model_dir), Path(out_path)
    if dtype not in FILE_TYPES:
        raise ValueError(f"dtype {dtype!r} is not one of {sorted(FILE_TYPES)}; quantize F32 with llama.cpp instead")
    hp = read_hparams(model_dir)
    vocab = read_vocab(model_dir / "tokenizer.json", hp.vocab_size)
    checkpoint = read_checkpoint(model_dir)

    writer = gguf.GGUFWriter(str(out_path), hp.model_type)
    writer.add_name(name or model_dir.name)
    writer.add_file_type(int(FILE_TYPES[dtype]))
    _add_hparams(writer, hp)
    add_vocab(writer, vocab)
    n_params = 0
    for gguf_name, array in convert_tensors(
        checkpoint, hp.model_type, hp.block_count, hp.head_count, hp.head_count_kv, hp.tied, model_dir
    ):
        if gguf_name == POSITION_TABLE:
            array = array[: hp.context_length]  # llama.cpp wants one row per declared position
        store_dtype = np.float32 if dtype == "f32" or keeps_f32(gguf_name, array) else np.float16
        writer.add_tensor(gguf_name, array.astype(store_dtype))
        n_params += array.size
    if n_params == 0:
        raise ValueError(f"{model_dir / 'model.safetensors'}: no tensors to write")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()
    return {
        "path": str(out_path),
        "architecture": hp.model_type,
        "dtype": dtype,
        "n_params": int(n_params),
        "size_bytes": out_path.stat().st_size,
        "context_length": hp.context_length,
        "vocab_size": hp.vocab_size,
        "tied_embeddings": hp.tied,
    }
