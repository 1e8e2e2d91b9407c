"""The ``instruction_pairs`` stage: corpus → mined, judged, augmented, compile-checked pairs.

Steps: mine candidates from the corpus and judge each one (``mining`` + ``quality``:
requests in a user's words, complete snippets, a reason for every rejection); compile
the accepted originals with the real ``mpy-cross`` (``-march`` per snippet); keep the
best copy of duplicated code (``dedup``); drop val originals that repeat train content;
make seeded variants (``augment``) and compile them; and write ``pairs.parquet`` and
``pairs.jsonl``. Each variant keeps its origin's split, and the leak check compares
normalized code and instructions across splits, not only origin ids.
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
from pipeline.pairs.augment import AUGMENTATIONS, make_variants
from pipeline.pairs.board_pins import BOARDS
from pipeline.pairs.dedup import code_key, copy_rank, find_split_leaks, instruction_key, loose_key, pair_key
from pipeline.pairs.describe import describe_code
from pipeline.pairs.mining import MinedPair, MiningLimits, Rejected, mine_pairs
from pipeline.pairs.mpy_compile import compile_many, march_for
from pipeline.pairs.starter_set import load_starter_pairs

# The artifact's files: the table the next stages read, and the same rows as JSON lines for other tools.
PAIRS_FILE = "pairs.parquet"
PAIRS_JSONL = "pairs.jsonl"

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
    # Pairs whose code does a hardware job a maker asks for (blink, PWM, UART, ...) get more
    # variants: each one varies pins, delays, frequencies, counts, colours and credentials.
    hardware_variants_per_original: int = 10
    # Renamed identifiers (my_pin, local_display): on the real library 1,304 of 2,906 answers carried
    # such names and a 5m model mixed them up (`local_pin = Pin(4)` then `my_pin.value(0)`).
    rename_identifiers: bool = True
    # The maker starter set (pipeline/pairs/starter_set.py): hand-written programs for common maker jobs,
    # added to the train split. Off: the model learns from the user's library alone.
    starter_set: bool = False
    # Every variant's request names each pin and states each value its code uses (pipeline/pairs/spell_out.py),
    # as the task suite's prompts do; off: a variant may say "blink GP25" for code that also picks a delay.
    complete_requests: bool = False
    seed: int = 0
    max_instruction_chars: int = 300
    max_response_lines: int = 150
    march: str = "armv7m"  # mpy-cross -march for native/viper code when the board is unknown
    compile_workers: int = 4
    sample_count: int = 10  # accepted and rejected samples shown in the metadata

    @property
    def augmentations(self) -> tuple[str, ...]:
        return tuple(name for name in AUGMENTATIONS if self.rename_identifiers or name != "rename")


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


def _march(code: str, board: str | None, settings: PairSettings) -> str | None:
    return march_for(code, BOARDS[board].native_arch if board in BOARDS else settings.march)


def _compiles(codes: list[str], boards: list[str | None], settings: PairSettings) -> list:
    marches = [_march(code, board, settings) for code, board in zip(codes, boards)]
    return compile_many(codes, workers=settings.compile_workers, marches=marches)


def _best_originals(mined: list[MinedPair], settings: PairSettings, rejected: list[Rejected]) -> list[MinedPair]:
    """The best copy of each code among near-duplicates (``dedup``), and only if it compiles."""
    results = _compiles([p.response for p in mined], [p.board for p in mined], settings)
    near: dict[str, list[tuple[MinedPair, bool, str]]] = {}
    for pair, result in zip(mined, results):
        entry = (pair, result.ok, result.error_type)
        near.setdefault(loose_key(pair.response), []).append(entry)
    kept = []
    for copies in near.values():
        copies.sort(key=lambda c: copy_rank(c[0].source_doc, c[1], c[0].origin_id))
        if not copies[0][1]:
            best, _, error = copies[0]
            rejected.append(_rejected(best, f"does not compile: {error}"))
            rejected += [_rejected(p, f"duplicate code (kept {best.origin_id})") for p, _, _ in copies[1:]]
            continue
        best_per_key: dict[str, MinedPair] = {}
        for pair, ok, _ in copies:
            key = code_key(pair.response)
            if ok and key not in best_per_key:
                best_per_key[key] = pair
                kept.append(pair)
            else:
                winner = best_per_key.get(key, copies[0][0])
                rejected.append(_rejected(pair, f"duplicate code (kept {winner.origin_id})"))
    return sorted(kept, key=lambda p: p.origin_id)


def _starter_pairs(settings: PairSettings) -> list[MinedPair]:
    """The starter set's pairs; a program that does not compile is a defect of the set, so it stops the stage."""
    pairs = load_starter_pairs()
    for pair, result in zip(pairs, _compiles([p.response for p in pairs], [p.board for p in pairs], settings)):
        if not result.ok:
            raise ValueError(
                f"{pair.source_doc} ({pair.origin_id}): does not compile: {result.error_type}: {result.message}"
            )
    return pairs


def _rejected(pair: MinedPair, reason: str) -> Rejected:
    return Rejected(pair.origin_id, pair.source_doc, reason, pair.instruction, pair.response)


def _without_cross_split_copies(originals: list[MinedPair], rejected: list[Rejected]) -> list[MinedPair]:
    """Drop val originals whose instruction repeats a train original's (code is unique already)."""
    train = {instruction_key(p.instruction) for p in originals if p.split == "train"}
    kept = []
    for pair in originals:
        if pair.split != "train" and instruction_key(pair.instruction) in train:
            rejected.append(_rejected(pair, "instruction repeats a train pair"))
        else:
            kept.append(pair)
    return kept


