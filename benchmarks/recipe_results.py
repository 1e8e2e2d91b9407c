"""The recipe benchmark's results: which lines of ``results.jsonl`` compare, and their Markdown table.

A line is comparable with another when both were measured with the same budget, tasks and ``--set``s
(``measured_as``) and on the token shards its row has now (``current_lines``); the table holds one
row per lever with each seed's pass@1 beside the mean.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def _pct(values: list[float]) -> str:
    if not values:
        return "–"
    mean = f"{100 * statistics.fmean(values):.1f} %"
    return mean if len(values) == 1 else f"{mean} ({', '.join(f'{100 * v:.1f}' for v in values)})"


def _mean(values: list, digits: int) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.fmean(known):.{digits}f}" if known else "–"


def results_table(lines: list[dict]) -> str:
    """Markdown: one row per lever (first-seen order), the mean pass@1 and each seed's in brackets."""
    by_row: dict[str, list[dict]] = {}
    for line in lines:
        by_row.setdefault(line["row"], []).append(line)
    header = (
        "| row | overrides | seeds | Q4_K_M pass@1 | HF pass@1 | families passed (Q4_K_M) | bits/byte (base) "
        "| train min |"
    )
    out = [header, "|---|---|---:|---|---|---|---:|---:|"]
    for name, group in by_row.items():
        overrides = ", ".join(
            f"`{asset}.{field}={json.dumps(value)}`"
            for asset, fields in group[0]["overrides"].items()
            for field, value in fields.items()
        )
        families = [len(line["q4_k_m"]["families_passed"]) for line in group]
        out.append(
            f"| {name} | {overrides or 'defaults'} | {len(group)} "
            f"| {_pct([line['q4_k_m']['pass_at_1'] for line in group])} "
            f"| {_pct([line['hf']['pass_at_1'] for line in group if line['hf']])} "
            f"| {_mean(families, 1)} of {group[0]['families']} "
            f"| {_mean([line['bits_per_byte'] for line in group], 3)} "
            f"| {_mean([line['train_minutes'] for line in group], 1)} |"
        )
    return "\n".join(out)


def read_results(path: Path, opts: argparse.Namespace) -> list[dict]:
    """The lines of ``path`` measured as ``opts`` measures: budget, tasks and ``--set``s."""
    if not path.is_file():
        return []
    lines = [json.loads(text) for text in path.read_text().splitlines() if text.strip()]
    return [line for line in lines if all(line.get(key) == value for key, value in measured_as(opts).items())]


def current_lines(lines: list[dict], shards: dict[str, str]) -> list[dict]:
    """The lines measured on the token shards each row has now (``shards``: row name -> version)."""
    return [line for line in lines if line.get("data") == shards.get(line["row"])]


def measured_as(opts: argparse.Namespace) -> dict:
    """What makes two lines comparable, recorded in each."""
    return {"minutes": opts.minutes, "tasks": opts.tasks, "hf_tasks": opts.hf_tasks, "set": opts.sets}
