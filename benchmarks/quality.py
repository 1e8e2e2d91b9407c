"""Quality of the 5m presets on a real library, for a fixed CPU budget per model.

The pipeline (`mpyforge run --select "*token_shards"`) builds corpus, tokenizer and token
shards from ``../shared/realcorpus`` (micropython-lib + MicroPython examples) and
``../shared/realpdf`` (real PDF books) once, in ``--work``; then ``llama-5m`` and ``gpt2-5m``
each train with the project's defaults (``pipeline.train.plan``) for at most ``--minutes``
of wall time, probe and evaluation included, and are scored on the val split:

* val loss against the unigram baseline (train token frequencies, scored on the val tokens);
* bits per byte on the val ``.py`` files beside ``xz -9e`` of each file (a compressor is the
  floor a language model must beat; per file, as a user would compress them);
* the mpy-cross syntax-valid rate of greedy completions of val code prefixes (the first
  lines of each val file, continued by ``--new-tokens`` tokens, cut at the last full line),
  with the true continuation cut the same way as the ceiling.

Goal (issue 16): both >= 2 nats/token below unigram and <= 2.5 bits/byte, below xz.

    python benchmarks/quality.py --minutes 20           # about 45 min on 2 cores, after the build
    python benchmarks/quality.py --minutes 3 --families llama   # a quick look
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeline.common.artifacts import ArtifactStore
from pipeline.common.prompt_format import BOS, EOS
from pipeline.pairs.mpy_compile import compile_many
from pipeline.tokens.shards import SHARDS_SUBDIR
from pipeline.tokens.texts import corpus_documents
from pipeline.train.generate import greedy_continuation
from pipeline.train.run import run_training
from pipeline.train.settings import TrainSettings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PROBE_STEPS = 6
PROBE_LOG_EVERY = 2  # the first logging window is warm-up, left out of tokens/s: the probe needs more than one
EVAL_RESERVE = 0.15  # share of the budget kept for evaluations, export and scoring
# A probe during which other processes kept more than this many cores busy measured a shared machine,
# not this one: the steps planned from it would leave most of the budget unused (one recipe run
# planned 1,730 of 2,884 SFT steps from a probe taken beside a test run). It is taken again.
BUSY_CORES = 0.5
PROBE_TRIES = 3


def _machine_busy_s() -> float | None:
    """CPU seconds every process on the machine has spent busy since boot (Linux); None elsewhere."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return None
    user, nice, system, _idle, _iowait, irq, softirq = map(int, stat.read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    times = os.times()  # every thread of this process, and its children once waited for
    return times.user + times.system + times.children_user + times.children_system


def probe_alone(probe_dir: Path, train, wait_s: float = 30.0) -> dict:
    """The metrics of ``train(probe_dir)``, a short training probe (its folder removed after), taken
    again ``wait_s`` later while other processes kept more than ``BUSY_CORES`` cores busy during it,
    at most ``PROBE_TRIES`` times. What they used is recorded as ``probe_other_cores`` (None where
    the machine's CPU time cannot be read); the time spent on rejected probes and waits, as
    ``probe_waited_s``, is not the training budget's to pay."""
    first = time.monotonic()
    for attempt in range(1, PROBE_TRIES + 1):
        shutil.rmtree(probe_dir, ignore_errors=True)  # a probe left behind would be resumed, not timed
        machine, own, wall = _machine_busy_s(), _own_cpu_s(), time.monotonic()
        metrics = train(str(probe_dir))
        shutil.rmtree(probe_dir)
        if machine is None:
            return {**metrics, "probe_other_cores": None, "probe_waited_s": 0.0}
        others = ((_machine_busy_s() - machine) - (_own_cpu_s() - own)) / (time.monotonic() - wall)
        if others <= BUSY_CORES or attempt == PROBE_TRIES:
            break
        print(f"speed probe: other processes kept {others:.1f} cores busy; probing again in {wait_s:g} s")
        time.sleep(wait_s)
    waited = wall - first
    return {**metrics, "probe_other_cores": round(max(others, 0.0), 2), "probe_waited_s": round(waited, 1)}


def build_inputs(work: Path, pdf_inbox: Path, ops: dict | None = None) -> ArtifactStore:
    """Corpus, tokenizer and shards of the real library, built by the real pipeline; ``ops`` is run
    config for those stages (``{asset: {field: value}}``, as `mpyforge run --config` takes).

    The pipeline runs every time and rebuilds only what is stale: an earlier build is reused only
    while the code and config that made it are the same. (Reusing any finished build once measured
    a recipe on pairs two code versions old.)"""
    store = ArtifactStore(work / "artifacts")
    cwd = work / "cwd"
    sources = cwd / "data" / "sources"
    if not sources.is_dir():
        for name in ("micropython-lib", "micropython-examples"):
            shutil.copytree(SHARED / "realcorpus" / name, sources / name)
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MPYFORGE_ARTIFACT_ROOT": str(store.root),
        "MPYFORGE_PDF_INBOX": str(pdf_inbox),
    }
    started = time.monotonic()
    command = [str(Path(sys.executable).parent / "mpyforge"), "run", "--select", "*token_shards"]
    if ops:
        config = work / "run-config.yaml"
        config.write_text(json.dumps({"ops": {asset: {"config": fields} for asset, fields in ops.items()}}))
        command += ["--config", str(config)]
    subprocess.run(command, cwd=cwd, env=env, check=True)
    print(f"built corpus, tokenizer and shards in {time.monotonic() - started:.0f} s", flush=True)
    return store


