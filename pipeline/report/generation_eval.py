"""Generation evaluation: greedy answers to the val instructions, scored.

Each val instruction (original pairs only, variant 0) is answered greedily by the
instruct model in HF and by each GGUF variant given, in llama.cpp, with the rest of the
decoding settings (stop, repetition penalty, token limit) from ``pipeline.common.decoding``. Every answer, and
the reference answer as a ceiling, is scored by

* syntax validity: the real ``mpy-cross`` compiles it and it holds at least one statement
  (an empty or comment-only answer compiles but is not code: ``answer_checks``);
* imports: the share of imported modules that MicroPython has (``mpy_imports``);
* repetition: the share of lines repeating an earlier one; most lines repeated is a loop;
* API overlap: the answer calls at least one function or method the reference calls;
* chrF and exact match against the reference (``text_metrics``).

An answer is *useful* when it is valid code, does not loop and (when the reference calls
anything) calls an API the reference calls: a comment-only or looping answer scores 0.

Generated code is compiled and parsed, never run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.common.prompt_format import cut_at_stop, format_prompt
from pipeline.common.text_metrics import chrf, exact_match
from pipeline.gguf.generate import generate_gguf
from pipeline.pairs.mpy_compile import compile_many
from pipeline.report.answer_checks import check_answer, shares_api
from pipeline.report.mpy_imports import check_imports

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
        from transformers import AutoConfig

        from pipeline.train.model import context_length

        return context_length(AutoConfig.from_pretrained(model_dir))
    except ValueError as exc:
        raise ValueError(f"{model_dir}/config.json: {exc}") from exc


def token_budgets(model_dir: Path, pairs: list[EvalPair], max_new_tokens: int) -> list[int]:
    """New tokens each prompt leaves room for in the context (0: the prompt does not fit).

    GPT-2 indexes its position table past the end instead of failing cleanly, so
    a long prompt must be caught before generation rather than by it.
    """
    from transformers import AutoTokenizer  # heavy: loaded by the report step only

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    context = model_context(model_dir)
    return [max(0, min(max_new_tokens, context - len(tokenizer.encode(format_prompt(p.instruction))))) for p in pairs]


def _compile_error(source: str, compiled_ok: bool, error: str, statements: int) -> str:
    if not source.strip():
        return "empty answer"
    if not compiled_ok:
        return error
    return "" if statements else "no statement (only comments or strings)"


def score_code(sources: list[str], march: str) -> list[dict]:
    """Syntax validity (mpy-cross, at least one statement), imports and repetition of each snippet."""
    compiled = compile_many(sources, march=march)
    scores = []
    for source, result in zip(sources, compiled):
        imports = check_imports(source)
        check = check_answer(source)
        error = _compile_error(source, result.ok, f"{result.error_type}: {result.message}", check.statements)
        scores.append(
            {
                "syntax_valid": not error,
                "compile_error": error,
                "imports": list(imports.modules),
                "unknown_imports": list(imports.unknown),
                "repeated_line_share": round(check.repeated_line_share, 4),
                "looping": check.looping,
            }
        )
    return scores


def score_answers(answers: list[str], references: list[str], march: str) -> list[dict]:
    scores = score_code(answers, march)
    for score, answer, reference in zip(scores, answers, references):
        api = shares_api(check_answer(answer), check_answer(reference))
        score.update(
            completion=answer,
            chrf=round(chrf(answer, reference), 2),
            exact_match=exact_match(answer, reference),
            calls_reference_api=api,
            useful=score["syntax_valid"] and not score["looping"] and api is not False,
        )
    return scores


def summarize(scores: list[dict], label: str, against_reference: bool) -> dict[str, float | None]:
    """Mean rates over the scored answers (None when there are none).

    The import rate counts imports, not answers: 3 good imports and 1 unknown give
    0.75. It is None when no answer imports anything. The API-overlap rate is over the
    answers whose reference calls something.
    """
    imported = sum(len(s["imports"]) for s in scores)
    known = imported - sum(len(s["unknown_imports"]) for s in scores)

    def mean(key: str, digits: int) -> float | None:
        values = [float(s[key]) for s in scores if s.get(key) is not None]
        return round(sum(values) / len(values), digits) if values else None

    summary = {
        f"syntax_valid_rate_{label}": mean("syntax_valid", 4),
        f"import_valid_rate_{label}": round(known / imported, 4) if imported else None,
        f"looping_rate_{label}": mean("looping", 4),
        f"repeated_line_share_{label}": mean("repeated_line_share", 4),
    }
    if against_reference:
        summary[f"api_overlap_rate_{label}"] = mean("calls_reference_api", 4)
        summary[f"useful_rate_{label}"] = mean("useful", 4)
        summary[f"chrf_{label}"] = mean("chrf", 2)
        summary[f"exact_match_{label}"] = mean("exact_match", 4)
    return summary


def evaluate_generations(
    instruct_dir: Path, gguf_paths: dict[str, Path], pairs: list[EvalPair], max_new_tokens: int, march: str
) -> tuple[list[dict], dict]:
    """Per-pair records (for generations.jsonl) and the summary rates, for HF and each GGUF variant.

    Summary keys end in the label: ``_reference``, ``_hf`` and ``_gguf_<variant>``.
    """
    from pipeline.train.generate import generate_hf  # torch: only when answers are generated

    budgets = token_budgets(instruct_dir, pairs, max_new_tokens)
    fitting = [(pair, budget) for pair, budget in zip(pairs, budgets) if budget > 0]
    references = [pair.reference for pair, _ in fitting]
    hf = [cut_at_stop(generate_hf(instruct_dir, p.instruction, budget, instruct=True)) for p, budget in fitting]
    reference_scores = score_code(references, march)
    hf_scores = score_answers(hf, references, march)
    gguf_scores: dict[str, list[dict]] = {}
    for variant, path in gguf_paths.items():
        answers = [
            cut_at_stop(generate_gguf(path, p.instruction, budget, instruct=True, temperature=0.0))
            for p, budget in fitting
        ]
        gguf_scores[variant] = score_answers(answers, references, march)
    summary = {
        "eval_pairs": len(fitting),
        "eval_pairs_skipped_too_long": len(pairs) - len(fitting),
        **summarize(reference_scores, "reference", against_reference=False),
        **summarize(hf_scores, "hf", against_reference=True),
    }
    for variant, scores in gguf_scores.items():
        summary.update(summarize(scores, f"gguf_{variant}", against_reference=True))
    records = [
        {
            "pair_id": pair.pair_id,
            "instruction": pair.instruction,
            "reference": pair.reference,
            "reference_scores": reference_scores[i],
            "hf": hf_scores[i],
            "gguf": {variant: scores[i] for variant, scores in gguf_scores.items()},
        }
        for i, (pair, _) in enumerate(fitting)
    ]
    return records, summary
