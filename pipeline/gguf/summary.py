"""Facts read back from a GGUF file with ``gguf.GGUFReader`` (no llama.cpp needed)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import gguf


def tensor_summary(path: Path) -> dict:
    """Tensor type counts, parameter count and bits per weight as actually stored.

    K-quants silently fall back (e.g. Q4_K -> Q5_0) on rows that are not a multiple
    of 256, so the requested variant name alone does not say what a file holds.
    """
    reader = gguf.GGUFReader(str(path))
    types = Counter(gguf.GGMLQuantizationType(t.tensor_type).name for t in reader.tensors)
    n_elements = sum(int(t.n_elements) for t in reader.tensors)
    n_bytes = sum(int(t.n_bytes) for t in reader.tensors)
    return {
        "tensor_types": dict(sorted(types.items())),
        "n_tensors": len(reader.tensors),
        "n_params": n_elements,
        # llama.cpp's "BPW": tensor payload bits over weights (header and vocab excluded)
        "bits_per_weight": round(8.0 * n_bytes / n_elements, 3) if n_elements else 0.0,
        "size_bytes": Path(path).stat().st_size,
    }


@dataclass(frozen=True)
class GgufFacts:
    architecture: str
    context_length: int


def read_gguf_facts(path: Path) -> GgufFacts:
    """Architecture and trained context of a GGUF file (what ``/api/show`` must report back)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: GGUF file does not exist")
    try:
        reader = gguf.GGUFReader(str(path))
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable GGUF file ({exc})") from exc
    arch_field = reader.get_field("general.architecture")
    if arch_field is None:
        raise ValueError(f"{path}: GGUF has no general.architecture")
    architecture = str(arch_field.contents())
    ctx_field = reader.get_field(f"{architecture}.context_length")
    if ctx_field is None:
        raise ValueError(f"{path}: GGUF has no {architecture}.context_length")
    return GgufFacts(architecture, int(ctx_field.contents()))