def _variants(originals: list[MinedPair], settings: PairSettings, rejects: Counter) -> list[tuple[MinedPair, object]]:
    seen = {pair_key(p.instruction, p.response) for p in originals}
    # Per split, the instruction and code keys taken: requests described from code repeat across
    # origins ("Scan the I2C bus ..."), so a variant may not reuse either key of the other split.
    taken: dict[str, set[str]] = {p.split: set() for p in originals}
    for pair in originals:
        taken[pair.split] |= set(pair_key(pair.instruction, pair.response))
    augmented = []
    for pair in originals:
        hardware = describe_code(pair.response, pair.board, random.Random(0)) is not None
        count = settings.hardware_variants_per_original if hardware else settings.variants_per_original
        variants = make_variants(pair, count, settings.seed, settings.augmentations, settings.complete_requests)
        for variant in variants[1:]:
            key = pair_key(variant.instruction, variant.response)
            other_split = any(set(key) & keys for split, keys in taken.items() if split != pair.split)
            if key in seen or other_split:
                rejects["duplicate variant"] += 1
                continue
            seen.add(key)
            taken[pair.split] |= set(key)
            augmented.append((pair, variant))
    results = _compiles([v.response for _, v in augmented], [p.board for p, _ in augmented], settings)
    kept = []
    for item, result in zip(augmented, results):
        if result.ok:
            kept.append(item)
        else:
            rejects[f"variant does not compile: {result.error_type}"] += 1
    return kept


def _source_label(source_doc: str) -> str:
    """'pdf:book' stays; 'sources:micropython-lib/python-stdlib/x/y.py' → 'sources:micropython-lib/python-stdlib'."""
    if not source_doc.startswith("sources:"):
        return source_doc
    parts = source_doc[len("sources:") :].split("/")
    return "sources:" + "/".join(parts[:2] if len(parts) > 2 else parts[:1])


def _markdown_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _reasons_by_source(rejected: list[Rejected], accepted: list[MinedPair]) -> str:
    counts = Counter((_source_label(r.source_doc), r.reason.split(" (kept")[0]) for r in rejected)
    kept = Counter(_source_label(p.source_doc) for p in accepted)
    sources = sorted({s for s, _ in counts} | set(kept))
    rows = [
        (s, kept.get(s, 0), "; ".join(f"{r}: {n}" for (src, r), n in sorted(counts.items()) if src == s) or "-")
        for s in sources
    ]
    return _markdown_table(("source", "accepted originals", "rejected by reason"), rows)


def _sample(items: list, count: int, seed: int) -> list:
    return [items[i] for i in sorted(random.Random(seed).sample(range(len(items)), min(count, len(items))))]


def _samples_markdown(table: pd.DataFrame, count: int, seed: int) -> str:
    blocks = []
    for _, row in pd.DataFrame(_sample([r for _, r in table.iterrows()], count, seed)).iterrows():
        tags = ", ".join(row["augmentations"]) or "original"
        blocks.append(
            f"**{row['pair_id']}** ({row['split']}; {tags})\n\n> {row['instruction']}\n\n"
            f"```python\n{row['response']}\n```"
        )
    return "\n\n".join(blocks)


def _rejected_markdown(rejected: list[Rejected], count: int, seed: int) -> str:
    blocks = [
        f"**{r.origin_id}** - {r.reason}\n\n> {r.instruction or '(no instruction)'}\n\n"
        f"```python\n{r.response[:600]}\n```"
        for r in _sample(rejected, count, seed)
    ]
    return "\n\n".join(blocks)


def build_instruction_pairs(corpus_path: Path, out_dir: Path, settings: PairSettings) -> dict:
    """Write ``pairs.parquet`` and ``pairs.jsonl`` into ``out_dir``; return UI metadata."""
    corpus = load_corpus(corpus_path)
    mined, rejected = mine_pairs(corpus, MiningLimits(settings.max_response_lines, settings.max_instruction_chars))
    starters = _starter_pairs(settings) if settings.starter_set else []
    originals = _without_cross_split_copies(_best_originals(mined, settings, rejected) + starters, rejected)
    rejects = Counter(r.reason.split(" (kept")[0] for r in rejected)
    augmented = _variants(originals, settings, rejects)

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
    repeated = sorted(set(table["pair_id"][table["pair_id"].duplicated()]))
    if repeated:
        raise ValueError(f"{corpus_path}: pair ids are not unique: {repeated[:3]}")
    leaks = find_split_leaks(table)
    if leaks:
        raise ValueError(f"{corpus_path}: train/val leaks: {leaks[:5]}")
    out_dir.mkdir(parents=True, exist_ok=True)
    # The artifact store writes into a temporary directory and renames it when complete.
    pq.write_table(pa.Table.from_pandas(table, schema=PAIR_SCHEMA, preserve_index=False), out_dir / PAIRS_FILE)
    table.to_json(out_dir / PAIRS_JSONL, orient="records", lines=True, force_ascii=False)

    aug_counts = Counter(name for names in table["augmentations"] for name in names)
    return {
        "originals": len(originals),
        "starter_originals": len(starters),
        "variants": len(augmented),
        "pairs": len(table),
        "pairs_per_original": round(len(table) / len(originals), 2) if originals else 0.0,
        "train_pairs": int((table["split"] == "train").sum()),
        "val_pairs": int((table["split"] == "val").sum()),
        "augmentations": dict(sorted(aug_counts.items())),
        "rejects": dict(sorted(rejects.items())),
        "rejects_table": _markdown_table(("reason", "count"), sorted(rejects.items())),
        "rejects_by_source": _reasons_by_source(rejected, originals),
        "samples": _samples_markdown(table[table["variant"] == 0], settings.sample_count, settings.seed),
        "rejected_samples": _rejected_markdown(rejected, settings.sample_count, settings.seed),
    }
