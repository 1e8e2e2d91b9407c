"""What a finished run leaves next to the weights: tokenizer files, preset, metrics,
loss curve and a model card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

PRESET_FILE = "preset.json"
METRICS_FILE = "metrics.json"
# The numbers of a finished run that the model card and the asset's metadata both show.
RESULT_KEYS = (
    "steps",
    "tokens",
    "final_train_loss",
    "final_val_loss",
    "val_perplexity",
    "val_unigram_loss",
    "tokens_per_second",
    "mfu",
    "wall_time_s",
)
LOSS_CURVE_FILE = "loss_curve.png"
# Files of the tokenizer directory that are not tokenizer files and must not
# overwrite the model's own.
_NOT_TOKENIZER_FILES = {"README.md", "manifest.json", "config.json", "metadata.json"}


def copy_tokenizer_files(tokenizer_dir: Path, model_dir: Path) -> list[str]:
    copied = []
    for path in sorted(Path(tokenizer_dir).iterdir()):
        if path.is_file() and path.name not in _NOT_TOKENIZER_FILES:
            shutil.copy2(path, model_dir / path.name)
            copied.append(path.name)
    if not copied:
        raise ValueError(f"{tokenizer_dir}: no tokenizer files to copy into the model directory")
    return copied


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, default=float))


def read_preset(model_dir: Path) -> dict:
    path = Path(model_dir) / PRESET_FILE
    if not path.is_file():
        raise ValueError(
            f"{model_dir}: no {PRESET_FILE}; init_from must be a model directory written by pipeline.train.run"
        )
    return json.loads(path.read_text())


def plot_loss_curve(log_history: list[dict], path: Path, title: str) -> None:
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    val = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e]
    import matplotlib  # loaded by the step that plots, not by the code location

    matplotlib.use("Agg")  # headless: no display on training machines
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train loss")
    if val:
        ax.plot(*zip(*val), marker="o", label="val loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def model_card(metrics: dict) -> str:
    """A short Markdown card: what was trained, on what, how far, how well."""
    preset = metrics["preset"]
    shape_rows = "\n".join(f"| {key} | {value} |" for key, value in preset.items())
    result_rows = "\n".join(f"| {key} | {_fmt(metrics.get(key))} |" for key in RESULT_KEYS)
    if metrics["mode"] == "sft":
        origin = f"Instruction-tuned from `{metrics.get('init_from')}`."
    else:
        origin = "Pretrained from scratch."
    return f"""# mpyforge {metrics["mode"]} model: {preset["family"]}/{preset["size"]}

A small MicroPython code model trained by mpyforge (`pipeline.train.run`, Hugging Face Trainer).
{origin}
Prompt format: `pipeline.common.prompt_format` (`<bos>`, `<|user|>`, `<|assistant|>`, `<eos>`);
no BOS is added by the tokenizer.

## Architecture ({metrics["parameters"]:,} parameters)

| field | value |
|---|---|
{shape_rows}

## Data

Token shards `{metrics["shards_dir"]}`, stream `{metrics["stream"]}`:
{metrics["train_tokens_available"]:,} train tokens available,
sequences of {metrics["seq_len"]} tokens, {metrics["tokens_per_step"]:,} tokens per optimizer step.

## Training

Device {metrics["device"]["name"]} ({metrics["device"]["precision"]}), learning rate {metrics["learning_rate"]}
(cosine to {metrics["min_learning_rate"]}), {metrics["stopped_reason"]}.

| metric | value |
|---|---|
{result_rows}

![loss curve]({LOSS_CURVE_FILE})
"""
