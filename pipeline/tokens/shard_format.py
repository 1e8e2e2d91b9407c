"""Tokenized ``.bin`` shards: the on-disk format, the writer and the only reader.

A shard file is llm.c's layout (karpathy/llm.c ``dev/data/data_common.py
write_datafile``): a header of 256 little-endian int32 followed by the tokens.

    header[0] magic      TOKEN_MAGIC for token files, MASK_MAGIC for SFT loss masks
    header[1] version    FORMAT_VERSION
    header[2] count      number of tokens (or mask bytes) after the header
    header[3] itemsize   bytes per item: 2 (uint16), 4 (uint32) or 1 (uint8 mask)

llm.c's GPT-2 files use magic 20240520 with version 1 and no itemsize slot; ours
carry version 2, so an llm.c file is rejected by version rather than misread.
Tokens are uint16 while every id fits (vocab <= 65,536), else uint32.

Files are named ``{stream}_{split}_{index:06d}.bin`` (masks ``.mask.bin``) and
documents may continue across shard boundaries, as in llm.c. ``manifest.json``
lists every shard with its token count and sha256, plus totals, dtype, vocab size
and the sha256 of the tokenizer.json the ids came from.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from pipeline.common.content import sha256_file

TOKEN_MAGIC = 20240520
MASK_MAGIC = 20240521
FORMAT_VERSION = 2
HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
MANIFEST_NAME = "manifest.json"
MASK_DTYPE = np.dtype(np.uint8)
# General Python the base model trains on before the corpus (pipeline.tokens.shards; train split only).
WARMUP_STREAM = "warmup"


class ShardError(ValueError):
    """A shard file or manifest that cannot be trusted; the message names the file."""


def token_dtype(vocab_size: int) -> np.dtype:
    """Smallest unsigned dtype that holds every id of a ``vocab_size`` vocabulary."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def shard_name(stream: str, split: str, index: int, mask: bool = False) -> str:
    return f"{stream}_{split}_{index:06d}{'.mask' if mask else ''}.bin"


def _header(magic: int, count: int, itemsize: int) -> bytes:
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[:4] = (magic, FORMAT_VERSION, count, itemsize)
    return header.tobytes()


def write_shard_file(path: Path, magic: int, data: np.ndarray) -> str:
    """Write header + data to ``path`` atomically (tmp name, then rename); return its sha256.

    The rename means a reader never sees a half-written shard under the final name.
    """
    if data.size >= 2**31:
        raise ValueError(f"{path.name}: {data.size} items do not fit the int32 count field")
    payload = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<"))
    header = _header(magic, int(payload.size), payload.dtype.itemsize)
    digest = hashlib.sha256(header)
    digest.update(memoryview(payload).cast("B"))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(header)
        handle.write(memoryview(payload).cast("B"))
    os.replace(tmp, path)
    return digest.hexdigest()


def read_header(path: Path, expected_magic: int, expected_itemsize: int) -> int:
    """Validate the header and file size of one shard file; return its item count."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ShardError(f"{path}: shard file is missing") from None
    if size < HEADER_BYTES:
        raise ShardError(f"{path}: truncated, {size} bytes is shorter than the {HEADER_BYTES}-byte header")
    header = np.fromfile(path, dtype="<i4", count=HEADER_INTS)
    magic, version, count, itemsize = (int(v) for v in header[:4])
    if magic != expected_magic:
        raise ShardError(f"{path}: foreign file, magic {magic} is not {expected_magic}")
    if version != FORMAT_VERSION:
        raise ShardError(f"{path}: unsupported format version {version} (this reader knows {FORMAT_VERSION})")
    if itemsize != expected_itemsize:
        raise ShardError(f"{path}: item size {itemsize} bytes, expected {expected_itemsize} from the manifest dtype")
    expected_size = HEADER_BYTES + count * itemsize
    if size != expected_size:
        state = "truncated" if size < expected_size else "has trailing bytes"
        raise ShardError(f"{path}: {state}, header says {count} items ({expected_size} bytes) but file is {size} bytes")
    return count


def _chunks(
    docs: Iterable[np.ndarray], masks: Iterable[np.ndarray] | None
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Pair each document with its mask, reading both in lockstep."""
    if masks is None:
        for doc in docs:
            yield doc, None
        return
    mask_iter = iter(masks)
    for number, doc in enumerate(docs):
        mask = next(mask_iter, None)
        if mask is None:
            raise ValueError(f"masks ended at document {number}: every document needs a loss mask")
        if len(mask) != len(doc):
            raise ValueError(f"document {number}: loss mask has {len(mask)} entries for {len(doc)} tokens")
        yield doc, mask
    if next(mask_iter, None) is not None:
        raise ValueError("more loss masks than documents")


