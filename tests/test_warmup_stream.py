"""The warmup stream: token_shards writes it from python_warmup_files, and a base run with warmup_share
trains on it first; with the defaults nothing of either changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from transformers import AutoTokenizer

from pipeline.common.prompt_format import BOS, EOS
from pipeline.sources.files import Block, file_rows
from pipeline.sources.python_warmup import WARMUP_SCHEMA
from pipeline.tokens.shard_format import WARMUP_STREAM, TokenShards, read_manifest, write_manifest, write_stream
from pipeline.tokens.shards import ShardSettings, build_token_shards
from pipeline.tokens.texts import document_text
from pipeline.tokens.tokenizer import TokenizerSettings, build_tokenizer, tokenizer_sha256
from pipeline.train.data import TokenBlockDataset, WarmupFirstDataset
from pipeline.train.run import run_training
from tests.fixtures_training import make_shards, make_tokenizer, tiny_settings
from tests.token_fixtures import DOCUMENTS, write_corpus, write_pairs

PYTHON = (
    "import json\n\n\ndef load(path):\n    with open(path) as handle:\n        return json.load(handle)\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n"
    "        self.items.append(item)\n",
)


def _warmup_table(path: Path, texts: list[str]) -> Path:
    rows = [
        {**row, "licence": "PSF-2.0"}
        for i, text in enumerate(texts)
        for row in file_rows(f"stdlib/m{i}.py", text, [Block("code", text)])
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=WARMUP_SCHEMA), path)
    return path


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_token_shards_write_the_warmup_stream_less_the_corpus_documents(tmp_path):
    corpus, pairs = write_corpus(tmp_path / "corpus.parquet"), write_pairs(tmp_path / "pairs.parquet")
    tokenizer_dir = tmp_path / "tokenizer"
    tokenizer_dir.mkdir()
    build_tokenizer(corpus, pairs, tokenizer_dir, TokenizerSettings(vocab_size=4096))
    settings = ShardSettings(shard_tokens=64, encode_batch=3)
    val_document = document_text(DOCUMENTS[3][2])  # a val document must not be trained on as warm-up
    warmup = _warmup_table(tmp_path / "warmup.parquet", [*PYTHON, val_document])
    meta = build_token_shards(tokenizer_dir, corpus, pairs, tmp_path / "with", settings, warmup)
    assert meta["streams"]["warmup/train"]["docs"] == 2 and meta["streams"]["warmup/train"]["in_corpus"] == 1
    manifest = read_manifest(tmp_path / "with")
    assert set(manifest["totals"][WARMUP_STREAM]) == {"train"}
    stream = TokenShards(tmp_path / "with", WARMUP_STREAM, "train")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    decoded = tokenizer.decode(stream.slice(0, stream.num_tokens).tolist())
    assert sorted(decoded.split(EOS)[:-1]) == sorted(BOS + text for text in PYTHON)

    # An empty warmup table (python_warmup_files' default): the very files of a build without it.
    empty = _warmup_table(tmp_path / "empty.parquet", [])
    meta = build_token_shards(tokenizer_dir, corpus, pairs, tmp_path / "empty", settings, empty)
    build_token_shards(tokenizer_dir, corpus, pairs, tmp_path / "without", settings)
    assert _files(tmp_path / "empty") == _files(tmp_path / "without") and "warmup/train" not in meta["streams"]


def test_the_warmup_first_order_holds_every_block_of_each_phase(tmp_path):
    tokenizer_dir = make_tokenizer(tmp_path / "tokenizer")
    shards = make_shards(tmp_path / "shards", tokenizer_dir, {"train": 60, "val": 10})
    warmup = TokenBlockDataset(TokenShards(shards, "sft", "train"), 64, use_mask=False)  # any second stream
    main = TokenBlockDataset(TokenShards(shards, "pretrain", "train"), 64, use_mask=False)
    order = WarmupFirstDataset(warmup, main, len(warmup) + 3, len(warmup) + 3 + len(main), seed=5)
    assert len(order) == len(warmup) + 3 + len(main)
    first_pass = order.order[: len(warmup)]
    assert sorted(first_pass) == list(range(len(warmup)))  # a shuffled pass, then the next one begins
    assert sorted(order.order[len(warmup) + 3 :]) == list(range(len(main)))
    assert np.array_equal(order.order, WarmupFirstDataset(warmup, main, len(warmup) + 3, len(order), 5).order)
    assert torch.equal(order[len(warmup) + 3]["input_ids"], main[int(order.order[len(warmup) + 3])]["input_ids"])
    with pytest.raises(ValueError, match="warmup_samples 0 must lie in"):
        WarmupFirstDataset(warmup, main, 0, 10, seed=5)


@pytest.fixture(scope="module")
def shards_pair(tmp_path_factory) -> tuple[Path, Path, Path]:
    """The same training shards twice, the second with a warmup stream of general Python besides."""
    root = tmp_path_factory.mktemp("warmup_train")
    tokenizer_dir = make_tokenizer(root / "tokenizer")
    plain = make_shards(root / "plain", tokenizer_dir)
    with_warmup = make_shards(root / "with_warmup", tokenizer_dir)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    docs = [np.array(tokenizer.encode(BOS + text * 8 + EOS), dtype=np.int64) for text in PYTHON * 10]
    entries = read_manifest(with_warmup)["shards"]
    entries += write_stream(with_warmup, WARMUP_STREAM, "train", docs, None, len(tokenizer), shard_tokens=4096)
    write_manifest(with_warmup, entries, len(tokenizer), tokenizer_sha256(tokenizer_dir))
    return tokenizer_dir, plain, with_warmup


def _train_capturing_batches(settings) -> tuple[list[torch.Tensor], dict]:
    """Train, and keep the token ids of every training batch as the model's embedding receives them."""
    batches: list[torch.Tensor] = []

    def record(module, args):
        if isinstance(module, torch.nn.Embedding) and module.training:
            batches.append(args[0].detach().clone())

    handle = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        metrics = run_training(settings)
    finally:
        handle.remove()
    return batches, metrics


