"""The pairs quality gate (one test per rejection reason), requests in a user's words,
complete snippets, dedup preferences and the cross-origin leak check, with real mpy-cross."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.pairs import quality
from pipeline.pairs.build import PairSettings, build_instruction_pairs
from pipeline.pairs.dedup import find_split_leaks
from pipeline.pairs.mining import MiningLimits, mine_pairs
from pipeline.pairs.mpy_compile import compile_many, march_for
from pipeline.pairs.templates import clean_heading, request_from_docstring, request_from_heading, task_from_sentence
from tests.test_instruction_pairs import _doc

BLINK = (
    "from machine import Pin\nimport time\n\nled = Pin(25, Pin.OUT)\n"
    "while True:\n    led.toggle()\n    time.sleep_ms(500)"
)
# No hardware job in it, so no request can be made from the code when the text gives none.
PLAIN = "values = [3, 1, 2]\nvalues.sort()\nprint(values)"


def _reasons(blocks: list[tuple[str, str]], source: str = "pdf:book") -> dict[str, str]:
    corpus = pd.DataFrame(_doc("book", source, "train", blocks))
    _, rejected = mine_pairs(corpus, MiningLimits(max_response_lines=20))
    return {r.origin_id: r.reason for r in rejected}


@pytest.mark.parametrize(
    ("blocks", "reason"),
    [
        ([("prose", "To blink the LED, toggle it:"), ("code", "led = Pin(2)␣\n  .on()")], quality.TYPESETTER),
        ([("prose", "Pulse Width Modulation (continued from previous page)"), ("code", BLINK)], quality.TYPESETTER),
        ([("prose", "Copyright (c) 2016 Someone, MIT license"), ("code", BLINK)], quality.LICENCE),
        (
            [
                ("prose", "To blink the LED, run:"),
                ("code", "# Copyright 2020 A. Author\n# SPDX-License-Identifier: MIT"),
            ],
            quality.LICENCE,
        ),
        ([("prose", "https://example.com/blink.py Lines 1 - 9"), ("code", BLINK)], quality.FURNITURE),
        ([("prose", "2.5. Blink an LED on the board"), ("code", BLINK)], quality.SECTION_NUMBERING),
        ([("heading", "Examples"), ("code", PLAIN)], quality.HEADING_ONLY),
        ([("heading", "Constructors"), ("code", PLAIN)], quality.HEADING_ONLY),
        ([("code", PLAIN)], quality.NO_CONTEXT),
        ([("prose", "getopt(args, options[, long_options]) -> opts, args"), ("code", PLAIN)], quality.NOT_NATURAL),
        ([("prose", "Don't do this:"), ("code", BLINK)], quality.COUNTER_EXAMPLE),
        ([("prose", "This is the wrong way to blink:"), ("code", BLINK)], quality.COUNTER_EXAMPLE),
        (
            [
                ("prose", "Consider the following code fragment."),
                ("code", "count = 0\ndef cb():\n    global count\n    count += 1\nwhile True:\n    count += 1"),
                ("prose", "This example illustrates a subtle source of bugs: a race condition."),
            ],
            quality.COUNTER_EXAMPLE,
        ),
        (
            [("prose", "To blink the LED, use:"), ("code", BLINK), ("prose", "Instead, use a timer:")],
            quality.COUNTER_EXAMPLE,
        ),
        ([("prose", "To read the CAN flag, use:"), ("code", "CAN.FLAG_EXT_ID")], quality.TRIVIAL),
        ([("prose", "To get the ADC ready, import it:"), ("code", "from machine import ADC")], quality.TRIVIAL),
        ([("prose", "To talk to the board, run:"), ("code", "print('hello board')")], quality.ONE_LINE),
        (
            [("prose", "To flash the firmware, run:"), ("code", "esptool.py --port /dev/ttyUSB0 erase_flash")],
            quality.SHELL,
        ),
        (
            [("prose", "To check the REPL banner, look:"), ("code", "MicroPython v1.22 on 2024-01-01\nType help")],
            quality.OUTPUT_ONLY,
        ),
        ([("prose", "To scan the I2C bus, run:"), ("code", PLAIN)], quality.UNUSED_NAME),
        (
            [("prose", "To blink the LED, use:"), ("code", "led.toggle()\nsleep_ms(5)\nblinker.go()")],
            quality.INCOMPLETE,
        ),
        ([("prose", "To blink the LED, use:"), ("code", BLINK + "\n" + "led.on()\n" * 20)], quality.TOO_LONG),
    ],
)
def test_each_rejection_reason(blocks, reason):
    found = _reasons(blocks)
    code_at = max(i for i, (kind, _) in enumerate(blocks) if kind == "code")
    assert found[f"book#{code_at}"] == reason, found


def test_manifest_and_docstring_reasons():
    manifest = 'metadata(version="0.1.0")\nrequire("aioble")\npackage("mylib")'
    assert _reasons([("code", manifest)], "sources:lib/mylib/manifest.py") == {"book#0:module": quality.MANIFEST}
    code = (
        '"""Driver."""\ndef quote(s):\n    """quote(\'abc def\') -> \'abc%20def\'"""\n'
        '    return s.replace(" ", "%20")\n'
    )
    assert _reasons([("code", code)], "sources:lib/q.py")["book#0:quote"] == quality.NOT_NATURAL


