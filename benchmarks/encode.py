"""Shard writing throughput against bare ``encode_batch_fast`` on the same texts.

Both run in one process on the same texts with the same tokenizer and batch size.
The baseline only encodes (``Tokenizer.encode_batch_fast`` per batch of
``--batch`` texts, ids left in the Encoding objects). The measured path is the
shard writer of the pipeline: encode (next batch in a worker thread), copy ids into
numpy with ``<bos>``/``<eos>``, concatenate into shards, sha256 and write ``.bin`` files. Reported: MB/s of text for
each and the ratio baseline_time / shard_time (1.0 = writing costs nothing extra;
goal >= 0.9). Best of ``--repeats`` runs each, alternating, to damp noise from other
processes on a shared machine; the same ratio on process CPU time (all threads) is
printed too, as it barely depends on that load.

Texts: this repository's MicroPython examples and docs plus the Python standard
library's own ``.py`` files (local, real code), cut to ``--megabytes``.

Run: .venv/bin/python benchmarks/encode.py [--megabytes 8] [--batch 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sysconfig
import tempfile
import time
from pathlib import Path

from pipeline.tokens.shard_format import token_dtype, write_stream
from pipeline.tokens.shards import ShardSettings, pretrain_docs
from pipeline.tokens.tokenizer import TokenizerSettings, train_tokenizer

REPO = Path(__file__).resolve().parent.parent


def load_texts(megabytes: float) -> list[str]:
    files = sorted((REPO / "data").rglob("*.py")) + sorted((REPO / "data").rglob("*.md"))
    files += sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))
    texts, total = [], 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        texts.append(text)
        total += len(text.encode("utf-8"))
        if total >= megabytes * 1e6:
            break
    return texts


def timed(run) -> tuple[float, float, object]:
    """(wall seconds, process CPU seconds of all threads, result) of ``run()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def encode_only(tokenizer, texts: list[str], batch: int) -> None:
    for i in range(0, len(texts), batch):
        tokenizer.encode_batch_fast(texts[i : i + batch], add_special_tokens=False)


def encode_and_write(tokenizer, texts: list[str], batch: int, shard_tokens: int) -> int:
    vocab_size = tokenizer.get_vocab_size()
    with tempfile.TemporaryDirectory() as out:
        docs = pretrain_docs(tokenizer, iter(texts), batch, token_dtype(vocab_size))
        entries = write_stream(Path(out), "pretrain", "train", docs, None, vocab_size, shard_tokens)
        return sum(e["tokens"] for e in entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=ShardSettings().encode_batch)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shard-tokens", type=int, default=1_000_000)
    args = parser.parse_args()

    texts = load_texts(args.megabytes)
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    tokenizer = train_tokenizer(iter([texts[:400]]), TokenizerSettings(vocab_size=8192))
    encode_only(tokenizer, texts[: args.batch], args.batch)  # warm up the Rust thread pool
    base_wall, base_cpu, shard_wall, shard_cpu, tokens = [], [], [], [], 0
    for _ in range(args.repeats):
        wall, cpu, _ = timed(lambda: encode_only(tokenizer, texts, args.batch))
        base_wall.append(wall)
        base_cpu.append(cpu)
        wall, cpu, tokens = timed(lambda: encode_and_write(tokenizer, texts, args.batch, args.shard_tokens))
        shard_wall.append(wall)
        shard_cpu.append(cpu)
    print(
        f"texts: {len(texts)} files, {megabytes:.1f} MB, {tokens} tokens, vocab {tokenizer.get_vocab_size()}, "
        f"batch {args.batch}, best of {args.repeats}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"encode_batch_fast only : wall {min(base_wall):.2f} s ({megabytes / min(base_wall):.2f} MB/s), "
        f"CPU {min(base_cpu):.2f} s"
    )
    print(
        f"encode + write shards  : wall {min(shard_wall):.2f} s ({megabytes / min(shard_wall):.2f} MB/s), "
        f"CPU {min(shard_cpu):.2f} s"
    )
    print(f"throughput ratio, wall (baseline/shards): {min(base_wall) / min(shard_wall):.3f}  (goal >= 0.9)")
    # CPU time counts the work of every thread and hardly moves with other processes' load.
    print(f"work ratio, CPU time   (baseline/shards): {min(base_cpu) / min(shard_cpu):.3f}")


if __name__ == "__main__":
    main()
