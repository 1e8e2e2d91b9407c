"""Map-style training data over token shards: fixed blocks of ``seq_len`` tokens.

A map-style dataset (rather than an iterable) gives the HF Trainer's RandomSampler
shuffling, worker and rank sharding, and exact resume (the sampler replays to the
checkpoint step) for free. Blocks are packed and never padded, so no attention mask
is needed and no label is a pad.

``labels`` equal ``input_ids``: HF causal-LM models shift labels by one position
internally, so pre-shifted targets would train a skip-one-token model. For SFT the
labels of prompt tokens (mask 0) are -100, which the HF loss ignores; the mask of a
token says whether that token is a response token, i.e. whether predicting it counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pipeline.tokens.shard_format import WARMUP_STREAM, ShardError, TokenShards

IGNORE_INDEX = -100  # HF / torch cross-entropy ignore_index
UNIGRAM_SLICE_TOKENS = 1 << 24  # train tokens counted at a time for the unigram baseline


class TokenBlockDataset(Dataset):
    def __init__(self, shards: TokenShards, seq_len: int, use_mask: bool, max_tokens: int | None = None):
        if use_mask and not shards.has_mask:
            raise ValueError(f"{shards.directory}: stream {shards.stream!r} has no loss mask, which SFT needs")
        available = shards.num_tokens if max_tokens is None else min(max_tokens, shards.num_tokens)
        self.blocks = available // seq_len
        if self.blocks == 0:
            raise ValueError(
                f"{shards.directory}: stream {shards.stream!r} split {shards.split!r} holds {shards.num_tokens} "
                f"tokens, fewer than one block of seq_len {seq_len}"
            )
        self.shards = shards
        self.seq_len = seq_len
        self.use_mask = use_mask

    def __len__(self) -> int:
        return self.blocks

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        start = index * self.seq_len
        stop = start + self.seq_len
        input_ids = torch.from_numpy(np.ascontiguousarray(self.shards.slice(start, stop), dtype=np.int64))
        labels = input_ids.clone()
        if self.use_mask:
            mask = torch.from_numpy(np.asarray(self.shards.mask_slice(start, stop)))
            labels[mask == 0] = IGNORE_INDEX
        return {"input_ids": input_ids, "labels": labels}


def open_split(shards_dir: Path, stream: str, split: str) -> TokenShards:
    return TokenShards(Path(shards_dir), stream=stream, split=split)


def warmup_steps(share: float, max_steps: int) -> int:
    """The optimizer steps of a run that train on the warmup stream (the last one always trains on the corpus)."""
    return min(round(share * max_steps), max_steps - 1)


def _passes(rng: np.random.Generator, blocks: int, count: int) -> np.ndarray:
    """``count`` block indices: shuffled passes over ``blocks`` blocks, one after the other."""
    passes = -(-count // blocks)
    return np.concatenate([rng.permutation(blocks) for _ in range(passes)])[:count]


class WarmupFirstDataset(Dataset):
    """The whole run's training blocks in the order they are trained on: ``warmup_samples`` blocks of the
    warmup stream, then the corpus's for the rest of ``total_samples``, each stream in shuffled passes.

    The Trainer reads it with a sequential sampler (``train_sampling_strategy="sequential"``): one epoch
    is the run, the phases cannot mix, and a resume skips to its step as with the random sampler. The
    order is a function of ``seed`` alone, so every rank of a multi-GPU run holds the same one and
    takes its share of each batch as usual.
    """

    def __init__(
        self, warmup: TokenBlockDataset, main: TokenBlockDataset, warmup_samples: int, total_samples: int, seed: int
    ):
        if not 0 < warmup_samples < total_samples:
            raise ValueError(f"warmup_samples {warmup_samples} must lie in (0, total_samples {total_samples})")
        rng = np.random.default_rng(seed)
        self.parts = (warmup, main)
        self.warmup_samples = warmup_samples
        self.order = np.concatenate(
            [_passes(rng, len(warmup), warmup_samples), _passes(rng, len(main), total_samples - warmup_samples)]
        )

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.parts[index >= self.warmup_samples][int(self.order[index])]


def warmup_first(
    shards_dir: Path, corpus: TokenBlockDataset, warmup_samples: int, total_samples: int, seed: int
) -> WarmupFirstDataset:
    """The run's blocks: ``warmup_samples`` of the shards' warmup stream, then ``corpus``'s."""
    try:
        warmup = open_split(shards_dir, WARMUP_STREAM, "train")
    except ShardError as err:
        raise ValueError(
            f"warmup_share > 0 trains on the warmup stream, which these token shards lack: "
            f"enable python_warmup_files and rebuild token_shards ({err})"
        ) from None
    blocks = TokenBlockDataset(warmup, corpus.seq_len, use_mask=False)
    return WarmupFirstDataset(blocks, corpus, warmup_samples, total_samples, seed)


