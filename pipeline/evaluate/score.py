"""Score a model by running its answers: pass@1 (greedy) and pass@k (sampled) on the task suite.

Each task's prompt is answered by the model (an HF instruct checkpoint directory or a ``.gguf``
file) once greedily and ``samples`` times at ``temperature``; each answer ends at the end of the
turn. The code is the answer's first fenced block, or the whole answer when it has none. Every
answer runs on the task's simulated board (``sandbox.run_many``) and ``task.check`` reads its
timeline. ``invented_apis`` names what it uses that the board's stubs lack.

pass@k is the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on
Code", eq. 1): 1 - C(n-c, k) / C(n, k) for c passing answers out of n; with n = k it is "any of the
k passed". The result is plain JSON (``scores.json``); ``scores_table`` renders it as Markdown.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.common.decoding import DECODING
from pipeline.evaluate.sandbox import RunJob, run_many, self_check
from pipeline.evaluate.stubs import invented_apis

if TYPE_CHECKING:
    from pipeline.evaluate.tasks import Task

SCORES_FILE = "scores.json"
TABLE_FILE = "scores.md"
_FENCE = re.compile(r"(`{3,}|~{3,})[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:\n[ \t]*\1|\Z)", re.DOTALL)


@dataclass
class ScoreSettings:
    tasks: str = "*"  # task ids to run (fnmatch glob); "demo": the fixed subset `make demo` shows
    samples: int = 5  # sampled answers per task, for pass@k with k = samples (0: greedy only)
    temperature: float = 0.8  # of the sampled answers
    # per answer (less where the prompt leaves less of the context); capped by DECODING.max_new_tokens
    max_new_tokens: int = DECODING.max_new_tokens
    seed: int = 0  # sampling seed (GGUF: sample i uses seed + i; HF: one batch of samples)
    workers: int | None = None  # programs run side by side (default: one per core)

    def validate(self) -> None:
        if self.samples < 0 or self.max_new_tokens < 1:
            raise ValueError(f"ScoreSettings: samples must be >= 0 and max_new_tokens >= 1, got {self}")
        if self.samples and self.temperature <= 0:
            raise ValueError(f"ScoreSettings.temperature must be > 0 for sampled answers, got {self.temperature}")


def chosen_tasks(pattern: str) -> list[Task]:
    """The tasks a settings value names: a glob over task ids, or "demo"."""
    from pipeline.evaluate.tasks import DEMO_TASK_IDS, all_tasks, select_tasks  # builds the suite

    if pattern == "demo":
        wanted = set(DEMO_TASK_IDS)
        chosen = [task for task in all_tasks() if task.task_id in wanted]
        if len(chosen) != len(wanted) or not chosen:
            raise ValueError(f"DEMO_TASK_IDS names {len(wanted)} ids, {len(chosen)} of them tasks of the suite")
        return chosen
    return select_tasks(pattern)


def extract_code(answer: str) -> str:
    """The program in an answer: its first fenced block (a Python one first), else the whole answer."""
    blocks = [(lang.lower(), body) for _, lang, body in _FENCE.findall(answer)]
    for lang, body in blocks:
        if lang in ("python", "py", "micropython"):
            return body.strip("\n") + "\n"
    return (blocks[0][1].strip("\n") + "\n") if blocks else answer


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k answers drawn from n (c of them passing) passes."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


# --- answers from a model ------------------------------------------------------------------------


def model_answers(model: Path, prompts: list[str], settings: ScoreSettings) -> list[list[str] | None]:
    """Per prompt: the greedy answer, then ``samples`` sampled ones; None where the prompt leaves no room
    in the model's context (a tiny test model's)."""
    model = Path(model)
    if model.suffix == ".gguf":
        return _gguf_answers(model, prompts, settings)
    if (model / "config.json").is_file():
        return _hf_answers(model, prompts, settings)
    raise ValueError(f"{model}: neither a .gguf file nor an HF checkpoint directory (no config.json)")


def _gguf_answers(path: Path, prompts: list[str], settings: ScoreSettings) -> list[list[str] | None]:
    from pipeline.gguf.generate import complete, context_length, load_llama, prompt_text, tokenize  # llama.cpp

    llm = load_llama(path)
    try:
        out = []
        for prompt in prompts:
            if len(tokenize(llm, prompt_text(prompt, instruct=True))) >= context_length(llm):
                out.append(None)
                continue
            greedy = complete(llm, prompt, settings.max_new_tokens)
            sampled = [
                complete(llm, prompt, settings.max_new_tokens, temperature=settings.temperature, seed=settings.seed + i)
                for i in range(settings.samples)
            ]
            out.append([greedy, *sampled])
        return out
    finally:
        llm.close()


def _hf_answers(model_dir: Path, prompts: list[str], settings: ScoreSettings) -> list[list[str] | None]:
    from pipeline.common.prompt_format import cut_at_stop, format_prompt
    from pipeline.train.generate import continuations, decoding_threads, load_hf  # torch: only when answering
    from pipeline.train.model import context_length

    model, tokenizer = load_hf(model_dir)
    context = context_length(model.config)
    out = []
    with decoding_threads(model):
        for prompt in prompts:
            text = format_prompt(prompt)
            budget = min(settings.max_new_tokens, context - len(tokenizer.encode(text)))
            if budget <= 0:
                out.append(None)
                continue
            answers = continuations(model, tokenizer, text, budget)
            if settings.samples:
                answers += continuations(
                    model, tokenizer, text, budget, settings.temperature, settings.samples, settings.seed
                )
            out.append([cut_at_stop(answer) for answer in answers])
    return out


# --- running and judging -----------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerResult:
    answer: str
    code: str
    passed: bool
    reason: str  # the check's verdict, or why the run ended
    status: str  # the sandbox's: ok / raised / timeout / memory / crashed
    error: str | None
    invented: tuple[str, ...]


def judge(tasks: list[Task], answers: list[list[str]], workers: int | None = None) -> list[list[AnswerResult]]:
    """Run every answer on its task's board and check it; results in the answers' shape."""
    flat = [(task, answer) for task, group in zip(tasks, answers) for answer in group]
    codes = [extract_code(answer) for _, answer in flat]
    # Phrasings of one case share board, world and check, and answers repeat: run each program once.
    keys = [(code, t.board, t.seconds, json.dumps(t.world, sort_keys=True)) for (t, _), code in zip(flat, codes)]
    distinct = list(dict.fromkeys(keys))
    jobs = [
        RunJob(code, board=board, seconds=seconds, world=json.loads(world)) for code, board, seconds, world in distinct
    ]
    by_key = dict(zip(distinct, run_many(jobs, workers)))
    runs = [by_key[key] for key in keys]
    results = []
    for (task, answer), code, run in zip(flat, codes, runs):
        verdict = task.check(run)
        results.append(
            AnswerResult(
                answer=answer,
                code=code,
                passed=verdict.passed,
                reason=verdict.reason,
                status=run.status,
                error=run.error,
                invented=tuple(invented_apis(code, task.board)),
            )
        )
    grouped, start = [], 0
    for group in answers:
        grouped.append(results[start : start + len(group)])
        start += len(group)
    return grouped


def _group_rates(rows: list[dict], key: str, k: int) -> dict[str, dict]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return {
        name: {
            "tasks": len(members),
            "pass_at_1": round(sum(r["greedy_passed"] for r in members) / len(members), 4),
            "pass_at_k": round(sum(r["pass_at_k"] for r in members) / len(members), 4) if k else None,
        }
        for name, members in sorted(groups.items())
    }


def summarize(tasks: list[Task], results: list[list[AnswerResult]], samples: int) -> dict:
    """The JSON-able result: totals, by family and board, API and error rates, one row per task."""
    k = samples
    rows = []
    for task, group in zip(tasks, results):
        greedy, sampled = group[0], group[1:]
        rows.append(
            {
                "task_id": task.task_id,
                "family": task.family,
                "board": task.board,
                "greedy_passed": greedy.passed,
                "samples_passed": sum(r.passed for r in sampled),
                "pass_at_k": pass_at_k(len(sampled), sum(r.passed for r in sampled), k) if k else None,
                "greedy": asdict(greedy) | {"invented": list(greedy.invented)},
            }
        )
    answers = [r for group in results for r in group]
    invented = Counter(name for r in answers for name in r.invented)
    n = len(rows)
    return {
        "tasks": n,
        "samples": samples,
        "answers": len(answers),
        "passed_greedy": sum(r["greedy_passed"] for r in rows),
        "pass_at_1": round(sum(r["greedy_passed"] for r in rows) / n, 4) if n else None,
        "pass_at_k": round(sum(r["pass_at_k"] for r in rows) / n, 4) if n and k else None,
        "by_family": _group_rates(rows, "family", k),
        "by_board": _group_rates(rows, "board", k),
        "invented_api_rate": round(sum(bool(r.invented) for r in answers) / len(answers), 4) if answers else None,
        "invented_api_names": dict(invented.most_common()),
        "raised_rate": round(sum(r.status == "raised" for r in answers) / len(answers), 4) if answers else None,
        "raised": sum(r.status == "raised" for r in answers),
        "task_results": rows,
    }


def score_model(model: Path, settings: ScoreSettings, tasks: list[Task] | None = None) -> dict:
    """Answer, run and judge every chosen task; the summary plus wall times."""
    settings.validate()
    tasks = chosen_tasks(settings.tasks) if tasks is None else tasks
    self_check()  # before the answers: they cost minutes, and a broken sandbox would fail them all
    start = time.perf_counter()
    answered_or_not = model_answers(model, [task.prompt for task in tasks], settings)
    # A prompt that does not fit the context gets empty answers: they fail like any non-answer.
    answers = [group if group is not None else [""] * (1 + settings.samples) for group in answered_or_not]
    answered = time.perf_counter()
    results = judge(tasks, answers, settings.workers)
    summary = summarize(tasks, results, settings.samples)
    summary |= {
        "model": str(model),
        "prompts_too_long": sum(group is None for group in answered_or_not),
        "temperature": settings.temperature,
        "answer_s": round(answered - start, 2),
        "run_s": round(time.perf_counter() - answered, 2),
    }
    return summary


# How one scoring run went rather than what it found: where the model file was and the wall times.
# They stay out of the written scores, so scoring the same model twice writes the same bytes (the
# artifact's version is its content hash) and a moved store does not change what it holds.
RUN_FIELDS = ("model", "answer_s", "run_s")


def scores_json(summary: dict) -> str:
    """The summary as written to disk: without ``RUN_FIELDS``."""
    return json.dumps({k: v for k, v in summary.items() if k not in RUN_FIELDS}, indent=2) + "\n"


def write_scores(summary: dict, out_dir: Path, label: str) -> None:
    """``scores.json`` and ``scores.md`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SCORES_FILE).write_text(scores_json(summary))
    (out_dir / TABLE_FILE).write_text(scores_table({label: summary}) + "\n")


def build_task_scores(gguf_path: Path, out_dir: Path, settings: ScoreSettings, label: str) -> dict:
    """The task_scores stage: score one GGUF variant; its headline numbers and table as metadata."""
    summary = score_model(gguf_path, settings)
    write_scores(summary, out_dir, label)
    return {
        "tasks": summary["tasks"],
        "passed_greedy": summary["passed_greedy"],
        "pass_at_1": summary["pass_at_1"],
        f"pass_at_{settings.samples}": summary["pass_at_k"],
        "invented_api_rate": summary["invented_api_rate"],
        "raised_rate": summary["raised_rate"],
        "answer_s": summary["answer_s"],
        "run_s": summary["run_s"],
        "table": scores_table({label: summary}),
    }


# --- Markdown ------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def scores_table(results: dict[str, dict]) -> str:
    """One table for one or more models (columns), rows overall, by family and by board."""
    labels = list(results)
    k = next((r["samples"] for r in results.values() if r["samples"]), 0)
    header = ["tasks", "n", *(f"{label} pass@1 / pass@{k}" if k else f"{label} pass@1" for label in labels)]

    def cells(entry: dict | None) -> str:
        if entry is None:
            return "–"
        return _pct(entry["pass_at_1"]) + (f" / {_pct(entry['pass_at_k'])}" if k else "")

    first = results[labels[0]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.append(f"| **all** | {first['tasks']} | " + " | ".join(cells(results[x]) for x in labels) + " |")
    for section in ("by_family", "by_board"):
        for name, entry in first[section].items():
            row = [cells(results[x][section].get(name)) for x in labels]
            lines.append(f"| {section[3:]} {name} | {entry['tasks']} | " + " | ".join(row) + " |")
    extra = ["", "| model | answers | with an invented API | raised | most invented |", "|---|---|---|---|---|"]
    for label, r in results.items():
        top = ", ".join(f"`{name}` ×{count}" for name, count in list(r["invented_api_names"].items())[:5]) or "–"
        extra.append(
            f"| {label} | {r['answers']} | {_pct(r['invented_api_rate'])} | {_pct(r['raised_rate'])} | {top} |"
        )
    return "\n".join(lines + extra)
