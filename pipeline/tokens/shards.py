"""Tokenize the corpus and the instruction pairs into ``.bin`` shards (format: ``pipeline.tokens.shard_format``).

Two streams, each with a train and a val split:

* ``pretrain``: every corpus document (``token_texts.corpus_documents``) as
  ``<bos> text <eos>``, concatenated;
* ``sft``: every pair as ``split_pair``'s prompt then response, with a uint8 loss
  mask that is 1 exactly on the response tokens (closing ``<eos>`` included).

A third, ``warmup`` (train split only), holds the general Python of ``python_warmup_files`` as
``<bos> text <eos>`` per file, less the files that are corpus documents already (a val document
must not be trained on); the base model trains on it first (``TrainSettings.warmup_share``).
An empty warmup table (the default) writes no warmup shard.

Prompt and response are encoded separately: at inference the prompt
(``format_prompt``) is also encoded alone, so training sees the same ids.
Encoding goes through ``Tokenizer.encode_batch_fast`` on ``encode_batch`` texts at
a time, which runs the Rust tokenizer on all cores. Special-token strings inside
corpus or pair text (a literal ``<eos>``) encode as those tokens, as in any HF tokenizer.
"""

from __future__ import annotations

import array
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from itertools import islice, tee
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from tokenizers import Tokenizer

from pipeline.common.prompt_format import BOS, EOS, SPECIAL_TOKEN_IDS
from pipeline.sources.python_warmup import normalized_sha256
from pipeline.tokens.shard_format import WARMUP_STREAM, token_dtype, write_manifest, write_stream
from pipeline.tokens.texts import SPLITS, corpus_documents, pair_batches, warmup_documents
from pipeline.tokens.tokenizer import load_tokenizer, tokenizer_sha256

# Inside a token_shards artifact the shards keep their own manifest.json, apart from the store's.
SHARDS_SUBDIR = "shards"

BOS_ID = SPECIAL_TOKEN_IDS[BOS]
EOS_ID = SPECIAL_TOKEN_IDS[EOS]


@dataclass
class ShardSettings:
    shard_tokens: int = 10_000_000  # tokens per shard file (20 MB at uint16)
    # Texts per encode_batch call: enough for the Rust threads to share, small enough that
    # several batches exist and converting one overlaps encoding the next.
    encode_batch: int = 256
    batch_rows: int = 2048  # parquet rows per streamed batch of pairs

    def validate(self) -> None:
        if min(self.shard_tokens, self.encode_batch, self.batch_rows) < 1:
            raise ValueError(f"ShardSettings: every field must be >= 1, got {asdict(self)}")


def _to_array(ids: list[int], dtype: np.dtype) -> np.ndarray:
    # array.array builds from a list of ints in C about 1.3x faster than np.array (measured).
    return np.frombuffer(array.array("H" if dtype.itemsize == 2 else "I", ids), dtype=dtype)


def encoded_batches(
    tokenizer: Tokenizer, texts: Iterator[str], batch: int, dtype: np.dtype
) -> Iterator[list[np.ndarray]]:
    """Token ids of ``texts``, ``batch`` texts per ``encode_batch_fast`` call, as numpy arrays.

    The next batch is encoded in a worker thread (the Rust call releases the GIL)
    while this one is turned into arrays, so the Python-side copy overlaps encoding.
    """

    def encode(chunk: list[str]) -> list:
        return tokenizer.encode_batch_fast(chunk, add_special_tokens=False)

    with ThreadPoolExecutor(max_workers=1) as worker:
        chunk = list(islice(texts, batch))
        pending = worker.submit(encode, chunk) if chunk else None
        while pending is not None:
            encodings = pending.result()
            chunk = list(islice(texts, batch))
            pending = worker.submit(encode, chunk) if chunk else None
            yield [_to_array(e.ids, dtype) for e in encodings]


def pretrain_docs(tokenizer: Tokenizer, texts: Iterator[str], batch: int, dtype: np.dtype) -> Iterator[np.ndarray]:
    """``<bos> ids <eos>`` per text."""
    bos, eos = np.array([BOS_ID], dtype=dtype), np.array([EOS_ID], dtype=dtype)
    for encoded in encoded_batches(tokenizer, texts, batch, dtype):
        for ids in encoded:
            yield np.concatenate([bos, ids, eos])


