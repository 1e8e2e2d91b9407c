"""Stage build function: one verified GGUF variant of a trained HF checkpoint.

F32 and F16 are written by our own writer; q8_0 / q4_k_m / q2_k are quantized
by llama.cpp from the F32 master (quantizing from F32 avoids double rounding).
Every variant is then checked in llama.cpp (``pipeline.gguf.verify``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.gguf.quantize import quantize
from pipeline.gguf.verify import VerificationError, verify_variant
from pipeline.gguf.writer import write_gguf

WRITTEN_VARIANTS = ("f32", "f16")
QUANTIZED_VARIANTS = ("q8_0", "q4_k_m", "q2_k")
VARIANTS = WRITTEN_VARIANTS + QUANTIZED_VARIANTS
# What the pipeline publishes (one gguf_models partition each; f32 is only the master they are
# made from). MPYFORGE_GGUF_VARIANTS, comma-separated, picks another set from VARIANTS.
PUBLISHED_VARIANTS_ENV = "MPYFORGE_GGUF_VARIANTS"
DEFAULT_PUBLISHED_VARIANTS = ("f16", "q8_0", "q4_k_m", "q2_k")


def published_variants(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The configured variant list, checked against what the exporter can build."""
    raw = (os.environ if environ is None else environ).get(PUBLISHED_VARIANTS_ENV, "")
    chosen = tuple(v.strip().lower() for v in raw.split(",") if v.strip()) or DEFAULT_PUBLISHED_VARIANTS
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        raise ValueError(f"{PUBLISHED_VARIANTS_ENV}: unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    return tuple(dict.fromkeys(chosen))


TABLE_COLUMNS = ("variant", "size_mb", "bits_per_weight", "ppl", "delta_ppl_pct", "tok_per_s")


@dataclass
class GgufSettings:
    name: str | None = None  # general.name; defaults to the model directory's name
    window: int = 128  # tokens per scoring window (clamped to the model's context)
    max_windows: int = 8  # validation windows scored for PPL and logit parity
    gen_tokens: int = 32  # greedy tokens timed for tok/s and kept as the sample
    master_path: str | None = None  # an existing F32 master to quantize from
    reference_ppl: float | None = None  # F32 master's PPL; measured here when None
    fail_on_check: bool = True  # raise when tokenizer or logit parity fails


def build_gguf_variant(
    model_dir: Path, variant: str, out_dir: Path, settings: GgufSettings, val_texts: list[str]
) -> dict:
    """Write ``out_dir/model-<variant>.gguf``, verify it, return its table row and metadata."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is not one of {list(VARIANTS)}")
    out_path = out_dir / f"model-{variant}.gguf"
    out_dir.mkdir(parents=True, exist_ok=True)
    verify = dict(window=settings.window, max_windows=settings.max_windows, gen_tokens=settings.gen_tokens)
    metadata: dict = {"variant": variant, "file": out_path.name}

    # The F32 master (GBs for the larger presets) is scratch inside ``out_dir``, the store's temp
    # directory of this write: a killed export leaves it where the store's sweep removes it.
    with tempfile.TemporaryDirectory(prefix=".gguf-master-", dir=out_dir) as scratch:
        master = Path(settings.master_path) if settings.master_path else Path(scratch) / "model-f32.gguf"
        if variant in WRITTEN_VARIANTS:
            metadata["writer"] = write_gguf(model_dir, out_path, dtype=variant, name=settings.name)
        if variant == "f32":
            master = out_path  # the master is its own reference
        elif not settings.master_path:
            write_gguf(model_dir, master, dtype="f32", name=settings.name)
        if variant in QUANTIZED_VARIANTS:
            quantized = quantize(master, out_path, variant)
            metadata["fallback_messages"] = quantized["fallback_messages"]
            metadata["quantize_log_tail"] = quantized["log_tail"]
        reference_ppl = settings.reference_ppl
        if reference_ppl is None:
            # ΔPPL of every variant, F16 included, is measured against the F32 master.
            reference_ppl = verify_variant(master, model_dir, val_texts, None, **verify)["ppl"]

    row = verify_variant(out_path, model_dir, val_texts, reference_ppl, **verify)
    if row["failures"] and settings.fail_on_check:
        raise VerificationError(f"{out_path}: " + "; ".join(row["failures"]))
    metadata.update(row=row, reference_ppl=reference_ppl, table_md=variant_table_markdown([row]))
    return metadata


def variant_table_markdown(rows: list[dict]) -> str:
    """Markdown table of variant rows (the lead may join rows of several variants)."""

    def cell(value) -> str:
        if value is None:
            return "–"
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(cell(row.get(col)) for col in TABLE_COLUMNS) + " |" for row in rows]
    return "\n".join(lines)
