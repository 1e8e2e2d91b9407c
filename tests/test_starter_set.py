"""The maker starter set: every program compiles, runs on its simulated board, and shares no words
with the task suite it is measured on."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

from pipeline.evaluate.tasks import all_tasks
from pipeline.pairs.dedup import code_key
from pipeline.pairs.mpy_compile import compile_many
from pipeline.pairs.starter_set import PROGRAMS_DIR, load_starter_pairs

SANDBOX_BOARD = {"Raspberry Pi Pico": "pico", "ESP32": "esp32", "ESP8266": "esp8266"}


def _entries() -> list[tuple[str, dict]]:
    return [
        (f"{path.name}#{i + 1}", entry)
        for path in sorted(PROGRAMS_DIR.glob("*.toml"))
        for i, entry in enumerate(tomllib.loads(path.read_text(encoding="utf-8"))["pair"])
    ]


def eight_word_grams(text: str, n: int = 8) -> set[tuple[str, ...]]:
    """The word n-grams of a text, the unit of the "shares no prompt with the task suite" checks."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_every_request_is_an_original_and_a_program_keeps_one_split():
    pairs, entries = load_starter_pairs(), _entries()
    assert len(pairs) == sum(len(e["requests"]) for _, e in entries) and len(entries) >= 40
    assert len({p.origin_id for p in pairs}) == len(pairs)
    splits: dict[str, set[str]] = {}
    for pair in pairs:
        splits.setdefault(pair.response, set()).add(pair.split)
    assert all(len(s) == 1 for s in splits.values())
    val = sum(s == {"val"} for s in splits.values())
    assert 0.05 <= val / len(splits) <= 0.35, (val, len(splits))


def test_no_request_shares_eight_words_with_the_task_suite():
    suite = set().union(*(eight_word_grams(t.prompt) for t in all_tasks()))
    shared = [
        (p.instruction, " ".join(g)) for p in load_starter_pairs() for g in eight_word_grams(p.instruction) & suite
    ]
    assert shared == [], shared[:5]
    assert eight_word_grams(all_tasks()[0].prompt) & suite  # the check bites on a task's own prompt


def test_no_program_is_a_task_reference_program():
    references = {code_key(t.reference) for t in all_tasks()}
    copies = [where for where, entry in _entries() if code_key(entry["code"]) in references]
    assert copies == []


def test_every_program_compiles_in_mpy_cross():
    pairs = load_starter_pairs()
    failed = [(p.origin_id, r.message) for p, r in zip(pairs, compile_many([p.response for p in pairs])) if not r.ok]
    assert failed == []


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_every_program_runs_on_its_board_without_an_error():
    from pipeline.evaluate.sandbox import RunJob, run_many

    entries = _entries()
    jobs = [
        RunJob(e["code"], SANDBOX_BOARD[e["board"]], seconds=float(e.get("seconds", 3.0)), world=e.get("world"))
        for _, e in entries
    ]
    failed = [(where, r.status, r.error) for (where, _), r in zip(entries, run_many(jobs)) if r.status != "ok"]
    assert failed == []


def test_a_bad_entry_names_its_file_and_field(tmp_path: Path):
    from pipeline.pairs.starter_set import load_starter_pairs as load

    (tmp_path / "bad.toml").write_text("[[pair]]\nboard = 'Arduino'\nrequests = ['x']\ncode = 'pass'\n")
    with pytest.raises(ValueError, match=r"bad.toml pair 1: field 'board'"):
        load(tmp_path)


def test_the_stage_adds_the_set_and_its_variants_only_when_asked(tmp_path: Path):
    import pandas as pd

    from pipeline.pairs.build import PairSettings, build_instruction_pairs
    from pipeline.pairs.params import code_params
    from pipeline.pairs.units import mismatches
    from tests.test_instruction_pairs import synthetic_corpus

    synthetic_corpus().to_parquet(tmp_path / "corpus.parquet")
    tables = {}
    for on in (False, True):
        meta = build_instruction_pairs(tmp_path / "corpus.parquet", tmp_path / str(on), PairSettings(starter_set=on))
        tables[on] = pd.read_parquet(tmp_path / str(on) / "pairs.parquet")
        assert meta["starter_originals"] == (len(load_starter_pairs()) if on else 0)
    off, on = tables[False], tables[True]
    starter = on[on["source_doc"].str.startswith("starter:")]
    # The library's own pairs are the very pairs of a run without the set.
    library = on[~on["source_doc"].str.startswith("starter:")].reset_index(drop=True)
    pd.testing.assert_frame_equal(library, off.reset_index(drop=True))
    assert set(starter["split"]) == {"train", "val"}
    variants = starter[starter["variant"] > 0]
    assert len(variants) >= 5 * (starter["variant"] == 0).sum()
    # Variants say the numbers their code uses: every value a request states, the code implies.
    said_wrong = [
        (r.instruction, m) for r in variants.itertuples() if (m := mismatches(r.instruction, code_params(r.response)))
    ]
    assert said_wrong == []
    suite = set().union(*(eight_word_grams(t.prompt) for t in all_tasks()))
    assert [p for p in starter["instruction"] if eight_word_grams(p) & suite] == []