def write_stream(
    out_dir: Path,
    stream: str,
    split: str,
    docs: Iterable[np.ndarray],
    masks: Iterable[np.ndarray] | None,
    vocab_size: int,
    shard_tokens: int,
) -> list[dict]:
    """Concatenate tokenized documents (bos/eos already included) into shards of ``shard_tokens``.

    ``masks``, when given, runs parallel to ``docs`` (one uint8 array per document,
    same length) and is written to ``.mask.bin`` files split at the same offsets.
    Returns the manifest entries of the written shards. An empty stream writes no file.
    """
    if shard_tokens <= 0:
        raise ValueError(f"shard_tokens must be positive, got {shard_tokens}")
    out_dir = Path(out_dir)
    dtype = token_dtype(vocab_size)
    entries: list[dict] = []
    pending: list[np.ndarray] = []
    pending_masks: list[np.ndarray] = []
    pending_count = 0

    def flush(count: int) -> None:
        # Write exactly ``count`` pending tokens as one shard; keep the rest pending.
        nonlocal pending, pending_masks, pending_count
        tokens = np.concatenate(pending)
        pending = [tokens[count:]] if count < tokens.size else []
        tokens = tokens[:count]
        if tokens.size and int(tokens.max()) >= vocab_size:
            raise ValueError(
                f"{stream}/{split}: token id {int(tokens.max())} is outside the vocabulary of {vocab_size}"
            )
        index = len(entries)
        name = shard_name(stream, split, index)
        entry = {
            "file": name,
            "stream": stream,
            "split": split,
            "tokens": int(count),
            "sha256": write_shard_file(out_dir / name, TOKEN_MAGIC, tokens.astype(dtype, copy=False)),
        }
        if masks is not None:
            mask = np.concatenate(pending_masks)
            pending_masks = [mask[count:]] if count < mask.size else []
            mask_name = shard_name(stream, split, index, mask=True)
            entry["mask_file"] = mask_name
            entry["mask_sha256"] = write_shard_file(
                out_dir / mask_name, MASK_MAGIC, mask[:count].astype(MASK_DTYPE, copy=False)
            )
        pending_count -= count
        entries.append(entry)

    for doc, mask in _chunks(docs, masks):
        pending.append(np.asarray(doc))
        if mask is not None:
            pending_masks.append(np.asarray(mask, dtype=MASK_DTYPE))
        pending_count += len(doc)
        while pending_count >= shard_tokens:
            flush(shard_tokens)
    if pending_count:
        flush(pending_count)
    return entries


def write_manifest(out_dir: Path, entries: list[dict], vocab_size: int, tokenizer_sha256: str) -> None:
    """Write ``manifest.json`` (atomically) listing ``entries`` with per-stream/split totals."""
    totals: dict[str, dict[str, int]] = {}
    for entry in entries:
        split_totals = totals.setdefault(entry["stream"], {})
        split_totals[entry["split"]] = split_totals.get(entry["split"], 0) + entry["tokens"]
    manifest = {
        "format_version": FORMAT_VERSION,
        "dtype": token_dtype(vocab_size).name,
        "vocab_size": vocab_size,
        "tokenizer_sha256": tokenizer_sha256,
        "totals": totals,
        "shards": entries,
    }
    path = Path(out_dir) / MANIFEST_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ShardError(f"{path}: manifest is missing; is {directory} a token_shards directory?") from None
    except json.JSONDecodeError as err:
        raise ShardError(f"{path}: not valid JSON ({err})") from None
    for key in ("dtype", "vocab_size", "tokenizer_sha256", "totals", "shards"):
        if key not in manifest:
            raise ShardError(f"{path}: field {key!r} is missing")
    if manifest["dtype"] != token_dtype(manifest["vocab_size"]).name:
        raise ShardError(f"{path}: dtype {manifest['dtype']} does not match vocab_size {manifest['vocab_size']}")
    return manifest