def test_requests_are_in_a_users_words():
    assert clean_heading("SIXTEEN HARDWARE I2C BUS") == "Hardware I2C bus"
    assert clean_heading("2.12. Tutorials requiring extra components 31 Using the LCD") == "Using the LCD"
    assert clean_heading("MicroPython Documentation: RP2xxx, Release latest 12 Chapter 4.") is None
    assert request_from_heading("Blinking an LED").phrase == "blink an LED"
    assert request_from_heading("Hardware I2C bus") is None  # a section title, not a request
    assert request_from_heading("Constructors") is None
    assert request_from_heading("Examples") is None
    assert task_from_sentence("The following code reads the temperature:") == "read the temperature"
    assert (
        task_from_sentence("Let’s define a function that can download a URL:")
        == "define a function that can download a URL"
    )
    assert (
        task_from_sentence("A useful function for connecting to your WiFi network is:")
        == "connect to your WiFi network"
    )
    assert (
        request_from_docstring("Returns the temperature in C.", "function", "temp()").phrase
        == "return the temperature in C"
    )
    pairs, _ = mine_pairs(
        pd.DataFrame(
            _doc(
                "api",
                "pdf:rp2-docs",
                "train",
                [
                    ("prose", "`Pin.value([x])` Get or set the digital logic level of the pin."),
                    ("code", BLINK.replace("led.toggle()", "led.value(1)")),
                ],
            )
        ),
        MiningLimits(),
    )
    assert "et or set the digital logic level of the pin with `Pin.value()`" in pairs[0].instruction
    assert "GP25" in pairs[0].instruction  # the pin the code uses, in the board's own spelling


def test_listing_is_completed_from_earlier_listings():
    blocks = [
        ("heading", "GPIO pins"),
        ("prose", "To use a pin, create it first:"),
        ("code", "from machine import Pin\np0 = Pin(0, Pin.OUT)"),
        ("prose", "To switch the pin on and off, call its methods:"),
        ("code", "p0.on()\np0.off()"),
    ]
    pairs, _ = mine_pairs(pd.DataFrame(_doc("book", "pdf:esp8266-book", "train", blocks)), MiningLimits())
    switch = next(p for p in pairs if p.origin_id == "book#4")
    assert switch.response == "from machine import Pin\np0 = Pin(0, Pin.OUT)\np0.on()\np0.off()"


def test_march_is_chosen_per_snippet():
    viper = "@micropython.viper\ndef add(x: int) -> int:\n    return x + 1\n"
    assert march_for("x = 1", "xtensawin") is None
    assert march_for(viper, "xtensawin") == "xtensawin"
    assert march_for("@micropython.asm_thumb\ndef f(r0):\n    add(r0, r0, 1)\n", "xtensawin") == "armv7m"
    plain, native_without, native_with = compile_many(["x = 1", viper, viper], marches=[None, None, "xtensawin"])
    assert plain.ok and not native_without.ok and native_with.ok


