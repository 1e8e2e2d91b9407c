"""The report card's pieces: the combined loss-curve figure and the Markdown sections."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from pipeline.gguf.export import VARIANTS, variant_table_markdown

SAMPLES_SHOWN = 3


def _curve(log_history: list[dict], key: str, offset: int) -> tuple[list[int], list[float]]:
    points = [(entry["step"] + offset, entry[key]) for entry in log_history if key in entry]
    return ([s for s, _ in points], [v for _, v in points]) if points else ([], [])


def plot_loss_curves(base_history: list[dict], instruct_history: list[dict], path: Path) -> None:
    """Base then instruct train/val loss on one axis; instruct steps continue after the base's last step."""
    offset = max((entry.get("step", 0) for entry in base_history), default=0)
    import matplotlib  # loaded by the step that plots, not by the code location

    matplotlib.use("Agg")  # headless: reports are built on servers without a display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, history, shift, color in (
        ("base", base_history, 0, "tab:blue"),
        ("instruct", instruct_history, offset, "tab:orange"),
    ):
        ax.plot(*_curve(history, "loss", shift), color=color, alpha=0.6, label=f"{label} train")
        ax.plot(*_curve(history, "eval_loss", shift), color=color, marker="o", label=f"{label} val")
    ax.axvline(offset, color="gray", linestyle="--", linewidth=1)
    ax.set_xlabel("optimizer step (instruction tuning starts at the dashed line)")
    # SFT loss covers response tokens only, so the two phases' levels are not comparable.
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title("Loss curves: pretraining, then instruction tuning (response tokens only)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def png_data_uri(path: Path) -> str:
    """The PNG inline, so the report renders in the Dagster UI without file access."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def fenced(text: str, language: str = "python") -> str:
    """A code fence longer than any backtick run inside ``text`` (model output can contain fences)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def data_section(corpus: dict, pairs: dict, shards: dict) -> str:
    removed = corpus.get("duplicates_removed") or {}
    rows = [
        (
            "corpus",
            "documents (train / val)",
            f"{cell(corpus.get('documents'))} "
            f"({cell((corpus.get('documents_by_split') or {}).get('train'))} / "
            f"{cell((corpus.get('documents_by_split') or {}).get('val'))})",
        ),
        (
            "corpus",
            "blocks by kind",
            ", ".join(f"{k} {v:,}" for k, v in (corpus.get("blocks_by_kind") or {}).items()) or None,
        ),
        ("corpus", "characters", corpus.get("characters")),
        ("corpus", "duplicates removed", ", ".join(f"{k} {v:,}" for k, v in removed.items()) or None),
        (
            "instruction pairs",
            "originals / variants / total",
            f"{cell(pairs.get('originals'))} / {cell(pairs.get('variants'))} / {cell(pairs.get('pairs'))}",
        ),
        ("instruction pairs", "train / val", f"{cell(pairs.get('train_pairs'))} / {cell(pairs.get('val_pairs'))}"),
        (
            "instruction pairs",
            "rejected candidates",
            sum((pairs.get("rejects") or {}).values()) if pairs.get("rejects") else None,
        ),
        ("token shards", "shards (dtype)", f"{cell(shards.get('shards'))} ({cell(shards.get('dtype'))})"),
    ]
    streams = shards.get("summary")
    return "## Data\n\n" + table(("stage", "measure", "value"), rows) + (f"\n\n{streams}" if streams else "")


def tokenizer_section(tokenizer: dict) -> str:
    rows = [
        ("vocabulary size", tokenizer.get("vocab_size")),
        ("bytes per token, val code", tokenizer.get("bytes_per_token_val_code")),
        ("bytes per token, val prose", tokenizer.get("bytes_per_token_val_prose")),
        (
            "extra tokens for a 4-space indent (vs. the same line unindented)",
            tokenizer.get("tokens_per_4_space_indent"),
        ),
    ]
    return "## Tokenizer\n\n" + table(("measure", "value"), rows)


def model_section(preset: dict, parameters: int | None) -> str:
    rows = [(key, value) for key, value in preset.items()]
    return f"## Model: {preset.get('family')}/{preset.get('size')} ({cell(parameters)} parameters)\n\n" + table(
        ("field", "value"), rows
    )


def training_section(base: dict, instruct: dict, bits_per_byte: dict[str, float | None], image: str) -> str:
    keys = ("steps", "tokens", "final_train_loss", "final_val_loss", "val_perplexity", "tokens_per_second")
    rows = [(key, base.get(key), instruct.get(key)) for key in keys]
    # MFU against a known peak only (None otherwise); a ratio >= 1 would mean a wrong peak.
    rows.append(("mfu", *(m.get("mfu") if (m.get("mfu") or 1) < 1 else None for m in (base, instruct))))
    rows.append(("val bits per byte", bits_per_byte["base"], bits_per_byte["instruct"]))
    rows.append(("stopped", base.get("stopped_reason"), instruct.get("stopped_reason")))
    return (
        "## Training\n\n"
        + table(("metric", "base (pretraining corpus)", "instruct (responses only)"), rows)
        + "\n\nBits per byte = val loss / ln 2 × val tokens per UTF-8 byte (base: val corpus documents "
        "with `<bos>`/`<eos>`; instruct: val responses with `<eos>`).\n\n" + f"![loss curves]({image})"
    )


def gguf_section(rows: list[dict]) -> str:
    if not rows:
        return "## GGUF variants\n\nNo GGUF variants were given to the report."
    order = {variant: i for i, variant in enumerate(VARIANTS)}
    rows = sorted(rows, key=lambda row: order.get(row.get("variant"), len(order)))
    return "## GGUF variants\n\n" + variant_table_markdown(rows)


GENERATION_METRICS = (
    ("mpy-cross syntax-valid rate (at least one statement)", "syntax_valid_rate", True),
    ("useful answers (valid, not looping, calls a reference API)", "useful_rate", False),
    ("calls an API the reference calls", "api_overlap_rate", False),
    ("repetition loops (most lines repeated)", "looping_rate", True),
    ("share of repeated lines", "repeated_line_share", True),
    ("imports MicroPython has", "import_valid_rate", True),
    ("chrF (0-100)", "chrf", False),
    ("exact match", "exact_match", False),
)


def _sample(label: str, score: dict) -> str:
    return (
        f"{label} (syntax valid: {cell(score['syntax_valid'])}, useful: {cell(score['useful'])}, "
        f"repeated lines {cell(score['repeated_line_share'])}, chrF {cell(score['chrf'])}):\n\n"
        + fenced(score["completion"])
    )


def generation_section(summary: dict, records: list[dict], gguf_variants: list[str], march: str) -> str:
    labels = ["hf", *(f"gguf_{v}" for v in gguf_variants)]
    header = ("metric", "reference", "HF instruct", *(f"GGUF {v}" for v in gguf_variants))
    metric_rows = [
        (
            name,
            summary.get(f"{key}_reference") if for_reference else None,
            *(summary.get(f"{key}_{label}") for label in labels),
        )
        for name, key, for_reference in GENERATION_METRICS
    ]
    evaluated = f"HF and GGUF {', '.join(gguf_variants)}" if gguf_variants else "HF only (no GGUF variant given)"
    intro = (
        f"Greedy answers to {summary['eval_pairs']} val instructions (original pairs; "
        f"{summary['eval_pairs_skipped_too_long']} skipped as longer than the context) by {evaluated}, compiled "
        f"with `mpy-cross -march={march}`; imports and calls parsed with `ast`, never executed. An empty or "
        "comment-only answer is not valid code, and a looping one is not useful. The reference column scores "
        "the reference answers themselves: the ceiling for the syntax and import rates."
    )
    parts = ["## Generation evaluation", intro, table(header, metric_rows)]
    for record in records[:SAMPLES_SHOWN]:
        parts.append(f"**{cell(record['instruction'])}**")
        parts.append("Reference:\n\n" + fenced(record["reference"]))
        parts.append(_sample("HF", record["hf"]))
        parts.extend(_sample(f"GGUF {variant}", score) for variant, score in record["gguf"].items())
    return "\n\n".join(parts)