class TokenShards:
    """Read-only view of one stream/split of a token_shards directory (memmapped).

    Opening validates every shard's header, size and count against the manifest
    (and its sha256 when ``verify_sha256``), so a bad file fails here, naming itself,
    not halfway through training.
    """

    def __init__(self, directory: Path, stream: str, split: str, verify_sha256: bool = False):
        self.directory = Path(directory)
        manifest = read_manifest(self.directory)
        self.stream, self.split = stream, split
        self.vocab_size: int = int(manifest["vocab_size"])
        self.tokenizer_sha256: str = manifest["tokenizer_sha256"]
        self.dtype = np.dtype(manifest["dtype"])
        entries = [e for e in manifest["shards"] if e["stream"] == stream and e["split"] == split]
        if not entries:
            available = sorted({f"{e['stream']}/{e['split']}" for e in manifest["shards"]})
            raise ShardError(f"{self.directory}: no shards for {stream}/{split}; available: {available}")
        self.has_mask: bool = all("mask_file" in e for e in entries)
        self._tokens = [
            self._open(e["file"], e["sha256"], e["tokens"], TOKEN_MAGIC, self.dtype, verify_sha256) for e in entries
        ]
        self._masks = (
            [
                self._open(e["mask_file"], e["mask_sha256"], e["tokens"], MASK_MAGIC, MASK_DTYPE, verify_sha256)
                for e in entries
            ]
            if self.has_mask
            else []
        )
        # _starts[i] is the stream offset of shard i's first token; the last item is the total.
        self._starts = np.concatenate([[0], np.cumsum([len(t) for t in self._tokens])]).astype(np.int64)
        self.num_tokens: int = int(self._starts[-1])

    def _open(self, name: str, sha256: str, tokens: int, magic: int, dtype: np.dtype, verify: bool) -> np.memmap:
        path = self.directory / name
        count = read_header(path, magic, dtype.itemsize)
        if count != tokens:
            raise ShardError(f"{path}: count mismatch, header says {count} items but the manifest says {tokens}")
        if verify and sha256_file(path) != sha256:
            raise ShardError(f"{path}: sha256 mismatch with the manifest (file changed after it was written)")
        return np.memmap(path, dtype=dtype.newbyteorder("<"), mode="r", offset=HEADER_BYTES, shape=(count,))

    def _gather(self, arrays: list[np.memmap], start: int, stop: int, dtype: np.dtype) -> np.ndarray:
        if not 0 <= start <= stop <= self.num_tokens:
            raise IndexError(
                f"slice [{start}, {stop}) is outside {self.stream}/{self.split} of {self.num_tokens} tokens"
            )
        out = np.empty(stop - start, dtype=dtype)
        first = int(np.searchsorted(self._starts, start, side="right")) - 1
        filled = 0
        for index in range(first, len(arrays)):
            if filled == out.size:
                break
            lo = start + filled - int(self._starts[index])
            take = min(out.size - filled, len(arrays[index]) - lo)
            out[filled : filled + take] = arrays[index][lo : lo + take]
            filled += take
        return out

    def slice(self, start: int, stop: int) -> np.ndarray:
        """Token ids ``[start, stop)`` of the stream as int64 (embeddings need long), across shards."""
        return self._gather(self._tokens, start, stop, np.dtype(np.int64))

    def mask_slice(self, start: int, stop: int) -> np.ndarray:
        """SFT loss mask ``[start, stop)`` (1 = train on this token) as uint8."""
        if not self.has_mask:
            raise ShardError(f"{self.directory}: stream {self.stream}/{self.split} has no loss mask")
        return self._gather(self._masks, start, stop, MASK_DTYPE)
