"""The corpus stage on small synthetic block tables: filters, dedup, order, split, metadata."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.corpus.build import CORPUS_FILE, CorpusSettings, assign_splits, build_corpus, split_of
from pipeline.corpus.dedup import IDENTIFIER_PLACEHOLDER, code_tokens

SENSOR_PROGRAM = """\
from machine import Pin, I2C, Timer
import time

SENSOR_ADDR = 0x76
led = Pin(25, Pin.OUT)
button = Pin(14, Pin.IN, Pin.PULL_UP)
i2c = I2C(0, scl=Pin(17), sda=Pin(16), freq=400000)
readings = []


def read_temperature(bus, address):
    # two bytes, big endian, tenths of a degree
    raw = bus.readfrom_mem(address, 0xFA, 2)
    value = (raw[0] << 8) | raw[1]
    return value / 10


def on_tick(timer):
    temperature = read_temperature(i2c, SENSOR_ADDR)
    readings.append(temperature)
    if len(readings) > 10:
        readings.pop(0)
    led.toggle()


tick = Timer(period=1000, mode=Timer.PERIODIC, callback=on_tick)
while True:
    if button.value() == 0:
        average = sum(readings) / max(len(readings), 1)
        print("average", average)
    time.sleep_ms(200)
"""

# The same program as a book might print it: other local names, one line rewritten.
SENSOR_PROGRAM_VARIANT = (
    SENSOR_PROGRAM.replace("readings", "history")
    .replace("temperature", "celsius")
    .replace("on_tick", "sample")
    .replace("raw", "data")
    .replace("        history.pop(0)", "        history = history[-10:]")
)

BLINK_PROGRAM = """\
from machine import Pin
import time

led = Pin(2, Pin.OUT)
for _ in range(10):
    led.on()
    time.sleep(0.5)
    led.off()
    time.sleep(0.5)
"""

PWM_PROGRAM = """\
from machine import Pin, PWM
import time

pwm = PWM(Pin(15), freq=1000)
for duty in range(0, 65536, 1024):
    pwm.duty_u16(duty)
    time.sleep_ms(10)
