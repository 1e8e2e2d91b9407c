"""Tiny, real training inputs for tests: a BPE tokenizer dir and token shards.

The documents are templated MicroPython snippets with varied pins, names and
delays: predictable enough from context that a 2-layer model beats the unigram
baseline within a few dozen steps, varied enough that it cannot do so from token
frequencies alone.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from pipeline.common.prompt_format import BOS, EOS, split_pair
from pipeline.tokens.shard_format import write_manifest, write_stream
from pipeline.tokens.tokenizer import tokenizer_sha256
from pipeline.train.settings import TrainSettings
from tests.tiny_models import build_tiny_tokenizer

_TEMPLATES = (
    "from machine import Pin\nimport time\n{name} = Pin({pin}, Pin.OUT)\nwhile True:\n"
    "    {name}.value({value})\n    time.sleep_ms({ms})\n",
    "def read_{name}(adc):\n    return adc.read_u16() * {scale} / 65535\n",
    "i2c = I2C({bus}, scl=Pin({pin}), sda=Pin({pin2}), freq=400000)\nprint(i2c.scan())\n",
    "uart = UART({bus}, baudrate=9600, tx={pin}, rx={pin2})\nuart.write(b'{name}')\n",
)
_NAMES = ("led", "relay", "buzzer", "fan", "pump", "lamp")


def micropython_snippet(rng: random.Random) -> str:
    return rng.choice(_TEMPLATES).format(
        name=rng.choice(_NAMES),
        pin=rng.randint(0, 39),
        pin2=rng.randint(0, 39),
        value=rng.randint(0, 1),
        ms=rng.choice((10, 50, 100, 250, 500, 1000)),
        scale=rng.choice(("3.3", "5.0")),
        bus=rng.randint(0, 1),
    )


def make_tokenizer(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    build_tiny_tokenizer(directory, vocab_size=512)
    return directory


def make_shards(directory: Path, tokenizer_dir: Path, docs_per_split: dict[str, int] | None = None) -> Path:
    """Write "pretrain" and "sft" streams (train and val) of templated snippets."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    docs_per_split = docs_per_split or {"train": 400, "val": 40}
    directory.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    for split, count in docs_per_split.items():
        rng = random.Random(f"{split}-seed")
        pretrain_docs, sft_docs, sft_masks = [], [], []
        for _ in range(count):
            snippet = micropython_snippet(rng)
            pretrain_docs.append(np.array(tokenizer.encode(BOS + snippet + EOS), dtype=np.int64))
            prompt, response = split_pair("Write MicroPython for this board.", snippet)
            prompt_ids, response_ids = tokenizer.encode(prompt), tokenizer.encode(response)
            sft_docs.append(np.array(prompt_ids + response_ids, dtype=np.int64))
            sft_masks.append(np.array([0] * len(prompt_ids) + [1] * len(response_ids), dtype=np.uint8))
        entries += write_stream(directory, "pretrain", split, pretrain_docs, None, len(tokenizer), shard_tokens=4096)
        entries += write_stream(directory, "sft", split, sft_docs, sft_masks, len(tokenizer), shard_tokens=4096)
    write_manifest(directory, entries, len(tokenizer), tokenizer_sha256=tokenizer_sha256(tokenizer_dir))
    return directory


def tiny_settings(
    tmp: Path, shards_dir: Path, tokenizer_dir: Path, every: int | None = None, **changes
) -> TrainSettings:
    """Settings for a seconds-long CPU run of the tiny preset; ``every``: evaluate, save and log every
    that many steps."""
    values = dict(
        mode="pretrain",
        family="llama",
        size="tiny",
        shards_dir=str(shards_dir),
        tokenizer_dir=str(tokenizer_dir),
        output_dir=str(tmp / "run"),
        max_steps=40,
        batch_size=8,
        seq_len=64,
        lr=3e-3,
        warmup_ratio=0.1,
        eval_every=10,
        save_every=20,
        log_every=1,
        eval_tokens=2048,
        early_stopping_patience=0,  # tests count steps; the demo (test_demo_resume) runs with it on
        device="cpu",
        precision="fp32",
    )
    if every is not None:
        values.update(eval_every=every, save_every=every, log_every=every)
    values.update(changes)
    return TrainSettings(**values)


def read_metrics(model_dir: Path) -> dict:
    return json.loads((Path(model_dir) / "metrics.json").read_text())
