"""instruction_pairs stage: mining, validation with real mpy-cross, split inheritance, outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.pairs.augment import AUGMENTATIONS
from pipeline.pairs.build import PairSettings, build_instruction_pairs, find_split_leaks, load_corpus
from pipeline.pairs.mining import MiningLimits, mine_pairs
from pipeline.pairs.mpy_compile import compile_many

BLINK = (
    "from machine import Pin\nimport time\n\nled = Pin(2, Pin.OUT)\n"
    "while True:\n    led.value(not led.value())\n    time.sleep_ms(500)"
)
BUTTON = (
    "from machine import Pin\nimport time\n\nbutton_pin = Pin(14, Pin.IN, Pin.PULL_UP)  # button on GPIO14\n"
    "presses = 0\n\ndef on_press(pin):\n    global presses\n    presses += 1\n\n"
    "button_pin.irq(trigger=Pin.IRQ_FALLING, handler=on_press)"
)
REPL = (
    ">>> from machine import Pin\n>>> p = Pin(4, Pin.OUT)\n>>> p.value()\n0\n"
    ">>> for k in range(2):\n...     print(k)\n...\n0\n1"
)
BROKEN = "def broken(:\n    pass"
PICO_PY = (
    '"""Blink the Pico LED with a hardware timer on the Raspberry Pi Pico."""\n'
    "from machine import Pin, Timer\n\nled = Pin(25, Pin.OUT)\nuart_pin = Pin(15, Pin.OUT)\n\n\n"
    'def toggle(timer):\n    """Flip the LED state once."""\n    led.toggle()\n    uart_pin.toggle()\n\n\n'
    "Timer(period=500, mode=Timer.PERIODIC, callback=toggle)"
)


def _doc(doc_id: str, source: str, split: str, blocks: list[tuple[str, str]]) -> list[dict]:
    return [
        {
            "doc_id": doc_id,
            "source": source,
            "kind": kind,
            "level": 2 if kind == "heading" else 0,
            "text": text,
            "page": 1,
            "seq": seq,
            "split": split,
        }
        for seq, (kind, text) in enumerate(blocks)
    ]


def synthetic_corpus() -> pd.DataFrame:
    rows = _doc(
        "book",
        "pdf:esp32-book",
        "train",
        [
            ("heading", "2.1. Blinking the onboard LED"),
            ("prose", "To blink the LED on an ESP32, configure GPIO2 as an output and toggle it in a loop:"),
            ("code", BLINK),
            ("heading", "Button counter"),
            ("prose", "This program counts presses of a push button. It uses an interrupt on the falling edge."),
            ("code", BUTTON),
            ("heading", "REPL"),
            ("prose", "You can also try pins from the ESP32 REPL prompt."),
            ("code", REPL),
            ("prose", "12 / 40"),
            ("code", "x = [1, 2, 3]\nprint(len(x))"),
            ("prose", "Listing 4: A function that is not valid Python and must be rejected."),
            ("code", BROKEN),
        ],
    )
    rows += _doc("pico", "sources:examples/pico_blink.py", "val", [("code", PICO_PY)])
    return pd.DataFrame(rows)


def test_mining_rules_and_noise_filter():
    pairs, rejected = mine_pairs(synthetic_corpus(), MiningLimits())
    by_origin = {p.origin_id: p for p in pairs}
    blink = by_origin["book#2"]
    # The "To <task>, ..." lead-in becomes a request; the pin the code uses is named in it.
    assert blink.request.form == "task" and blink.request.phrase == "blink the LED on an ESP32"
    assert "blink the LED on an ESP32" in blink.instruction.replace("Blink", "blink") and "GPIO2" in blink.instruction
    assert "ount presses of a push button on GPIO14" in by_origin["book#5"].instruction
    assert (
        by_origin["book#8"].response
        == "from machine import Pin\np = Pin(4, Pin.OUT)\np.value()\nfor k in range(2):\n    print(k)"
    )
    # A caption without a verb names a program; mpy-cross rejects it later (end-to-end test).
    assert by_origin["book#12"].request.form == "program"
    assert "a function that is not valid Python" in by_origin["book#12"].instruction
    module = by_origin["pico#0:module"]
    assert "blink the Pico LED with a hardware timer" in module.instruction and module.board == "Raspberry Pi Pico"
    assert module.response.startswith("from machine import Pin, Timer")
    toggle = by_origin["pico#0:toggle"]
    assert "`toggle(timer)`" in toggle.instruction and "flip the LED state once" in toggle.instruction
    # The function pair keeps only the imports and module globals its body reads.
    assert toggle.response.startswith(
        "from machine import Pin, Timer\nled = Pin(25, Pin.OUT)\nuart_pin = Pin(15, Pin.OUT)\ndef toggle(timer):"
    )
    assert "book#10" not in by_origin  # a page number is no instruction
    assert [(r.origin_id, r.reason) for r in rejected] == [("book#10", "page furniture or link")]
    assert {p.split for p in pairs if p.origin_id.startswith("pico")} == {"val"}


def test_end_to_end_build(tmp_path: Path):
    corpus_path = tmp_path / "corpus.parquet"
    synthetic_corpus().to_parquet(corpus_path)
    out = tmp_path / "pairs"
    meta = build_instruction_pairs(corpus_path, out, PairSettings(variants_per_original=3, seed=7))
    table = pd.read_parquet(out / "pairs.parquet")
    assert list(table.columns) == [
        "pair_id",
        "origin_id",
        "variant",
        "instruction",
        "response",
        "augmentations",
        "split",
        "source_doc",
    ]
    assert meta["originals"] == 5 and meta["rejects"] == {
        "page furniture or link": 1,
        "does not compile: SyntaxError": 1,
    }
    assert "| does not compile: SyntaxError | 1 |" in meta["rejects_table"]
    assert (
        "| pdf:esp32-book | 3 | does not compile: SyntaxError: 1; page furniture or link: 1 |"
        in (meta["rejects_by_source"])
    )
    assert meta["pairs"] == len(table) >= 3 * meta["originals"]
    assert table["pair_id"].is_unique and table[table["variant"] == 0].shape[0] == meta["originals"]
    assert all(r.ok for r in compile_many(table["response"].tolist()))
    assert {"rephrase", "rename", "pins", "numbers"} <= set(meta["augmentations"]) <= set(AUGMENTATIONS)
    assert table[table["variant"] > 0]["augmentations"].map(len).min() >= 1
    assert find_split_leaks(table) == []
    assert set(table[table["origin_id"].str.startswith("pico")]["split"]) == {"val"}
    assert meta["samples"].count("```python") == 5  # all five originals (10 asked for)
    assert meta["rejected_samples"].count("```python") == 2

    from datasets import load_dataset

    jsonl = load_dataset("json", data_files=str(out / "pairs.jsonl"), split="train")
    assert jsonl.num_rows == len(table) and jsonl[0]["pair_id"] == table["pair_id"].iloc[0]

    again = tmp_path / "again"
    build_instruction_pairs(corpus_path, again, PairSettings(variants_per_original=3, seed=7))
    pd.testing.assert_frame_equal(pd.read_parquet(again / "pairs.parquet"), table)


def test_split_check_catches_an_origin_in_both_splits():
    pairs = pd.DataFrame(
        {
            "pair_id": ["a/v0", "a/v1", "b/v0", "c/v0", "c/v1"],
            "origin_id": ["a", "a", "b", "c", "c"],
            "split": ["train", "train", "val", "train", "val"],
            "instruction": ["Blink it.", "Blink it now.", "Read a pin.", "Scan I2C.", "Scan the I2C bus."],
            "response": ["x = 1", "x = 2", "y = 3", "z = 4", "z = 5"],
        }
    )
    assert find_split_leaks(pairs) == ["origin c is in both splits"]


def test_bad_corpus_is_reported_with_file_and_field(tmp_path: Path):
    path = tmp_path / "corpus.parquet"
    synthetic_corpus().drop(columns=["split"]).to_parquet(path)
    with pytest.raises(ValueError, match=r"corpus\.parquet: missing column\(s\) \['split'\]"):
        load_corpus(path)
    synthetic_corpus().assign(kind="table").to_parquet(path)
    with pytest.raises(ValueError, match="column 'kind' has value"):
        load_corpus(path)


def test_a_function_defined_twice_in_a_source_file_gives_two_origin_ids():
    body = '    """Find the {} largest items of a dataset."""\n    items = sorted(data)\n    return items[-n:]\n'
    code = "def top(n, data):\n" + body.format("n") + "\n\ndef top(n, data, key=None):\n" + body.format("n keyed")
    corpus = pd.DataFrame(_doc("lib", "sources:lib/top.py", "train", [("code", code)]))
    mined, _ = mine_pairs(corpus, MiningLimits())
    ids = [p.origin_id for p in mined if ":top" in p.origin_id]
    assert len(ids) == 2 and len(set(ids)) == 2, ids