def _blocks(shards: Path, stream: str, seq_len: int) -> set[tuple[int, ...]]:
    tokens = TokenShards(shards, stream, "train")
    return {tuple(tokens.slice(i, i + seq_len).tolist()) for i in range(0, tokens.num_tokens - seq_len + 1, seq_len)}


def test_a_warmup_share_trains_the_first_steps_on_the_warmup_stream(shards_pair, tmp_path):
    tokenizer_dir, _, shards = shards_pair
    settings = tiny_settings(tmp_path, shards, tokenizer_dir, max_steps=6, warmup_share=0.5, eval_every=3, save_every=3)
    batches, metrics = _train_capturing_batches(settings)
    assert metrics["warmup_steps"] == 3 and metrics["steps"] == 6 and len(batches) == 6
    warmup, corpus = _blocks(shards, WARMUP_STREAM, 64), _blocks(shards, "pretrain", 64)
    rows = [tuple(row.tolist()) for batch in batches for row in batch]
    assert all(row in warmup for row in rows[: 3 * 8]), "a warm-up step trained on corpus blocks"
    assert all(row in corpus for row in rows[3 * 8 :]), "a corpus step trained on warm-up blocks"


def test_warmup_share_zero_trains_as_before_whatever_the_shards_hold(shards_pair, tmp_path):
    tokenizer_dir, plain, with_warmup = shards_pair
    runs = {}
    for name, shards in (("plain", plain), ("with_warmup", with_warmup)):
        settings = tiny_settings(tmp_path / name, shards, tokenizer_dir, max_steps=4, eval_every=2, save_every=2)
        runs[name] = _train_capturing_batches(settings)
    (plain_batches, plain_metrics), (warm_batches, warm_metrics) = runs["plain"], runs["with_warmup"]
    assert warm_metrics["warmup_steps"] == 0
    assert all(torch.equal(a, b) for a, b in zip(plain_batches, warm_batches)) and len(plain_batches) == 4
    weights = [Path(m["model_dir"], "model.safetensors").read_bytes() for m in (plain_metrics, warm_metrics)]
    assert weights[0] == weights[1]


def test_a_warmup_share_without_the_stream_says_what_to_enable(shards_pair, tmp_path):
    tokenizer_dir, plain, _ = shards_pair
    with pytest.raises(ValueError, match="enable python_warmup_files and rebuild token_shards"):
        run_training(tiny_settings(tmp_path, plain, tokenizer_dir, max_steps=4, warmup_share=0.5))
    with pytest.raises(ValueError, match="warmup_share is for mode 'pretrain'"):
        tiny_settings(tmp_path, plain, tokenizer_dir, mode="sft", init_from="x", warmup_share=0.5).validate()
    assert json.loads(tiny_settings(tmp_path, plain, tokenizer_dir).to_json())["warmup_share"] == 0.0


def test_a_resumed_warmup_run_continues_with_the_blocks_it_would_have_trained_on(shards_pair, tmp_path):
    tokenizer_dir, _, shards = shards_pair
    settings = tiny_settings(tmp_path, shards, tokenizer_dir, max_steps=6, warmup_share=0.7, eval_every=3, save_every=3)
    whole, _ = _train_capturing_batches(settings)
    # As if the run had died after its first checkpoint, at step 3 of the 4 warm-up steps.
    checkpoints = Path(settings.output_dir) / "checkpoints"
    for late in [p for p in checkpoints.iterdir() if p.name != "checkpoint-3"]:
        shutil.rmtree(late)
    resumed, metrics = _train_capturing_batches(settings)
    assert metrics["resumed_from"].endswith("checkpoint-3") and (metrics["warmup_steps"], metrics["steps"]) == (4, 6)
    assert len(resumed) == 3 and all(torch.equal(a, b) for a, b in zip(resumed, whole[3:]))
