"""Near-dedup of code blocks: MinHash LSH (``DuplicateIndex``) against exact all-pairs Jaccard.

Both run in the same process on the same synthetic MicroPython blocks, first occurrence
wins in both. The baseline computes the true Jaccard of normalized-token shingle sets
against every kept block (O(n^2)); the index estimates it from 128-permutation MinHash
signatures and only compares LSH candidates, banded at the threshold itself (margin 0)
and at the default ``LSH_CANDIDATE_MARGIN`` below it. Reported: the speed ratio to the
baseline and the duplicates each index misses or adds relative to the exact verdicts.

Run: .venv/bin/python benchmarks/corpus_dedup.py [--blocks 600] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import time

from pipeline.corpus.dedup import LSH_CANDIDATE_MARGIN, DuplicateIndex, code_tokens, exact_key, shingles

LINE_TEMPLATES = (
    "{a} = Pin({p}, Pin.OUT)",
    "{a} = Pin({p}, Pin.IN, Pin.PULL_UP)",
    "{a} = ADC(Pin({p}))",
    "{a} = PWM(Pin({p}), freq={n}000)",
    "{a} = I2C(0, scl=Pin({p}), sda=Pin({q}), freq=400000)",
    "{a}.value({b}.value())",
    "{a}.duty_u16({n} * 64)",
    "{a} = {b}.read_u16() * 3.3 / 65535",
    "print('{a}', {b})",
    "time.sleep_ms({n})",
    "{a} = [{b} for {b} in range({n})]",
    "{a}.append({b} >> 8)",
    "{a} = bytearray({n})",
    "{a} = {b}.readfrom_mem(0x{p}, 0x{q}, 2)",
    "{a} = ({b}[0] << 8) | {b}[1]",
    "{a}.toggle()",
)


def random_program(rng: random.Random, names: list[str]) -> list[str]:
    header = ["from machine import Pin, ADC, PWM, I2C", "import time", ""]
    body = []
    for _ in range(rng.randint(12, 24)):
        template = rng.choice(LINE_TEMPLATES)
        body.append(
            template.format(
                a=rng.choice(names),
                b=rng.choice(names),
                p=rng.randint(0, 29),
                q=rng.randint(0, 29),
                n=rng.randint(1, 99),
            )
        )
    return header + body


def variant(rng: random.Random, lines: list[str], names: list[str]) -> list[str]:
    """A copy with local names renamed and, half of the time, one body line rewritten."""
    renaming = dict(zip(names, rng.sample([f"v_{i}" for i in range(100)], len(names))))
    copied = [" ".join(renaming.get(word, word) for word in line.split(" ")) for line in lines]
    if rng.random() < 0.5:
        copied[rng.randrange(3, len(copied))] = f"time.sleep_ms({rng.randint(100, 999)})"
    return copied


def make_blocks(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    names = ["led", "sensor", "value", "bus", "data", "level", "duty", "buf", "pin", "count"]
    programs: list[list[str]] = []
    for _ in range(count):
        if programs and rng.random() < 0.25:
            programs.append(variant(rng, rng.choice(programs), names))
        else:
            programs.append(random_program(rng, names))
    return ["\n".join(lines) + "\n" for lines in programs]


def exact_all_pairs(blocks: list[str], threshold: float, shingle_size: int) -> list[bool]:
    kept_keys: set[str] = set()
    kept_shingles: list[set[bytes]] = []
    verdicts = []
    for text in blocks:
        if exact_key(text) in kept_keys:
            verdicts.append(True)
            continue
        own = shingles(code_tokens(text), shingle_size)
        duplicate = any(len(own & other) / len(own | other) >= threshold for other in kept_shingles)
        verdicts.append(duplicate)
        if not duplicate:
            kept_keys.add(exact_key(text))
            kept_shingles.append(own)
    return verdicts


def minhash_lsh(blocks: list[str], threshold: float, shingle_size: int, margin: float) -> list[bool]:
    index = DuplicateIndex(threshold=threshold, shingle_size=shingle_size, candidate_margin=margin)
    return [index.check_and_add(text, code_tokens(text)) is not None for text in blocks]


def report(name: str, truth: list[bool], found: list[bool], seconds: float, baseline_s: float) -> None:
    missed = sum(t and not f for t, f in zip(truth, found))
    extra = sum(f and not t for t, f in zip(truth, found))
    print(
        f"{name}: {seconds:.2f} s ({len(found) / seconds:.0f} blocks/s), {baseline_s / seconds:.1f}x faster "
        f"than all-pairs; duplicates {sum(found)}, missed {missed}, extra {extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.8)
    args = parser.parse_args()
    blocks = make_blocks(args.blocks, args.seed)

    start = time.perf_counter()
    truth = exact_all_pairs(blocks, args.threshold, 5)
    baseline_s = time.perf_counter() - start
    print(f"blocks={len(blocks)} true duplicates={sum(truth)}")
    print(f"all-pairs exact Jaccard (baseline): {baseline_s:.2f} s ({len(blocks) / baseline_s:.0f} blocks/s)")
    for margin in (0.0, LSH_CANDIDATE_MARGIN):
        start = time.perf_counter()
        found = minhash_lsh(blocks, args.threshold, 5, margin)
        report(f"minhash-lsh, candidate margin {margin}", truth, found, time.perf_counter() - start, baseline_s)


if __name__ == "__main__":
    main()