def val_code_files(corpus_path: Path) -> list[str]:
    """The val documents that are whole ``.py`` files, as the model saw them."""
    table = pq.read_table(corpus_path, columns=["doc_id", "source"], filters=[("split", "=", "val")])
    sources = dict(zip(table.column("doc_id").to_pylist(), table.column("source").to_pylist()))
    documents = corpus_documents(corpus_path, "val")
    return [text for doc_id, text in documents if sources[doc_id].endswith(".py") and text.strip()]


def shared_line_share(corpus_path: Path, texts: list[str]) -> float:
    """Share of the val files' lines (over 10 characters, stripped) that occur verbatim in a train
    document: what a model trained on the library has seen and `xz` of one file cannot."""

    def lines(text: str) -> set[str]:
        return {line.strip() for line in text.splitlines() if len(line.strip()) > 10}

    seen = set().union(*(lines(text) for _, text in corpus_documents(corpus_path, "train")))
    per_file = [lines(text) for text in texts]
    return sum(len(own & seen) for own in per_file) / max(1, sum(len(own) for own in per_file))


def xz_bits_per_byte(texts: list[str]) -> float:
    """`xz -9e` of each file on its own (the .xz container, as the command writes it)."""
    raw = [t.encode("utf-8") for t in texts]
    packed = sum(len(lzma.compress(b, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME)) for b in raw)
    return 8 * packed / sum(len(b) for b in raw)


