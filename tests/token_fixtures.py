"""Small corpus and pair tables (the corpus/instruction_pairs contracts) for tokenizer and shard tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CODE = (
    "from machine import Pin\nled = Pin(2, Pin.OUT)\nled.value(1)\n",
    "import time\nwhile True:\n    led.toggle()\n    time.sleep_ms(500)\n",
    "def read_sensor(adc):\n    if adc:\n        for i in range(3):\n            return adc.read_u16() * 3.3 / 65535\n",
    "i2c = I2C(0, scl=Pin(22), sda=Pin(21), freq=400000)\nprint(i2c.scan())\n",
    "class Motor:\n\tdef __init__(self, pwm):\n\t\tself.pwm = pwm\n",
)
PROSE = (
    "The ESP32 has two I2C buses; use SoftI2C for any other pins.",
    "Don't block the event loop: we'll use uasyncio and it's fine.",
    "Température: 23 °C — the sensor reads ±0.5 degrees. 🌡️",
)

# (doc_id, split, [(kind, level, text)]) in seq order.
DOCUMENTS = (
    (
        "book-a",
        "train",
        [("heading", 1, "Blinking an LED"), ("prose", 0, PROSE[0]), ("code", 0, CODE[0]), ("code", 0, CODE[1])],
    ),
    (
        "book-b",
        "train",
        [("heading", 2, "Sensors"), ("prose", 0, PROSE[1]), ("code", 0, CODE[2]), ("prose", 0, PROSE[2])],
    ),
    ("book-c", "train", [("code", 0, CODE[4]), ("prose", 0, PROSE[0] + " " + PROSE[1])]),
    ("book-d", "val", [("heading", 1, "I2C"), ("prose", 0, PROSE[2]), ("code", 0, CODE[3])]),
)

PAIRS = (
    ("Blink the onboard LED.", CODE[1], "train"),
    ("Read an analog sensor.", CODE[2], "train"),
    ("Scan the I2C bus.", CODE[3], "train"),
    ("Set up a motor class.", CODE[4], "val"),
)


def write_corpus(path: Path, repeat: int = 1) -> Path:
    """corpus.parquet; rows are shuffled (reverse order) so readers must sort by seq themselves."""
    rows = []
    for copy in range(repeat):
        for doc_id, split, blocks in DOCUMENTS:
            for seq, (kind, level, text) in enumerate(blocks):
                rows.append(
                    {
                        "doc_id": f"{doc_id}-{copy}",
                        "source": f"pdf:{doc_id}",
                        "kind": kind,
                        "level": level,
                        "text": text,
                        "page": 1,
                        "seq": seq,
                        "split": split,
                    }
                )
    pq.write_table(pa.Table.from_pylist(rows[::-1]), path)
    return path


def write_pairs(path: Path, repeat: int = 1) -> Path:
    rows = [
        {
            "pair_id": f"p{i}-{copy}",
            "origin_id": f"p{i}",
            "variant": copy,
            "instruction": instruction,
            "response": response,
            "augmentations": [],
            "split": split,
            "source_doc": "book-a",
        }
        for copy in range(repeat)
        for i, (instruction, response, split) in enumerate(PAIRS)
    ]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