def _dedup_corpus(pdf_code: str, source_code: str, pdf_split: str = "train", source_split: str = "train"):
    rows = _doc(
        "book", "pdf:pico-book", pdf_split, [("prose", "To blink the LED on the Pico, run:"), ("code", pdf_code)]
    )
    module = f'"""Blink the LED on the Pico."""\n{source_code}'
    rows += _doc("src-blink", "sources:examples/blink.py", source_split, [("code", module)])
    return pd.DataFrame(rows)


def _build(tmp_path: Path, corpus: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    corpus.to_parquet(tmp_path / "corpus.parquet")
    meta = build_instruction_pairs(tmp_path / "corpus.parquet", tmp_path / "out", PairSettings(variants_per_original=2))
    return meta, pd.read_parquet(tmp_path / "out" / "pairs.parquet")


def test_dedup_prefers_the_source_copy_then_the_compiling_copy(tmp_path: Path):
    commented = BLINK.replace("led = Pin(25, Pin.OUT)", "led = Pin(25, Pin.OUT)  # onboard LED")
    meta, table = _build(tmp_path / "a", _dedup_corpus(commented, BLINK))
    assert set(table[table["variant"] == 0]["origin_id"]) == {"src-blink#0:module"}
    assert meta["rejects"]["duplicate code"] == 1
    flattened = "\n".join(line.strip() for line in BLINK.splitlines())  # indentation lost in extraction
    meta, table = _build(tmp_path / "b", _dedup_corpus(BLINK, flattened))
    assert set(table[table["variant"] == 0]["origin_id"]) == {"book#1"}  # the PDF copy compiles
    # Indentation is structure: two programs that differ only in it are both kept.
    outside = BLINK.replace("    time.sleep_ms(500)", "time.sleep_ms(500)")
    _, table = _build(tmp_path / "c", _dedup_corpus(BLINK, outside))
    assert len(table[table["variant"] == 0]) == 2


def test_planted_cross_origin_leak_is_caught(tmp_path: Path):
    reworded = BLINK.replace("while True:", "while True:  # forever").replace("\n\n", "\n\n\n")
    pairs = pd.DataFrame(
        {
            "pair_id": ["book#1/v0", "other#1/v0"],
            "origin_id": ["book#1", "other#1"],
            "split": ["train", "val"],
            "instruction": ["Blink the LED on GP25.", "How do I blink the LED on GP25 in MicroPython?"],
            "response": [BLINK, reworded],
        }
    )
    assert find_split_leaks(pairs) == ["same code in train (book#1/v0) and val (other#1/v0)"]
    pairs.loc[1, "response"], pairs.loc[1, "instruction"] = "x = 1", "blink the LED on GP25"
    assert find_split_leaks(pairs) == ["same instruction in train (book#1/v0) and val (other#1/v0)"]
    # The same listing reaches train through a book and val through a source file: one copy is kept.
    _, table = _build(tmp_path, _dedup_corpus(reworded, BLINK, pdf_split="train", source_split="val"))
    assert find_split_leaks(table) == [] and table["split"].nunique() == 1
    assert all(r.ok for r in compile_many(table["response"].tolist()))


SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.skipif(not (SHARED / "realcorpus" / "micropython-examples").is_dir(), reason="../shared absent")
def test_real_examples_give_clean_compiling_pairs(tmp_path: Path):
    from pipeline.corpus.build import CorpusSettings, build_corpus
    from pipeline.sources.files import build_source_files

    build_source_files(SHARED / "realcorpus" / "micropython-examples", tmp_path)
    build_corpus({}, tmp_path / "source_files.parquet", tmp_path / "corpus", CorpusSettings())
    settings = PairSettings(variants_per_original=1)
    meta = build_instruction_pairs(tmp_path / "corpus" / "corpus.parquet", tmp_path / "pairs", settings)
    table = pd.read_parquet(tmp_path / "pairs" / "pairs.parquet")
    assert meta["originals"] >= 20 and meta["rejects"]["does not compile: SyntaxError"] >= 1  # asm needing `stm`
    for instruction, response in zip(table["instruction"], table["response"]):
        assert quality.prompt_reason(instruction, instruction) is None, instruction
        assert not quality.LICENCE_TEXT.search(response), response[:200]
    marches = [march_for(code, "armv7m") for code in table["response"]]
    assert all(r.ok for r in compile_many(table["response"].tolist(), marches=marches))
