"""The ``instruction_pairs`` stage: corpus → mined, augmented, compile-checked pairs.

Steps: mine pairs from the corpus (``pair_mining``), drop duplicate originals, compile
the originals with the real ``mpy-cross`` (a failing original takes no variants), make
seeded variants (``pair_augment``), compile the variants, drop duplicates (normalized
code + instruction), and write ``pairs.parquet`` and ``pairs.jsonl``. Each variant keeps
its origin's split, so no origin is on both sides of the train/val line.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.common.blocks import BLOCK_KINDS
from pipeline.corpus.build import CORPUS_SCHEMA, SPLITS
from pipeline.pairs.augment import make_variants, pair_key
from pipeline.pairs.mining import MinedPair, MiningLimits, mine_pairs
from pipeline.pairs.mpy_compile import compile_many

# fmt: off
PAIR_SCHEMA = pa.schema([
    ("pair_id", pa.string()), ("origin_id", pa.string()), ("variant", pa.int32()), ("instruction", pa.string()),
    ("response", pa.string()), ("augmentations", pa.list_(pa.string())), ("split", pa.string()),
    ("source_doc", pa.string()),
])
# fmt: on


@dataclass
class PairSettings:
    variants_per_original: int = 3
    seed: int = 0
    min_instruction_chars: int = 12
    max_instruction_chars: int = 400
    min_response_chars: int = 10
    march: str = "armv7m"  # mpy-cross -march; native/viper/asm code needs one
    compile_workers: int = 4
    sample_count: int = 5


def load_corpus(corpus_path: Path) -> pd.DataFrame:
    """Read and check the corpus table; errors name the file and the bad field."""
    if not corpus_path.is_file():
        raise FileNotFoundError(f"{corpus_path}: corpus parquet not found")
    corpus = pd.read_parquet(corpus_path)
    missing = [c for c in CORPUS_SCHEMA.names if c not in corpus.columns]
    if missing:
        raise ValueError(f"{corpus_path}: missing column(s) {missing}; expected {CORPUS_SCHEMA.names}")
    for column, allowed in (("kind", BLOCK_KINDS), ("split", SPLITS)):
        bad = sorted(set(corpus[column].astype(str)) - set(allowed))
        if bad:
            raise ValueError(f"{corpus_path}: column {column!r} has value(s) {bad}; allowed {sorted(allowed)}")
    if corpus["text"].isna().any():
        raise ValueError(f"{corpus_path}: column 'text' has {int(corpus['text'].isna().sum())} null value(s)")
    return corpus


def find_split_leaks(pairs: pd.DataFrame) -> list[str]:
    """Origin ids whose pairs sit in more than one split (must be empty)."""
    splits_per_origin = pairs.groupby("origin_id")["split"].nunique()
    return sorted(splits_per_origin[splits_per_origin > 1].index.astype(str))


def _compile_filter(items: list, responses: list[str], settings: PairSettings, label: str, rejects: Counter) -> list:
    results = compile_many(responses, march=settings.march, workers=settings.compile_workers)
    kept = []
    for item, result in zip(items, results):
        if result.ok:
            kept.append(item)
        else:
            rejects[f"{label} does not compile: {result.error_type}"] += 1
    return kept


def _unique_originals(mined: list[MinedPair], rejects: Counter) -> list[MinedPair]:
    seen, unique = set(), []
    for pair in mined:
        key = pair_key(pair.instruction, pair.response)
        if key in seen:
            rejects["duplicate original"] += 1
            continue
        seen.add(key)
        unique.append(pair)
    return unique


def _markdown_table(header: tuple[str, str], rows: list[tuple[str, object]]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def _samples_markdown(table: pd.DataFrame, count: int, seed: int) -> str:
    picked = random.Random(seed).sample(range(len(table)), min(count, len(table)))
    blocks = []
    for index in sorted(picked):
        row = table.iloc[index]
        tags = ", ".join(row["augmentations"]) or "original"
        blocks.append(
            f"**{row['pair_id']}** ({row['split']}; {tags})\n\n> {row['instruction']}\n\n"
            f"```python\n{row['response']}\n```"
        )
    return "\n\n".join(blocks)


def build_instruction_pairs(corpus_path: Path, out_dir: Path, settings: PairSettings) -> dict:
    """Write ``pairs.parquet`` and ``pairs.jsonl`` into ``out_dir``; return UI metadata."""
    corpus = load_corpus(corpus_path)
    limits = MiningLimits(settings.min_instruction_chars, settings.max_instruction_chars, settings.min_response_chars)
    mined, rejects = mine_pairs(corpus, limits)
    originals = _unique_originals(mined, rejects)
    originals = _compile_filter(originals, [p.response for p in originals], settings, "original", rejects)

    seen = {pair_key(p.instruction, p.response) for p in originals}
    augmented = []
    for pair in originals:
        for variant in make_variants(pair, settings.variants_per_original, settings.seed)[1:]:
            key = pair_key(variant.instruction, variant.response)
            if key in seen:
                rejects["duplicate variant"] += 1
                continue
            seen.add(key)
            augmented.append((pair, variant))
    augmented = _compile_filter(augmented, [v.response for _, v in augmented], settings, "variant", rejects)

    rows = [(p, 0, p.instruction, p.response, ()) for p in originals]
    rows += [(p, v.variant, v.instruction, v.response, v.augmentations) for p, v in augmented]
    rows.sort(key=lambda r: (r[0].origin_id, r[1]))
    table = pd.DataFrame(
        {
            "pair_id": [f"{p.origin_id}/v{n}" for p, n, *_ in rows],
            "origin_id": [p.origin_id for p, *_ in rows],
            "variant": [n for _, n, *_ in rows],
            "instruction": [r[2] for r in rows],
            "response": [r[3] for r in rows],
            "augmentations": [list(r[4]) for r in rows],
            "split": [p.split for p, *_ in rows],
            "source_doc": [p.source_doc for p, *_ in rows],
        }
    )
    leaks = find_split_leaks(table)
    if leaks:
        raise ValueError(f"{corpus_path}: origin ids in both splits: {leaks[:5]}")
    out_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(table, schema=PAIR_SCHEMA, preserve_index=False), out_dir / "pairs.parquet")
    table.to_json(out_dir / "pairs.jsonl", orient="records", lines=True, force_ascii=False)

    aug_counts = Counter(name for names in table["augmentations"] for name in names)
    return {
        "originals": len(originals),
        "variants": len(augmented),
        "pairs": len(table),
        "pairs_per_original": round(len(table) / len(originals), 2) if originals else 0.0,
        "train_pairs": int((table["split"] == "train").sum()),
        "val_pairs": int((table["split"] == "val").sum()),
        "augmentations": dict(sorted(aug_counts.items())),
        "rejects": dict(sorted(rejects.items())),
        "rejects_table": _markdown_table(("reason", "count"), sorted(rejects.items())),
        "samples": _samples_markdown(table, settings.sample_count, settings.seed),
    }