def sft_docs(
    tokenizer: Tokenizer, pairs: Iterator[tuple[str, str]], batch: int, dtype: np.dtype
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(ids, mask)`` per pair: prompt ids (mask 0) then response ids (mask 1)."""
    # Prompts and responses interleaved in one text stream: [p0, r0, p1, r1, ...]; 2*batch keeps pairs whole.
    texts = (text for pair in pairs for text in pair)
    for encoded in encoded_batches(tokenizer, texts, 2 * batch, dtype):
        for prompt, response in zip(encoded[0::2], encoded[1::2]):
            mask = np.zeros(len(prompt) + len(response), dtype=np.uint8)
            mask[len(prompt) :] = 1
            yield np.concatenate([prompt, response]), mask


def _write_pretrain(
    tokenizer: Tokenizer, corpus_path: Path, split: str, out_dir: Path, settings: ShardSettings, stats: dict
) -> list[dict]:
    vocab_size = tokenizer.get_vocab_size()
    counts = {"docs": 0}

    def texts() -> Iterator[str]:
        for _, text in corpus_documents(corpus_path, split):
            counts["docs"] += 1
            yield text

    docs = pretrain_docs(tokenizer, texts(), settings.encode_batch, token_dtype(vocab_size))
    entries = write_stream(out_dir, "pretrain", split, docs, None, vocab_size, settings.shard_tokens)
    stats[f"pretrain/{split}"] = {
        "docs": counts["docs"],
        "tokens": sum(e["tokens"] for e in entries),
        "shards": len(entries),
    }
    return entries


def _write_sft(
    tokenizer: Tokenizer, pairs_path: Path, split: str, out_dir: Path, settings: ShardSettings, stats: dict
) -> list[dict]:
    vocab_size = tokenizer.get_vocab_size()
    counts = {"docs": 0, "response_tokens": 0}

    def counted() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        pairs = (pair for batch in pair_batches(pairs_path, split, settings.batch_rows) for pair in batch)
        for ids, mask in sft_docs(tokenizer, pairs, settings.encode_batch, token_dtype(vocab_size)):
            counts["docs"] += 1
            counts["response_tokens"] += int(mask.sum())
            yield ids, mask

    # write_stream reads docs and masks in lockstep, so tee buffers at most one item.
    for_docs, for_masks = tee(counted())
    entries = write_stream(
        out_dir,
        "sft",
        split,
        (ids for ids, _ in for_docs),
        (mask for _, mask in for_masks),
        vocab_size,
        settings.shard_tokens,
    )
    tokens = sum(e["tokens"] for e in entries)
    stats[f"sft/{split}"] = {
        "docs": counts["docs"],
        "tokens": tokens,
        "shards": len(entries),
        "response_fraction": round(counts["response_tokens"] / tokens, 4) if tokens else None,
    }
    return entries


def _write_warmup(
    tokenizer: Tokenizer, warmup_path: Path, corpus_path: Path, out_dir: Path, settings: ShardSettings, stats: dict
) -> list[dict]:
    in_corpus = {normalized_sha256(text) for split in SPLITS for _, text in corpus_documents(corpus_path, split)}
    counts = {"docs": 0, "in_corpus": 0}

    def texts() -> Iterator[str]:
        for _, text in warmup_documents(warmup_path):
            if normalized_sha256(text) in in_corpus:
                counts["in_corpus"] += 1
                continue
            counts["docs"] += 1
            yield text

    vocab_size = tokenizer.get_vocab_size()
    docs = pretrain_docs(tokenizer, texts(), settings.encode_batch, token_dtype(vocab_size))
    entries = write_stream(out_dir, WARMUP_STREAM, "train", docs, None, vocab_size, settings.shard_tokens)
    stats[f"{WARMUP_STREAM}/train"] = {**counts, "tokens": sum(e["tokens"] for e in entries), "shards": len(entries)}
    return entries


def build_token_shards(
    tokenizer_dir: Path,
    corpus_path: Path,
    pairs_path: Path | None,
    out_dir: Path,
    settings: ShardSettings,
    warmup_path: Path | None = None,
) -> dict:
    """Write pretrain (and sft, when pairs are given) shards for train and val, the warmup stream when
    ``warmup_path`` holds files, plus manifest.json."""
    settings.validate()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(tokenizer_dir)
    vocab_size = tokenizer.get_vocab_size()
    entries: list[dict] = []
    stats: dict[str, dict] = {}
    for split in SPLITS:
        entries += _write_pretrain(tokenizer, Path(corpus_path), split, out_dir, settings, stats)
        if pairs_path is not None:
            entries += _write_sft(tokenizer, Path(pairs_path), split, out_dir, settings, stats)
    if not stats["pretrain/train"]["tokens"]:
        raise ValueError(f"{corpus_path}: the train split has no documents to tokenize")
    if warmup_path is not None and pq.read_metadata(warmup_path).num_rows:
        entries += _write_warmup(tokenizer, Path(warmup_path), Path(corpus_path), out_dir, settings, stats)
    write_manifest(out_dir, entries, vocab_size, tokenizer_sha256(tokenizer_dir))
    table = "\n".join(f"| {name} | {s['docs']} | {s['tokens']} | {s['shards']} |" for name, s in stats.items())
    return {
        "vocab_size": vocab_size,
        "dtype": token_dtype(vocab_size).name,
        "shards": len(entries),
        "tokenizer_sha256": tokenizer_sha256(tokenizer_dir),
        "streams": stats,
        "summary": "| stream/split | docs | tokens | shards |\n|---|---|---|---|\n" + table,
    }