@torch.no_grad()
def model_bits_per_byte(model, tokenizer, texts: list[str], window: int) -> float:
    """Σ NLL of each file's tokens after ``<bos>`` (and its ``<eos>``), in bits, per UTF-8 byte.

    Files longer than the window are scored with a sliding window of stride window/2: every token
    after the first window is predicted from at least window/2 tokens of its file, as it would be
    read (non-overlapping chunks would score each chunk's start without any context).
    """
    nats, size, stride = 0.0, 0, max(1, window // 2)
    for text in texts:
        ids = tokenizer.encode(BOS + text + EOS)
        scored, start = 1, 0  # targets before `scored` are counted (ids[0] is <bos>, never a target)
        while scored < len(ids):
            chunk = torch.tensor([ids[start : start + window + 1]])
            logits = model(input_ids=chunk[:, :-1]).logits.float()[0]
            losses = torch.nn.functional.cross_entropy(logits, chunk[0, 1:], reduction="none")
            nats += losses[scored - (start + 1) :].sum().item()  # losses[j] predicts ids[start + 1 + j]
            scored, start = start + chunk.shape[1], start + stride
        size += len(text.encode("utf-8"))
    return nats / math.log(2) / size


def _whole_lines(text: str) -> str:
    return text[: text.rfind("\n") + 1] if "\n" in text else ""


@torch.no_grad()
def completion_syntax(model, tokenizer, texts: list[str], prefix_lines: int, new_tokens: int) -> dict:
    """Greedy continuations of each file's first lines, compiled with mpy-cross (cut at the last full line)."""
    generated, truth = [], []
    for text in texts:
        lines = text.splitlines(keepends=True)
        if len(lines) <= prefix_lines + 1:
            continue
        prefix = "".join(lines[:prefix_lines])
        continuation = greedy_continuation(model, tokenizer, BOS + prefix, new_tokens)
        added = _whole_lines(continuation)
        generated.append(prefix + added)
        truth.append(prefix + "".join(lines[prefix_lines : prefix_lines + max(1, added.count("\n"))]))
    ok = [r.ok for r in compile_many(generated, march="armv7m")]
    ok_truth = [r.ok for r in compile_many(truth, march="armv7m")]
    return {
        "prefixes": len(generated),
        "syntax_valid_rate": sum(ok) / len(ok) if ok else None,
        "syntax_valid_rate_true_continuation": sum(ok_truth) / len(ok_truth) if ok_truth else None,
        "example": generated[0] if generated else "",
    }


def train_for_budget(store: ArtifactStore, work: Path, family: str, budget_s: float, overrides: dict) -> dict:
    """Probe the speed with a few steps, then train as many steps as the budget leaves."""
    started = time.monotonic()
    base = dict(
        **overrides,
        family=family,
        size="5m",
        shards_dir=str(store.current("token_shards").path / SHARDS_SUBDIR),
        tokenizer_dir=str(store.current("bpe_tokenizer").path),
        device="cpu",
        precision="fp32",
        eval_tokens=32_768,
    )
    probe_dir = work / f"probe-{family}"
    every = dict(log_every=PROBE_LOG_EVERY, eval_every=PROBE_STEPS, save_every=PROBE_STEPS)
    probe = probe_alone(
        probe_dir, lambda out: run_training(TrainSettings(**base, output_dir=out, max_steps=PROBE_STEPS, **every))
    )
    started += probe["probe_waited_s"]
    left = budget_s * (1 - EVAL_RESERVE) - (time.monotonic() - started)
    steps = max(PROBE_STEPS, int(left * probe["tokens_per_second"] / probe["tokens_per_step"]))
    steps = max(10, steps - steps % 10)  # whole logging windows
    output = work / f"run-{family}"
    shutil.rmtree(output, ignore_errors=True)
    metrics = run_training(TrainSettings(**base, output_dir=str(output), max_steps=steps, eval_every=50, save_every=50))
    metrics["train_wall_s"] = time.monotonic() - started
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-time budget per model")
    parser.add_argument("--families", default="llama,gpt2")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mpyforge-quality"))
    parser.add_argument("--prefix-lines", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--max-files", type=int, default=60, help="val .py files scored (bpb and completions)")
    parser.add_argument("--pdf-inbox", type=Path, default=SHARED / "realpdf", help="an empty folder: sources only")
    parser.add_argument("--build-only", action="store_true", help="build the corpus, tokenizer and shards, then stop")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="a TrainSettings field over the defaults"
    )
    opts = parser.parse_args()
    overrides = {name: json.loads(value) for name, value in (item.split("=", 1) for item in opts.set)}
    if not (SHARED / "realcorpus").is_dir() or not (SHARED / "realpdf").is_dir():
        sys.exit(f"quality.py: {SHARED}/realcorpus and realpdf are needed (they are not part of the project)")
    torch.set_num_threads(os.cpu_count() or 1)
    opts.work.mkdir(parents=True, exist_ok=True)
    store = build_inputs(opts.work, opts.pdf_inbox)
    if opts.build_only:
        return
    corpus_path = store.current("corpus").path / "corpus.parquet"
    files = val_code_files(corpus_path)[: opts.max_files]
    xz = xz_bits_per_byte(files)
    shared = shared_line_share(corpus_path, files)
    print(f"val code: {len(files)} .py files, {sum(len(f.encode()) for f in files):,} bytes, xz -9e {xz:.3f} bits/byte")
    print(f"val code lines also in train: {shared:.1%} (of lines over 10 characters)")
    results = {}
    for family in opts.families.split(","):
        started = time.monotonic()
        metrics = train_for_budget(store, opts.work, family, opts.minutes * 60, overrides)
        model_dir = Path(metrics["model_dir"])
        model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        bpb = model_bits_per_byte(model, tokenizer, files, metrics["seq_len"])
        syntax = completion_syntax(model, tokenizer, files, opts.prefix_lines, opts.new_tokens)
        results[family] = row = {
            "steps": metrics["steps"],
            "tokens": metrics["tokens"],
            "train_tokens_available": metrics["train_tokens_available"],
            "seq_len": metrics["seq_len"],
            "learning_rate": metrics["learning_rate"],
            "tokens_per_second": round(metrics["tokens_per_second"]),
            "val_loss": round(metrics["final_val_loss"], 3),
            "unigram": round(metrics["val_unigram_loss"], 3),
            "gain_nats": round(metrics["val_unigram_loss"] - metrics["final_val_loss"], 3),
            "bits_per_byte": round(bpb, 3),
            "xz_bits_per_byte": round(xz, 3),
            **{k: v for k, v in syntax.items() if k != "example"},
            "stopped": metrics["stopped_reason"],
            "wall_s": round(time.monotonic() - started),
        }
        print(f"{family}-5m: {json.dumps(row)}", flush=True)
        print(f"example completion:\n{syntax['example']}", flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
