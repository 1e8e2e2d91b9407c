"""Generation evaluation: greedy answers to the val instructions, scored.

Each val instruction (original pairs only, variant 0) is answered greedily by the
instruct model in HF and, when given, by one GGUF variant in llama.cpp. Every
answer, and the reference answer as a ceiling, is scored by

* syntax validity: the real ``mpy-cross`` compiles it (an empty answer is invalid);
* imports: the share of imported modules that MicroPython has (``mpy_imports``);
* chrF and exact match against the reference (``text_metrics``).

Generated code is compiled and parsed, never run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from transformers import AutoConfig, AutoTokenizer

from pipeline.common.prompt_format import format_prompt, stop_sequences
from pipeline.common.text_metrics import chrf, exact_match
from pipeline.gguf.generate import generate_gguf
from pipeline.pairs.mpy_compile import compile_many
from pipeline.report.mpy_imports import check_imports
from pipeline.train.generate import generate_hf
from pipeline.train.model import context_length

PAIR_COLUMNS = ("pair_id", "variant", "instruction", "response", "split")


@dataclass(frozen=True)
class EvalPair:
    pair_id: str
    instruction: str
    reference: str


def load_eval_pairs(pairs_path: Path, limit: int) -> list[EvalPair]:
    """The first ``limit`` val originals by pair_id (a stable choice across runs)."""
    pairs_path = Path(pairs_path)
    if not pairs_path.is_file():
        raise ValueError(f"{pairs_path}: pairs file not found")
    missing = [c for c in PAIR_COLUMNS if c not in pq.read_schema(pairs_path).names]
    if missing:
        raise ValueError(f"{pairs_path}: missing column(s) {missing}")
    table = pq.read_table(pairs_path, columns=list(PAIR_COLUMNS)).to_pandas()
    val = table[(table["split"] == "val") & (table["variant"] == 0)].sort_values("pair_id").head(limit)
    return [EvalPair(str(r.pair_id), r.instruction, r.response) for r in val.itertuples()]


def model_context(model_dir: Path) -> int:
    try:
        return context_length(AutoConfig.from_pretrained(model_dir))
    except ValueError as exc:
        raise ValueError(f"{model_dir}/config.json: {exc}") from exc


def token_budgets(model_dir: Path, pairs: list[EvalPair], max_new_tokens: int) -> list[int]:
    """New tokens each prompt leaves room for in the context (0: the prompt does not fit).

    GPT-2 indexes its position table past the end instead of failing cleanly, so
    a long prompt must be caught before generation rather than by it.
    """
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    context = model_context(model_dir)
    return [max(0, min(max_new_tokens, context - len(tokenizer.encode(format_prompt(p.instruction))))) for p in pairs]


def cut_at_stop(text: str) -> str:
    """The answer up to the first stop sequence (llama.cpp stops there; HF only stops at ``<eos>``)."""
    ends = [text.find(stop) for stop in stop_sequences() if stop in text]
    return text[: min(ends)] if ends else text


def score_code(sources: list[str], march: str) -> list[dict]:
    """Syntax validity (mpy-cross) and import check of each snippet."""
    compiled = compile_many(sources, march=march)
    scores = []
    for source, result in zip(sources, compiled):
        imports = check_imports(source)
        empty = not source.strip()
        scores.append(
            {
                "syntax_valid": result.ok and not empty,
                "compile_error": "empty answer"
                if empty
                else ("" if result.ok else f"{result.error_type}: {result.message}"),
                "imports": list(imports.modules),
                "unknown_imports": list(imports.unknown),
            }
        )
    return scores


def score_answers(answers: list[str], references: list[str], march: str) -> list[dict]:
    scores = score_code(answers, march)
    for score, answer, reference in zip(scores, answers, references):
        score.update(
            completion=answer, chrf=round(chrf(answer, reference), 2), exact_match=exact_match(answer, reference)
        )
    return scores


def summarize(scores: list[dict], label: str, against_reference: bool) -> dict[str, float | None]:
    """Mean rates over the scored answers (None when there are none).

    The import rate counts imports, not answers: 3 good imports and 1 unknown give
    0.75. It is None when no answer imports anything.
    """
    imported = sum(len(s["imports"]) for s in scores)
    known = imported - sum(len(s["unknown_imports"]) for s in scores)

    def mean(key: str, digits: int) -> float | None:
        return round(sum(float(s[key]) for s in scores) / len(scores), digits) if scores else None

    summary = {
        f"syntax_valid_rate_{label}": mean("syntax_valid", 4),
        f"import_valid_rate_{label}": round(known / imported, 4) if imported else None,
    }
    if against_reference:
        summary[f"chrf_{label}"] = mean("chrf", 2)
        summary[f"exact_match_{label}"] = mean("exact_match", 4)
    return summary


def evaluate_generations(
    instruct_dir: Path, gguf_path: Path | None, pairs: list[EvalPair], max_new_tokens: int, march: str
) -> tuple[list[dict], dict]:
    """Per-pair records (for generations.jsonl) and the summary rates."""
    budgets = token_budgets(instruct_dir, pairs, max_new_tokens)
    fitting = [(pair, budget) for pair, budget in zip(pairs, budgets) if budget > 0]
    references = [pair.reference for pair, _ in fitting]
    hf = [cut_at_stop(generate_hf(instruct_dir, p.instruction, budget, instruct=True)) for p, budget in fitting]
    reference_scores = score_code(references, march)
    hf_scores = score_answers(hf, references, march)
    gguf_scores: list[dict | None] = [None] * len(fitting)
    if gguf_path is not None:
        gguf = [cut_at_stop(generate_gguf(gguf_path, p.instruction, budget, instruct=True)) for p, budget in fitting]
        gguf_scores = score_answers(gguf, references, march)
    summary = {
        "eval_pairs": len(fitting),
        "eval_pairs_skipped_too_long": len(pairs) - len(fitting),
        **summarize(reference_scores, "reference", against_reference=False),
        **summarize(hf_scores, "hf", against_reference=True),
        **summarize([s for s in gguf_scores if s is not None], "gguf", against_reference=True),
    }
    records = [
        {
            "pair_id": pair.pair_id,
            "instruction": pair.instruction,
            "reference": pair.reference,
            "reference_scores": ref,
            "hf": hf_score,
            "gguf": gguf_score,
        }
        for (pair, _), ref, hf_score, gguf_score in zip(fitting, reference_scores, hf_scores, gguf_scores)
    ]
    return records, summary
