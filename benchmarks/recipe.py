"""Each lever of the recipe against the task pass rate, at a fixed CPU budget on a real library.

A row is a named set of run-config overrides on the defaults, in the shape `mpyforge run --config`
takes (``{asset: {field: value}}``, listed in ``recipe_rows.py``): ``baseline`` is the defaults, the
others change one lever or a few together.
For every row and seed, on the library of ``../shared/realcorpus`` and ``../shared/realpdf``:

* the stages up to ``token_shards`` run through the real pipeline with the row's config for them
  (``quality.build_inputs``; rows that leave them alone share one build in ``--work``);
* ``base_checkpoint`` then ``instruct_checkpoint`` train llama-5m on the CPU with the settings their
  assets would use (``assets.training.checkpoint_settings``, the row's fields applied), each for
  its planned steps or as many as its share of ``--minutes`` affords, whichever is fewer;
* the instruct model is written as a Q4_K_M GGUF (F32 master, llama.cpp's quantizer);
* both the HF model and the Q4_K_M file answer the task suite greedily (``score_model``), and the
  base model's bits per byte on the val ``.py`` files are measured as ``quality.py`` does.

One JSON line per (row, seed) goes to ``<work>/recipe/results.jsonl`` (a rerun skips what is there
for the same budget, tasks and token shards) and the Markdown table for docs/benchmarks.md
(``recipe_results.py``) to ``table.md``. Each run's Q4_K_M file and every answer with its verdict
(``scores.json`` of ``hf`` and ``q4_k_m``) stay in ``<work>/recipe/runs/<row>/<seed>``.
A row's ``recipe`` entry holds knobs of this benchmark, not of the pipeline (``base_share``).

Besides ``--minutes`` of training, each (row, seed) costs its evaluations. Measured on 2 idle cores
with a random llama-5m (answers run to the 256-token limit, the slow case): the 223-task suite
takes 65 s from a GGUF (45 s answering, 20 s running) and about 6.5 min from the HF model (1.65 s
per answer), hence ``--hf-tasks``. Bits per byte on 10 val files took 4 min on a busy machine.

    python -m benchmarks.recipe --dry-run                       # the rows and what each overrides
    python -m benchmarks.recipe --minutes 45 --seeds 3          # every row: about 55 min per (row, seed)
    python -m benchmarks.recipe --minutes 45 --seeds 2 --from-seed 1 --rows baseline   # seeds 1235 and 1236 only
    python -m benchmarks.recipe --minutes 2 --seeds 1 --rows baseline --tasks 'blink/*' \
        --set base_checkpoint.eval_tokens=16384 --set instruct_checkpoint.eval_tokens=16384   # a smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from benchmarks import quality
from benchmarks.recipe_results import current_lines, measured_as, read_results, results_table
from benchmarks.recipe_rows import ROWS, TRAINING_ASSETS, Row, chosen_rows, parse_sets
from pipeline.corpus.build import CORPUS_FILE

PRESET = ("llama", "5m")
BASE_SEED = 1234  # TrainSettings.seed's default: seed index 0 is the pipeline's own run

# --- one (row, seed) ------------------------------------------------------------------------------


def stage_settings(row: Row, mode: str, seed: int, wired: dict):
    """The trainer's settings as the asset builds them from its config, the row's fields applied."""
    from assets.training import TrainingConfig, checkpoint_settings  # Dagster: only when training

    family, size = PRESET
    fields = {"family": family, "size": size, "seed": seed, **row.train_ops.get(mode, {})}
    unknown = sorted(set(fields) - set(TrainingConfig.model_fields))
    if unknown:
        asset = next(name for name, m in TRAINING_ASSETS.items() if m == mode)
        raise ValueError(f"row {row.name!r}: {asset}.{unknown[0]} is not a config field of {asset}")
    return checkpoint_settings(TrainingConfig(**fields), mode, device="cpu", precision="fp32", **wired)


def train_stage(settings, budget_s: float) -> dict:
    """Probe the speed (``quality.probe_alone``), then train the planned steps or what the budget
    affords, whichever is fewer.

    The budget pays for the val evaluations too (every ``eval_every`` steps and once at the end, over
    ``eval_tokens`` or the whole val split): on a busy CPU one evaluation can cost minutes.
    """
    from pipeline.train.data import open_split
    from pipeline.train.run import run_training

    started = time.monotonic()
    probe_dir = Path(settings.output_dir + "-probe")
    steps = quality.PROBE_STEPS
    every = dict(log_every=quality.PROBE_LOG_EVERY, eval_every=steps, save_every=steps)
    probe_settings = dict(export_dir=None, max_steps=steps, eval_tokens=16_384, **every)
    probe = quality.probe_alone(
        probe_dir, lambda out: run_training(dataclasses.replace(settings, output_dir=out, **probe_settings))
    )
    started += probe["probe_waited_s"]
    planned = settings.max_steps or max(1, probe["token_budget"] // probe["tokens_per_step"])
    left = budget_s * (1 - quality.EVAL_RESERVE) - (time.monotonic() - started)
    probe_evals = [entry["eval_runtime"] for entry in probe["log_history"] if "eval_runtime" in entry]
    val_tokens = open_split(Path(settings.shards_dir), settings.stream, "val").num_tokens
    eval_s = statistics.fmean(probe_evals) * min(settings.eval_tokens, val_tokens) / probe["val_tokens_evaluated"]
    step_s = probe["tokens_per_step"] / probe["tokens_per_second"]
    affordable = int((left - eval_s) / (step_s + eval_s / settings.eval_every))
    steps = max(settings.log_every, min(planned, affordable) // settings.log_every * settings.log_every)
    shutil.rmtree(settings.output_dir, ignore_errors=True)
    # As the asset runs SFT (python -m pipeline.evaluate.dev_tasks): its checkpoint kept by dev tasks passed.
    from pipeline.evaluate.dev_tasks import dev_tasks_for

    dev = dev_tasks_for(settings, print) if settings.mode == "sft" else None
    metrics = run_training(dataclasses.replace(settings, max_steps=steps), dev=dev)
    return {
        "model_dir": metrics["model_dir"],
        "seq_len": metrics["seq_len"],
        "planned_steps": planned,
        "steps": metrics["steps"],
        "budget_capped": steps < planned,
        "val_loss": round(metrics["final_val_loss"], 4),
        "stopped": metrics["stopped_reason"],
        "probe_tokens_per_second": round(probe["tokens_per_second"]),
        "probe_eval_s": round(eval_s, 1),
        "probe_other_cores": probe["probe_other_cores"],
        "wall_s": round(time.monotonic() - started, 1),
    }


def q4_k_m(model_dir: Path, out_dir: Path) -> Path:
    from pipeline.gguf.quantize import quantize
    from pipeline.gguf.writer import write_gguf

    master = out_dir / "model-f32.gguf"
    write_gguf(model_dir, master, dtype="f32")
    out = out_dir / "model-q4_k_m.gguf"
    quantize(master, out, "q4_k_m")
    master.unlink()
    return out


def task_result(model: Path, tasks: str, out_dir: Path) -> dict:
    """pass@1 of ``model`` on ``tasks``; every answer and verdict stays in ``out_dir`` (scores.json)."""
    from pipeline.evaluate.score import ScoreSettings, score_model, write_scores

    summary = score_model(model, ScoreSettings(tasks=tasks, samples=0))
    write_scores(summary, out_dir, out_dir.name)
    families = summary["by_family"]
    return {
        "pass_at_1": summary["pass_at_1"],
        "passed": summary["passed_greedy"],
        "families_passed": sorted(name for name, entry in families.items() if entry["pass_at_1"] > 0),
        "eval_s": round(summary["answer_s"] + summary["run_s"], 1),
    }


def run_one(row: Row, seed_index: int, store, run_dir: Path, opts: argparse.Namespace, val_files: list[str]) -> dict:
    from pipeline.tokens.shards import SHARDS_SUBDIR

    seed = BASE_SEED + seed_index
    budget_s = opts.minutes * 60
    wired = dict(
        shards_dir=str(store.current("token_shards").path / SHARDS_SUBDIR),
        tokenizer_dir=str(store.current("bpe_tokenizer").path),
    )
    base_settings = stage_settings(row, "pretrain", seed, {**wired, "output_dir": str(run_dir / "base")})
    base = train_stage(base_settings, budget_s * row.knobs["base_share"])
    sft_wired = {**wired, "output_dir": str(run_dir / "sft"), "init_from": base["model_dir"]}
    sft = train_stage(stage_settings(row, "sft", seed, sft_wired), budget_s - base["wall_s"])
    bits = None
    if val_files:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(base["model_dir"]).eval()
        tokenizer = AutoTokenizer.from_pretrained(base["model_dir"])
        bits = round(quality.model_bits_per_byte(model, tokenizer, val_files, base["seq_len"]), 3)
    gguf = q4_k_m(Path(sft["model_dir"]), run_dir)
    return {
        "row": row.name,
        "seed": seed,
        "overrides": row.overrides,
        **measured_as(opts),
        "data": store.current("token_shards").version,
        "hf": task_result(Path(sft["model_dir"]), opts.hf_tasks, run_dir / "hf") if opts.hf_tasks else None,
        "q4_k_m": task_result(gguf, opts.tasks, run_dir / "q4_k_m"),
        "families": len(_families(opts.tasks)),
        "bits_per_byte": bits,
        "train_minutes": round((base["wall_s"] + sft["wall_s"]) / 60, 2),
        "base": base,
        "sft": sft,
    }


def _families(tasks: str) -> set[str]:
    from pipeline.evaluate.score import chosen_tasks

    return {task.family for task in chosen_tasks(tasks)}


def data_store(row: Row, opts: argparse.Namespace):
    """The row's corpus, pairs, tokenizer and shards. A row that configures these stages starts from a
    copy of the defaults' build, so only what its config makes stale is rebuilt (by the code of now),
    and what it leaves alone is the very data the baseline trains on."""
    baseline = quality.build_inputs(opts.work, opts.pdf_inbox)
    if not row.data_key:
        return baseline
    target = opts.work / "data" / row.data_key
    if not (target / "artifacts").is_dir():
        for part in ("artifacts", "cwd", "home"):
            shutil.copytree(opts.work / part, target / part, symlinks=True, dirs_exist_ok=True)
    return quality.build_inputs(target, opts.pdf_inbox, row.data_ops)


# --- command line --------------------------------------------------------------------------------


def seed_indexes(opts: argparse.Namespace) -> range:
    """The seed indexes to run: ``--seeds`` of them from ``--from-seed`` (a rerun skips those already measured)."""
    return range(opts.from_seed, opts.from_seed + opts.seeds)


def plan_lines(rows: list[Row], opts: argparse.Namespace) -> list[str]:
    lines = [
        f"budget {opts.minutes} min per model (base share of it: per row), tasks {opts.tasks!r}, "
        f"every row with {json.dumps(opts.sets)}, work {opts.work}"
    ]
    for row in rows:
        data = opts.work / "data" / row.data_key if row.data_key else opts.work
        lines.append(
            f"{row.name}: data {json.dumps(row.data_ops)} in {data}; training {json.dumps(row.train_ops)}; "
            f"knobs {json.dumps(row.knobs)}; seeds {[BASE_SEED + i for i in seed_indexes(opts)]}"
        )
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=45.0, help="training budget per model (base + SFT)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per row")
    parser.add_argument(
        "--from-seed", type=int, default=0, help="first seed index (0 is seed 1234): later seeds of a row on their own"
    )
    parser.add_argument("--rows", default=None, help=f"comma-separated row names (default all: {', '.join(ROWS)})")
    parser.add_argument("--tasks", default="*", help="task ids (glob) or 'demo', as `mpyforge eval --tasks`")
    parser.add_argument(
        "--hf-tasks", default=None, help="tasks the HF model answers (default: --tasks; '': none; it is the slow one)"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/mpyforge-quality"), help="quality.py's --work")
    parser.add_argument("--bpb-files", type=int, default=60, help="val .py files for bits/byte (0: skip)")
    parser.add_argument("--pdf-inbox", type=Path, default=quality.SHARED / "realpdf")
    parser.add_argument(
        "--set", action="append", default=[], metavar="ASSET.FIELD=VALUE", help="run config for every row"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the rows and what each overrides, then stop")
    opts = parser.parse_args(argv)
    if opts.seeds < 1 or opts.from_seed < 0 or opts.minutes <= 0:
        parser.error("--seeds must be >= 1, --from-seed >= 0 and --minutes > 0")
    opts.hf_tasks = opts.tasks if opts.hf_tasks is None else opts.hf_tasks
    try:
        opts.sets = parse_sets(opts.set)
    except ValueError as err:
        parser.error(str(err))
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    try:
        rows = chosen_rows(opts.rows, ROWS, opts.sets)
        for row in rows:
            for mode in TRAINING_ASSETS.values():
                stage_settings(row, mode, BASE_SEED, {})  # a wrong field fails now, not an hour in
    except ValueError as err:  # pydantic's ValidationError is one
        print(f"recipe.py: {err}", file=sys.stderr)
        return 2
    print("\n".join(plan_lines(rows, opts)), flush=True)
    if opts.dry_run:
        return 0
    if not (quality.SHARED / "realcorpus").is_dir() or not (quality.SHARED / "realpdf").is_dir():
        print(f"recipe.py: {quality.SHARED}/realcorpus and realpdf are needed (they are not part of the project)")
        return 2
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    out_dir = opts.work / "recipe"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.jsonl"
    # Every row's data first: a wrong data-stage field (checked by `mpyforge run`) fails before any training.
    stores = {row.name: data_store(row, opts) for row in rows}
    # A line counts only for the data its row trains on now: shards built by older code are another recipe.
    shards = {name: store.current("token_shards").version for name, store in stores.items()}
    val_files = []
    if opts.bpb_files:  # every row is scored on the same files: the first row's val .py files
        val_files = quality.val_code_files(stores[rows[0].name].current("corpus").path / CORPUS_FILE)[: opts.bpb_files]
    for row in rows:
        store = stores[row.name]
        measured = current_lines(read_results(results, opts), shards)
        done = {line["seed"] for line in measured if line["row"] == row.name}
        for index in seed_indexes(opts):
            if BASE_SEED + index in done:
                continue
            run_dir = out_dir / "runs" / hashlib.sha256(row.name.encode()).hexdigest()[:8] / str(index)
            line = run_one(row, index, store, run_dir, opts, val_files)
            with results.open("a") as handle:
                handle.write(json.dumps(line) + "\n")
            print(json.dumps(line), flush=True)
            for checkpoint in ("base", "sft"):  # optimizer states and all; the Q4_K_M file and scores stay
                shutil.rmtree(run_dir / checkpoint, ignore_errors=True)
    table = results_table(current_lines(read_results(results, opts), shards))
    (out_dir / "table.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