def unigram_loss(train: TokenShards, val: TokenShards, max_val_tokens: int, use_mask: bool) -> float:
    """Loss (nats/token) on the val tokens of the best context-free model: token frequencies of the
    train split, add-one smoothed over the vocabulary so that no val token has probability zero.

    A model whose val loss is below it has learned something from context. (The entropy of the val
    frequencies themselves would be a model fitted on the answers, biased low on a small split.)
    With ``use_mask`` (SFT) only the tokens whose prediction counts enter, on both sides.
    """
    counts = np.zeros(train.vocab_size, dtype=np.int64)
    # In slices: a large train split as one int64 array would cost 8 bytes a token at the end of every run.
    for start in range(0, train.num_tokens, UNIGRAM_SLICE_TOKENS):
        stop = min(start + UNIGRAM_SLICE_TOKENS, train.num_tokens)
        counts += np.bincount(_counted(train, start, stop, use_mask), minlength=train.vocab_size)
    log_probs = np.log((counts + 1.0) / (counts.sum() + counts.size))
    return float(-log_probs[_counted(val, 0, min(val.num_tokens, max_val_tokens), use_mask)].mean())


def _counted(shards: TokenShards, start: int, stop: int, use_mask: bool) -> np.ndarray:
    ids = np.asarray(shards.slice(start, stop))
    return ids[np.asarray(shards.mask_slice(start, stop)) == 1] if use_mask else ids


class TokenizerMismatchError(ValueError):
    """Token ids made by one vocabulary, about to be read with another."""


def check_one_tokenizer(tokenizer_dir: Path, shards: TokenShards, init_from: Path | None = None) -> str:
    """Refuse to train unless the shards, the tokenizer and the model to start from share one tokenizer.

    A PDF that arrives between two training steps rebuilds the tokenizer: ids written with the old
    vocabulary would then be read with the new one (or an SFT run would continue a base model that
    speaks another), and training would run without error on noise. Returns the tokenizer's sha256.
    """
    # Imported here: the tokenizer module pulls in the corpus stage (datasketch, scipy), which a
    # trainer without this check (benchmarks/gpu.sh on a bare GPU machine) must not need.
    from pipeline.tokens.tokenizer import tokenizer_sha256

    expected = tokenizer_sha256(tokenizer_dir)
    if shards.tokenizer_sha256 != expected:
        raise TokenizerMismatchError(
            f"token_shards {shards.directory} were written with tokenizer sha256 {shards.tokenizer_sha256[:12]}, "
            f"but bpe_tokenizer {tokenizer_dir} is {expected[:12]}: re-build token_shards from this tokenizer"
        )
    if init_from is not None and (base := tokenizer_sha256(init_from)) != expected:
        raise TokenizerMismatchError(
            f"base model {init_from} was trained with tokenizer sha256 {base[:12]}, but bpe_tokenizer "
            f"{tokenizer_dir} is {expected[:12]}: re-train base_checkpoint from this tokenizer first"
        )
    return expected