pwm.deinit()
"""


def write_blocks(path: Path, doc_id: str, blocks: list[tuple[str, str]]) -> Path:
    """A block table for one document from (kind, text) pairs, seq in list order."""
    rows = [
        {
            "doc_id": doc_id,
            "kind": kind,
            "level": 2 if kind == "heading" else 0,
            "text": text,
            "page": 1 + seq // 3,
            "seq": seq,
        }
        for seq, (kind, text) in enumerate(blocks)
    ]
    pd.DataFrame(rows).to_parquet(path)
    return path


def build(tmp_path: Path, pdfs: dict[str, list[tuple[str, str]]], **settings) -> tuple[pd.DataFrame, dict]:
    """Write one blocks.parquet per PDF key (doc_id = "doc-<key>") and build the corpus."""
    paths = {key: write_blocks(tmp_path / f"{key}.parquet", f"doc-{key}", blocks) for key, blocks in pdfs.items()}
    out_dir = tmp_path / "corpus_out"
    metadata = build_corpus(paths, None, out_dir, CorpusSettings(**settings))
    return pd.read_parquet(out_dir / CORPUS_FILE), metadata


def texts_of(corpus: pd.DataFrame, doc_id: str) -> list[str]:
    return corpus.loc[corpus["doc_id"] == doc_id].sort_values("seq")["text"].tolist()


def test_exact_duplicate_code_block_is_removed_and_first_source_wins(tmp_path):
    reformatted = SENSOR_PROGRAM.replace("\n\n\n", "\n").replace("    ", "  ")  # whitespace only
    corpus, metadata = build(
        tmp_path,
        {
            "b_book": [("heading", "Sensor"), ("code", reformatted)],
            "a_book": [("heading", "Sensor"), ("code", SENSOR_PROGRAM), ("code", BLINK_PROGRAM)],
        },
    )
    assert texts_of(corpus, "doc-a_book") == ["Sensor", SENSOR_PROGRAM, BLINK_PROGRAM]
    assert texts_of(corpus, "doc-b_book") == ["Sensor"]  # the heading is context, not deduplicated
    assert metadata["duplicates_removed"]["exact_code_blocks"] == 1
    assert metadata["duplicates_removed"]["near_code_blocks"] == 0


def test_near_duplicate_with_renamed_variables_and_changed_line_is_removed(tmp_path):
    corpus, metadata = build(
        tmp_path,
        {
            "a": [("prose", "Read the sensor once a second."), ("code", SENSOR_PROGRAM)],
            "b": [
                ("prose", "A printed copy of the sensor example."),
                ("code", SENSOR_PROGRAM_VARIANT),
                ("code", PWM_PROGRAM),
            ],
        },
    )
    code = corpus.loc[corpus["kind"] == "code", "text"].tolist()
    assert code == [SENSOR_PROGRAM, PWM_PROGRAM]
    assert metadata["duplicates_removed"]["near_code_blocks"] == 1
    assert metadata["blocks_by_kind"] == {"heading": 0, "prose": 2, "code": 2}


def test_near_dedup_threshold_is_honoured(tmp_path):
    pdfs = {"a": [("code", SENSOR_PROGRAM)], "b": [("code", SENSOR_PROGRAM_VARIANT)]}
    strict, metadata = build(tmp_path, pdfs, near_dup_threshold=0.95)  # the variant scores about 0.9
    assert metadata["duplicates_removed"]["near_code_blocks"] == 0
    assert len(strict) == 2


def test_distinct_code_kept_and_block_order_preserved(tmp_path):
    corpus, _ = build(
        tmp_path,
        {
            "a": [("heading", "Blink"), ("code", BLINK_PROGRAM)],
            "b": [
                ("heading", "Intro"),
                ("prose", "Three examples follow."),
                ("heading", "Again blink"),
                ("code", BLINK_PROGRAM),
                ("heading", "Dimming"),
                ("prose", "Fade an LED with PWM."),
                ("code", PWM_PROGRAM),
                ("heading", "Sensor"),
                ("code", SENSOR_PROGRAM),
            ],
        },
    )
    doc_b = corpus.loc[corpus["doc_id"] == "doc-b"]
    assert doc_b["seq"].tolist() == [0, 1, 2, 4, 5, 6, 7, 8]  # only the duplicate (seq 3) is gone
    assert doc_b["kind"].tolist() == ["heading", "prose", "heading", "heading", "prose", "code", "heading", "code"]


def test_quality_filters_drop_junk_and_count_reasons(tmp_path):
    long_line = "data = b'" + "A" * 500 + "'"
    symbol_soup = "!@#$%^&*()_+{}|:<>?~`-=[]\\;',./" * 3
    corpus, metadata = build(
        tmp_path,
        {
            "a": [
                ("heading", "I2C"),  # short headings are fine
                ("code", long_line),
                ("prose", symbol_soup),
                ("code", "x=1"),
                ("prose", "   "),
                ("code", BLINK_PROGRAM),
            ]
        },
    )
    assert corpus["text"].tolist() == ["I2C", BLINK_PROGRAM]
    assert metadata["filtered"] == {"empty": 1, "too_short": 1, "long_line": 1, "low_alnum": 1}
    loose, _ = build(tmp_path, {"a": [("code", long_line)]}, max_line_length=600)
    assert loose["text"].tolist() == [long_line]


def test_duplicate_documents_removed_whole(tmp_path):
    book = [
        ("heading", "Getting started"),
        ("prose", "Connect the board over USB and open the REPL to try the commands below."),
        ("code", BLINK_PROGRAM),
        ("prose", "Next we fade an LED using pulse width modulation on pin 15."),
        ("code", PWM_PROGRAM),
    ]
    same_book_new_title = [("heading", "Getting started!"), *book[1:]]
    corpus, metadata = build(tmp_path, {"a": book, "b": list(book), "c": same_book_new_title})
    assert corpus["doc_id"].unique().tolist() == ["doc-a"]
    assert metadata["duplicates_removed"]["exact_documents"] == 1
    assert metadata["duplicates_removed"]["near_documents"] == 1
    assert metadata["documents_emptied"] == 0


def test_document_with_all_blocks_dropped_disappears(tmp_path):
    renamed_blink = BLINK_PROGRAM.replace("led", "lamp")
    junk = "<<<>>>|||~~~" * 2
    corpus, metadata = build(
        tmp_path, {"a": [("code", BLINK_PROGRAM)], "b": [("prose", junk), ("code", renamed_blink)]}
    )
    assert corpus["doc_id"].unique().tolist() == ["doc-a"]
    assert metadata["documents"] == 1
    assert metadata["documents_emptied"] == 1
    assert metadata["duplicates_removed"]["near_code_blocks"] == 1
    assert metadata["duplicates_removed"]["near_documents"] == 0
    assert "| pdf:b | 2 | 0 | 0 | 0 | 0 | 0 |" in metadata["per_source"]


def test_result_does_not_depend_on_input_order(tmp_path):
    pdfs = {"a": [("code", SENSOR_PROGRAM)], "b": [("code", SENSOR_PROGRAM_VARIANT)], "c": [("code", PWM_PROGRAM)]}
    (tmp_path / "forward").mkdir()
    (tmp_path / "backward").mkdir()
    forward, _ = build(tmp_path / "forward", pdfs)
    backward, _ = build(tmp_path / "backward", dict(reversed(pdfs.items())))
    pd.testing.assert_frame_equal(forward, backward)
    assert forward["source"].tolist() == ["pdf:a", "pdf:c"]


def test_split_is_deterministic_and_stable_when_documents_are_added():
    doc_ids = [f"book-{i}" for i in range(300)]
    before = assign_splits(doc_ids, 0.2, "salt")
    after = assign_splits([*doc_ids, "a-new-book", "zz-another"], 0.2, "salt")
    assert all(after[doc_id] == before[doc_id] for doc_id in doc_ids)
    assert before == assign_splits(list(reversed(doc_ids)), 0.2, "salt")
    assert all(split_of(doc_id, 0.2, "salt") == before[doc_id] for doc_id in doc_ids)
    assert assign_splits(doc_ids, 0.2, "other salt") != before


def test_split_fraction_roughly_matches():
    splits = assign_splits([f"doc-{i}" for i in range(4000)], 0.05, "mpyforge")
    val_share = sum(split == "val" for split in splits.values()) / len(splits)
    assert 0.04 < val_share < 0.06


def test_at_least_one_val_and_one_train_document():
    for salt in ("s1", "s2", "s3", "s4", "s5"):
        pair = assign_splits(["only-a", "only-b"], 0.001, salt)
        assert sorted(pair.values()) == ["train", "val"]
        nearly_all_val = assign_splits(["x", "y", "z"], 0.999, salt)
        assert "train" in nearly_all_val.values()
    assert assign_splits(["alone"], 0.001, "s1") == {"alone": "train"}


def test_metadata_counts_and_split_column(tmp_path):
    corpus, metadata = build(
        tmp_path,
        {
            "a": [("heading", "Blink"), ("prose", "Blink an LED on pin 2."), ("code", BLINK_PROGRAM)],
            "b": [("heading", "PWM"), ("code", PWM_PROGRAM)],
        },
        val_fraction=0.01,
    )
    assert metadata["documents"] == 2 and metadata["blocks"] == 5
    assert metadata["documents_by_split"] == {"train": 1, "val": 1}
    assert metadata["characters"] == corpus["text"].str.len().sum()
    assert metadata["input_blocks"] == 5 and metadata["input_documents"] == 2
    assert corpus.groupby("doc_id")["split"].nunique().eq(1).all()
    assert list(corpus.columns) == ["doc_id", "source", "kind", "level", "text", "page", "seq", "split"]
    assert metadata["per_source"].splitlines()[2].startswith("| pdf:a | 3 | 3 | 1 |")


def test_section_split_puts_a_books_sections_on_both_sides(tmp_path):
    # One book of 40 sections: split by document it lies wholly on one side (as the real library's
    # six PDFs all lay in train); split by section, about val_fraction of its sections go to val,
    # each with its heading, prose and code together.
    sections = [
        (f"Chapter {i}", f"Section {i} sets pin {i} high.", f"x{i} = {i}\nprint(x{i} * {i + 1})") for i in range(40)
    ]
    blocks = [block for h, p, c in sections for block in (("heading", h), ("prose", p), ("code", c))]
    for name in ("doc", "section", "fewer"):
        (tmp_path / name).mkdir()
    whole, whole_meta = build(tmp_path / "doc", {"book": blocks}, val_fraction=0.25, min_chars=1)
    assert whole["split"].nunique() == 1 and sum(whole_meta["split_units_by_split"].values()) == 1
    by_section, meta = build(tmp_path / "section", {"book": blocks}, val_fraction=0.25, min_chars=1, split_by="section")
    assert len(by_section) == 120
    per_section = by_section.groupby(by_section.index // 3)["split"]
    assert per_section.nunique().eq(1).all(), "a section's blocks share one split"
    val_sections = int((per_section.first() == "val").sum())
    assert 3 <= val_sections <= 20 and meta["split_units_by_split"] == {"train": 40 - val_sections, "val": val_sections}
    assert meta["documents_by_split"] == {"train": 1, "val": 1}
    # A section keeps its split when an earlier one is removed: the key is its heading, not its position.
    fewer, _ = build(tmp_path / "fewer", {"book": blocks[3:]}, val_fraction=0.25, min_chars=1, split_by="section")
    assert fewer.groupby(fewer.index // 3)["split"].first().tolist() == per_section.first().tolist()[1:]
    with pytest.raises(ValueError, match="split_by"):
        CorpusSettings(split_by="page").validate()


def test_source_files_and_failed_pdfs(tmp_path):
    pdf = write_blocks(tmp_path / "book.parquet", "book", [("heading", "Blink"), ("code", BLINK_PROGRAM)])
    sources = pd.DataFrame(
        [
            {
                "doc_id": "src-blink",
                "kind": "code",
                "level": 0,
                "text": BLINK_PROGRAM,
                "page": 0,
                "seq": 0,
                "path": "examples/blink.py",
                "sha256": "0" * 64,
            },
            {
                "doc_id": "src-pwm",
                "kind": "code",
                "level": 0,
                "text": PWM_PROGRAM,
                "page": 0,
                "seq": 0,
                "path": "examples/pwm.py",
                "sha256": "1" * 64,
            },
        ]
    )
    sources.to_parquet(tmp_path / "source_files.parquet")
    metadata = build_corpus(
        {"book": pdf},
        tmp_path / "source_files.parquet",
        tmp_path / "out",
        CorpusSettings(),
        failed_pdfs={"scan": "no text layer (image-only pages)"},
    )
    corpus = pd.read_parquet(tmp_path / "out" / CORPUS_FILE)
    assert sorted(corpus["source"].unique()) == ["pdf:book", "sources:examples/pwm.py"]
    assert metadata["failed_pdfs"] == [{"partition": "scan", "error": "no text layer (image-only pages)"}]


def test_missing_columns_are_reported_with_file(tmp_path):
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"doc_id": ["d"], "kind": ["code"], "text": [BLINK_PROGRAM]}).to_parquet(bad)
    with pytest.raises(ValueError, match=r"bad\.parquet.*missing columns \['level', 'page', 'seq'\]"):
        build_corpus({"bad": bad}, None, tmp_path / "out", CorpusSettings())


def test_unknown_kind_and_doc_id_clash_are_rejected(tmp_path):
    odd = write_blocks(tmp_path / "odd.parquet", "d", [("table", "a | b")])
    with pytest.raises(ValueError, match=r"odd\.parquet.*'kind'.*\['table'\]"):
        build_corpus({"odd": odd}, None, tmp_path / "out", CorpusSettings())
    first = write_blocks(tmp_path / "one.parquet", "same-id", [("code", BLINK_PROGRAM)])
    second = write_blocks(tmp_path / "two.parquet", "same-id", [("code", PWM_PROGRAM)])
    with pytest.raises(ValueError, match=r"doc_id 'same-id' appears in several inputs \['pdf:one', 'pdf:two'\]"):
        build_corpus({"one": first, "two": second}, None, tmp_path / "out2", CorpusSettings())


def test_empty_result_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="corpus is empty"):
        build(tmp_path, {"a": [("code", "#" * 40)]})


def test_code_tokens_keep_api_names_and_anonymize_locals():
    tokens = code_tokens("from machine import Pin\nled = Pin(2, mode=Pin.OUT)  # onboard\nled.on()\n")
    assert tokens == [
        "from",
        "machine",
        "import",
        "Pin",
        IDENTIFIER_PLACEHOLDER,
        "=",
        "Pin",
        "(",
        "2",
        ",",
        "mode",
        "=",
        "Pin",
        ".",
        "OUT",
        ")",
        IDENTIFIER_PLACEHOLDER,
        ".",
        "on",
        "(",
        ")",
    ]
    # Broken indentation from a PDF still yields tokens (fallback lexer), names kept literal.
    assert code_tokens("def f():\n        x = 1\n    return x  # r\n") == [
        "def",
        "f",
        "(",
        ")",
        ":",
        "x",
        "=",
        "1",
        "return",
        "x",
    ]


def test_short_shell_commands_are_not_collapsed(tmp_path):
    corpus, metadata = build(
        tmp_path, {"a": [("code", "$ sudo apt install thonny"), ("code", "$ sudo apt install minicom")]}
    )
    assert len(corpus) == 2
    assert metadata["duplicates_removed"]["near_code_blocks"] == 0
