"""The `mpyforge` command line: run the pipeline, open the UI, list artifacts, inspect stages."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline.common.artifacts import ArtifactStore, default_root


def _cmd_run(args: argparse.Namespace) -> int:
    # Dagster and the code location are slow to import, so only this command does.
    from assets.client.run_config import RunConfigError, load_config_file, merge_ops, parse_sets
    from assets.client.runner import run_pipeline

    try:
        ops = merge_ops(load_config_file(Path(args.config)) if args.config else {}, parse_sets(args.set or []))
        ok = run_pipeline(preset=args.preset, selection=args.select, force=args.force, ops=ops, workers=args.workers)
    except RunConfigError as err:
        print(f"mpyforge run: {err}", file=sys.stderr)
        return 2
    return 0 if ok else 1


def _cmd_doctor(args: argparse.Namespace) -> int:
    from assets.client.doctor import run_doctor

    return run_doctor(args.only)


def _cmd_ui(args: argparse.Namespace) -> int:
    # The dagster command of this environment (the venv's bin/ need not be on PATH).
    dagster = str(Path(sys.executable).parent / "dagster")
    command = [dagster, "dev", "-w", "workspace.yaml", "-h", args.host, "-p", str(args.port)]
    os.environ.setdefault("DAGSTER_HOME", str(Path.cwd()))
    import dagster as dg

    from resources.pools import ensure_pool_limits

    with dg.DagsterInstance.get() as instance:
        ensure_pool_limits(instance)  # the one limited pool: `gpu`, one training at a time
    return subprocess.call(command)


def _cmd_artifacts(args: argparse.Namespace) -> int:
    rows = ArtifactStore(args.root or default_root()).listing()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no artifacts under {args.root or default_root()} yet: run `make demo` or `mpyforge run`")
    for row in rows:
        name = row["asset"] if row["partition"] is None else f"{row['asset']}[{row['partition']}]"
        if "broken" in row:
            print(f"{name:40s} BROKEN: {row['broken']}")
            continue
        print(f"{name:40s} {row['version']}  {row['path']}")
        for held in row["quarantined"]:
            print(f"{'':40s} {held['version']}  QUARANTINED, not current: {held['reason']}")
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from pipeline.pdf.blocks import blocks_to_markdown
    from pipeline.pdf.extract import PdfExtractionError, extract_pdf_isolated

    path = Path(args.pdf)
    try:
        blocks = extract_pdf_isolated(path, path.stem)
    except PdfExtractionError as err:
        print(f"mpyforge extract: {err}", file=sys.stderr)
        return 2
    print(blocks_to_markdown(blocks))
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    model = Path(args.model)
    if model.suffix == ".gguf":
        from pipeline.gguf.generate import generate_gguf

        text = generate_gguf(model, args.prompt, max_tokens=args.max_tokens, instruct=not args.raw)
    else:
        from pipeline.train.generate import generate_hf
        from pipeline.train.outputs import METRICS_FILE

        metrics = model / METRICS_FILE
        tuned = metrics.exists() and json.loads(metrics.read_text()).get("mode") == "sft"
        text = generate_hf(model, args.prompt, max_new_tokens=args.max_tokens, instruct=tuned and not args.raw)
    print(text)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from pipeline.evaluate.sandbox import SandboxError
    from pipeline.evaluate.score import ScoreSettings, score_model, scores_table

    try:
        summary = score_model(Path(args.model), ScoreSettings(tasks=args.tasks, samples=args.samples))
    except (ValueError, FileNotFoundError, SandboxError) as err:
        print(f"mpyforge eval: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2) if args.json else scores_table({Path(args.model).name: summary}))
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from pipeline.evaluate.sandbox import SandboxError, format_timeline, run_program

    path = Path(args.file)
    try:
        source = path.read_text(encoding="utf-8")
        world = json.loads(Path(args.world).read_text()) if args.world else None
        result = run_program(source, board=args.board, seconds=args.seconds, world=world)
    except (OSError, ValueError, SandboxError) as err:
        print(f"mpyforge simulate: {err}", file=sys.stderr)
        return 2
    print(format_timeline(result))
    return 0 if result.status == "ok" else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpyforge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="build what is missing or stale, as Dagster runs in $DAGSTER_HOME")
    run.add_argument("--preset", default="tiny", help="model preset, e.g. tiny, 5m, llama-25m (default tiny)")
    run.add_argument("--select", default=None, help="Dagster asset selection, e.g. 'corpus+' (default: all)")
    run.add_argument("--force", action="store_true", help="rebuild the whole selection, up to date or not")
    run.add_argument(
        "--workers", type=int, default=None, help="partition runs (PDFs, GGUF variants) at once (default: cores)"
    )
    run.add_argument(
        "--config", default=None, help="Dagster run-config YAML (the Launchpad's `ops:` shape), over the preset"
    )
    run.add_argument(
        "--set",
        action="append",
        metavar="ASSET.FIELD=VALUE",
        help="one config field, over --config (repeatable), e.g. source_files.source_dir=/home/me/mpy",
    )
    run.set_defaults(func=_cmd_run)

    doctor = sub.add_parser("doctor", help="check that every dependency works on this machine (llama.cpp included)")
    doctor.add_argument(
        "--only",
        action="append",
        help="run only this check (repeatable): python, torch, llama, mpy-cross, dagster, ollama",
    )
    doctor.set_defaults(func=_cmd_doctor)

    ui = sub.add_parser("ui", help="start the Dagster web UI (dagster dev)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=_cmd_ui)

    artifacts = sub.add_parser("artifacts", help="current path and version of every asset's artifact")
    artifacts.add_argument("--json", action="store_true", help="machine-readable output (the scripting contract)")
    artifacts.add_argument(
        "--root", default=None, help="artifact store root (default $MPYFORGE_ARTIFACT_ROOT or var/artifacts)"
    )
    artifacts.set_defaults(func=_cmd_artifacts)

    extract = sub.add_parser("extract", help="print a PDF as Markdown the way the pdf_documents stage sees it")
    extract.add_argument("pdf", help="path to a PDF file")
    extract.set_defaults(func=_cmd_extract)

    generate = sub.add_parser("generate", help="complete a prompt with a checkpoint directory or a .gguf file")
    generate.add_argument("--model", required=True, help="HF checkpoint directory or GGUF file")
    generate.add_argument("--max-tokens", type=int, default=128)
    generate.add_argument(
        "--raw",
        action="store_true",
        help="plain text completion (default for base checkpoints; instruct models and GGUF use the prompt format)",
    )
    generate.add_argument("prompt")
    generate.set_defaults(func=_cmd_generate)

    simulate = sub.add_parser(
        "simulate", help="run a MicroPython program on a simulated board and print its hardware timeline"
    )
    simulate.add_argument("file", help="a MicroPython program, e.g. main.py")
    simulate.add_argument("--board", choices=("pico", "esp32", "esp8266"), default="pico")
    simulate.add_argument("--seconds", type=float, default=10.0, help="simulated seconds to run (default 10)")
    simulate.add_argument(
        "--world", default=None, help="JSON file: what the hardware answers (inputs, I2C devices; docs/evaluation.md)"
    )
    simulate.set_defaults(func=_cmd_simulate)

    evaluate = sub.add_parser(
        "eval", help="score a model on the task suite: its answers run on simulated boards (pass@1, pass@k)"
    )
    evaluate.add_argument("--model", required=True, help="HF instruct checkpoint directory or GGUF file")
    evaluate.add_argument("--tasks", default="*", help="task ids (glob, e.g. 'blink/*', '*/esp32/*'; 'demo': a subset)")
    evaluate.add_argument("--samples", type=int, default=5, help="sampled answers per task for pass@k (default 5)")
    evaluate.add_argument("--json", action="store_true", help="the whole result as JSON, one row per task")
    evaluate.set_defaults(func=_cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
