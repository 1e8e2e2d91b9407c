"""Checks on the tokenizer and the token shards (the lead's blocking asset checks call these).

Each returns a list of problems (empty = pass) so a check can show all of them at once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.common.prompt_format import BOS, EOS, PAD, SPECIAL_TOKEN_IDS, UNK, chat_template_jinja
from pipeline.tokens.shard_format import (
    MASK_DTYPE,
    MASK_MAGIC,
    TOKEN_MAGIC,
    ShardError,
    TokenShards,
    read_header,
    read_manifest,
)
from pipeline.tokens.tokenizer import load_tokenizer


def roundtrip_failures(tokenizer_dir: Path, texts: list[str]) -> list[int]:
    """Indexes of ``texts`` for which decode(encode(text)) != text."""
    tokenizer = load_tokenizer(tokenizer_dir)
    encoded = tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    decoded = tokenizer.decode_batch([e.ids for e in encoded], skip_special_tokens=False)
    return [i for i, (text, back) in enumerate(zip(texts, decoded)) if text != back]


def special_token_problems(tokenizer_dir: Path) -> list[str]:
    """Special tokens at their fixed ids, one id each in running text, named in the config; no automatic BOS."""
    problems: list[str] = []
    tokenizer = load_tokenizer(tokenizer_dir)
    for token, expected in SPECIAL_TOKEN_IDS.items():
        actual = tokenizer.token_to_id(token)
        if actual != expected:
            problems.append(f"{token}: id {actual}, expected {expected}")
        ids = tokenizer.encode(f"x{token}\ny", add_special_tokens=False).ids
        if ids.count(expected) != 1:
            problems.append(f"{token}: 'x{token}\\ny' encodes to {ids}, not one id {expected}")
    from transformers import AutoTokenizer  # heavy; only the check step needs it

    hf = AutoTokenizer.from_pretrained(tokenizer_dir)
    for name, token in (("bos", BOS), ("eos", EOS), ("pad", PAD), ("unk", UNK)):
        if getattr(hf, f"{name}_token") != token:
            problems.append(f"tokenizer_config {name}_token is {getattr(hf, f'{name}_token')!r}, expected {token!r}")
    if hf.pad_token_id == hf.eos_token_id:
        problems.append("pad and eos share an id: a padding collator would mask every <eos>")
    auto_ids = hf("print(1)")["input_ids"]
    if auto_ids and auto_ids[0] in SPECIAL_TOKEN_IDS.values():
        problems.append(f"the tokenizer adds special tokens by itself: 'print(1)' -> {auto_ids}")
    if hf.chat_template != chat_template_jinja():
        problems.append("chat_template differs from prompt_format.chat_template_jinja()")
    return problems


def shard_problems(shards_dir: Path) -> list[str]:
    """Every shard's header agrees with the manifest, and manifest totals equal the header totals."""
    shards_dir = Path(shards_dir)
    try:
        manifest = read_manifest(shards_dir)
    except ShardError as err:
        return [str(err)]
    itemsize = np.dtype(manifest["dtype"]).itemsize
    problems: list[str] = []
    header_totals: dict[str, dict[str, int]] = {}
    for entry in manifest["shards"]:
        files = [(entry["file"], TOKEN_MAGIC, itemsize)]
        if "mask_file" in entry:
            files.append((entry["mask_file"], MASK_MAGIC, MASK_DTYPE.itemsize))
        for name, magic, size in files:
            try:
                count = read_header(shards_dir / name, magic, size)
            except ShardError as err:
                problems.append(str(err))
                continue
            if count != entry["tokens"]:
                problems.append(f"{shards_dir / name}: header count {count} != manifest tokens {entry['tokens']}")
            if magic == TOKEN_MAGIC:
                split_totals = header_totals.setdefault(entry["stream"], {})
                split_totals[entry["split"]] = split_totals.get(entry["split"], 0) + count
    if not problems and header_totals != manifest["totals"]:
        problems.append(
            f"manifest totals {json.dumps(manifest['totals'])} != header totals {json.dumps(header_totals)}"
        )
    return problems


def sample_windows(shards_dir: Path, tokenizer_dir: Path, n: int, length: int, seed: int) -> list[str]:
    """``n`` random windows of up to ``length`` tokens from pretrain/train, decoded, each inside one document.

    A window starts after a random position and stops before the next special token,
    so its text is a substring of one corpus document (``token_texts.corpus_documents``).
    Byte-level tokens can split a UTF-8 character at the window edges; the partial
    characters there decode to U+FFFD and are stripped.
    """
    shards = TokenShards(Path(shards_dir), "pretrain", "train")
    tokenizer = load_tokenizer(tokenizer_dir)
    rng = np.random.default_rng(seed)
    specials = np.array(sorted(SPECIAL_TOKEN_IDS.values()))
    windows: list[str] = []
    for start in rng.integers(0, shards.num_tokens, size=n):
        ids = shards.slice(int(start), min(int(start) + length, shards.num_tokens))
        special_at = np.flatnonzero(np.isin(ids, specials))
        if special_at.size and special_at[0] == 0:
            ids = ids[1:]
            special_at = special_at[1:] - 1
        if special_at.size:
            ids = ids[: special_at[0]]
        windows.append(tokenizer.decode(ids.tolist(), skip_special_tokens=False).strip("\ufffd"))
    return windows
