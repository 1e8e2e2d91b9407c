import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from pipeline.common.prompt_format import BOS, SPECIAL_TOKEN_IDS, split_pair
from pipeline.tokens.checks import sample_windows, shard_problems
from pipeline.tokens.shard_format import HEADER_BYTES, ShardError, TokenShards, write_manifest, write_stream
from pipeline.tokens.shards import ShardSettings, build_token_shards
from pipeline.tokens.texts import corpus_documents
from pipeline.tokens.tokenizer import TokenizerSettings, build_tokenizer
from tests.token_fixtures import PAIRS, write_corpus, write_pairs

BOS_ID = SPECIAL_TOKEN_IDS[BOS]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shards")
    corpus, pairs = write_corpus(root / "corpus.parquet", repeat=2), write_pairs(root / "pairs.parquet")
    tokenizer_dir, shards_dir = root / "tokenizer", root / "shards"
    tokenizer_dir.mkdir()
    shards_dir.mkdir()
    build_tokenizer(corpus, pairs, tokenizer_dir, TokenizerSettings(vocab_size=4096))
    # 64-token shards: documents and pairs cross shard boundaries.
    meta = build_token_shards(tokenizer_dir, corpus, pairs, shards_dir, ShardSettings(shard_tokens=64, encode_batch=3))
    return {"corpus": corpus, "tokenizer": tokenizer_dir, "shards": shards_dir, "meta": meta}


def _small_stream(directory: Path, vocab_size: int = 1000) -> list[np.ndarray]:
    docs = [np.arange(n, n + 5 + n % 4) for n in range(20)]
    entries = write_stream(directory, "pretrain", "train", docs, None, vocab_size, shard_tokens=16)
    write_manifest(directory, entries, vocab_size, "0" * 64)
    return docs


def test_slices_span_shard_boundaries(tmp_path):
    docs = _small_stream(tmp_path)
    flat = np.concatenate(docs)
    shards = TokenShards(tmp_path, "pretrain", "train", verify_sha256=True)
    assert shards.num_tokens == flat.size and not shards.has_mask and shards.vocab_size == 1000
    assert len(list(tmp_path.glob("*.bin"))) == -(-flat.size // 16)
    for start, stop in [(0, flat.size), (10, 40), (16, 32), (31, 33), (5, 5)]:
        got = shards.slice(start, stop)
        assert got.dtype == np.int64 and np.array_equal(got, flat[start:stop])
    with pytest.raises(IndexError):
        shards.slice(0, flat.size + 1)


def test_large_vocab_is_stored_as_uint32(tmp_path):
    docs = [np.array([1, 70_000, 2])]
    write_manifest(tmp_path, write_stream(tmp_path, "pretrain", "val", docs, None, 80_000, 100), 80_000, "0" * 64)
    assert (tmp_path / "pretrain_val_000000.bin").stat().st_size == HEADER_BYTES + 3 * 4
    assert TokenShards(tmp_path, "pretrain", "val").slice(0, 3).tolist() == [1, 70_000, 2]


def test_token_outside_vocabulary_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="token id 1000 is outside the vocabulary of 1000"):
        write_stream(tmp_path, "pretrain", "train", [np.array([1, 1000])], None, 1000, 16)


def test_truncated_shard_is_rejected_by_name(tmp_path):
    _small_stream(tmp_path)
    victim = tmp_path / "pretrain_train_000001.bin"
    victim.write_bytes(victim.read_bytes()[:-2])
    with pytest.raises(ShardError, match=r"pretrain_train_000001\.bin: truncated"):
        TokenShards(tmp_path, "pretrain", "train")
    assert any("truncated" in p for p in shard_problems(tmp_path))


def test_foreign_file_is_rejected(tmp_path):
    _small_stream(tmp_path)
    victim = tmp_path / "pretrain_train_000000.bin"
    size = victim.stat().st_size
    victim.write_bytes(b"GGUF" + bytes(size - 4))
    with pytest.raises(ShardError, match=r"pretrain_train_000000\.bin: foreign file, magic"):
        TokenShards(tmp_path, "pretrain", "train")


def test_count_and_sha_mismatches_are_rejected(tmp_path):
    _small_stream(tmp_path)
    manifest_path = tmp_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    victim = tmp_path / manifest["shards"][0]["file"]
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1  # same size, different content: only the sha256 notices
    victim.write_bytes(bytes(data))
    TokenShards(tmp_path, "pretrain", "train")  # header and size are still fine
    with pytest.raises(ShardError, match="sha256 mismatch"):
        TokenShards(tmp_path, "pretrain", "train", verify_sha256=True)
    manifest["shards"][0]["tokens"] += 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ShardError, match="count mismatch, header says 16 items but the manifest says 17"):
        TokenShards(tmp_path, "pretrain", "train")


def test_missing_stream_names_what_exists(tmp_path):
    _small_stream(tmp_path)
    with pytest.raises(ShardError, match=r"no shards for sft/train; available: \['pretrain/train'\]"):
        TokenShards(tmp_path, "sft", "train")


def test_manifest_totals_agree_with_headers(built):
    shards_dir = built["shards"]
    assert shard_problems(shards_dir) == []
    manifest = json.loads((shards_dir / "manifest.json").read_text())
    for stream, splits in manifest["totals"].items():
        for split, total in splits.items():
            assert TokenShards(shards_dir, stream, split, verify_sha256=True).num_tokens == total
            assert built["meta"]["streams"][f"{stream}/{split}"]["tokens"] == total
    manifest["totals"]["pretrain"]["train"] += 1
    (shards_dir / "manifest.json").write_text(json.dumps(manifest))
    try:
        assert any("manifest totals" in p for p in shard_problems(shards_dir))
    finally:
        manifest["totals"]["pretrain"]["train"] -= 1
        (shards_dir / "manifest.json").write_text(json.dumps(manifest))


def test_pretrain_stream_is_the_corpus_documents(built):
    tok = Tokenizer.from_file(str(built["tokenizer"] / "tokenizer.json"))
    texts = {}
    for split in ("train", "val"):
        shards = TokenShards(built["shards"], "pretrain", split)
        texts[split] = tok.decode(shards.slice(0, shards.num_tokens).tolist(), skip_special_tokens=False)
        assert texts[split] == "".join(f"<bos>{doc}<eos>" for _, doc in corpus_documents(built["corpus"], split))
    # Blocks in seq order (the fixture table is stored reversed), headings as Markdown.
    assert texts["train"].startswith("<bos># Blinking an LED\n\nThe ESP32")
    assert texts["val"].count("<bos># I2C\n\n") == 2


def test_loss_mask_covers_exactly_the_response(built):
    tok = Tokenizer.from_file(str(built["tokenizer"] / "tokenizer.json"))
    shards = TokenShards(built["shards"], "sft", "train")
    assert shards.has_mask
    ids, mask = shards.slice(0, shards.num_tokens), shards.mask_slice(0, shards.num_tokens)
    starts = list(np.flatnonzero(ids == BOS_ID)) + [ids.size]
    train_pairs = [(i, r) for i, r, split in PAIRS if split == "train"]
    assert len(starts) - 1 == len(train_pairs)
    for (instruction, response), lo, hi in zip(train_pairs, starts, starts[1:]):
        prompt_text, response_text = split_pair(instruction, response)
        doc_ids, doc_mask = ids[lo:hi].tolist(), mask[lo:hi]
        kept = [t for t, m in zip(doc_ids, doc_mask) if m]
        dropped = [t for t, m in zip(doc_ids, doc_mask) if not m]
        assert tok.decode(kept, skip_special_tokens=False) == response_text
        assert tok.decode(dropped, skip_special_tokens=False) == prompt_text
        assert doc_mask.tolist() == sorted(doc_mask.tolist())  # prompt first, then response
        assert doc_ids == tok.encode(prompt_text + response_text).ids  # separate encoding == joint


def test_sample_windows_come_from_corpus_documents(built):
    docs = [text for _, text in corpus_documents(built["corpus"], "train")]
    windows = sample_windows(built["shards"], built["tokenizer"], n=20, length=24, seed=7)
    assert len(windows) == 20 and sum(len(w) for w in windows) > 100
    for window in windows:
        assert any(window in doc for doc in docs), window
    assert windows == sample_windows(built["shards"], built["tokenizer"], n=20, length=24, seed=7)


def test_mask_that_does_not_fit_its_document_is_rejected(tmp_path):
    docs = [np.array([1, 5, 6]), np.array([1, 7])]
    with pytest.raises(ValueError, match="document 1: loss mask has 3 entries for 2 tokens"):
        write_stream(tmp_path, "sft", "train", docs, [np.array([0, 1, 1]), np.array([0, 1, 1])], 100, 16)
    with pytest.raises(ValueError, match="masks ended at document 1"):
        write_stream(tmp_path, "sft", "train", docs, [np.array([0, 1, 1])], 100, 16)


@pytest.mark.parametrize("slice_tokens", [1 << 24, 3])
def test_unigram_baseline_is_fitted_on_train_and_scored_on_val(tmp_path, monkeypatch, slice_tokens):
    from pipeline.train import data
    from pipeline.train.data import unigram_loss

    monkeypatch.setattr(data, "UNIGRAM_SLICE_TOKENS", slice_tokens)  # 3: the 4 train tokens in two slices

    train = [np.array([1, 1, 1, 2])]  # add-one over 4 ids: p(1) = 4/8, p(2) = 2/8, p(0) = p(3) = 1/8
    val = [np.array([1, 2, 3])]
    masks = {"train": [np.array([1, 1, 0, 1])], "val": [np.array([1, 1, 0])]}
    entries = []
    for split, docs in (("train", train), ("val", val)):
        entries += write_stream(tmp_path, "pretrain", split, docs, None, 4, shard_tokens=8)
        entries += write_stream(tmp_path, "sft", split, docs, masks[split], 4, shard_tokens=8)
    write_manifest(tmp_path, entries, 4, "0" * 64)
    shards = {(s, p): TokenShards(tmp_path, s, p) for s in ("pretrain", "sft") for p in ("train", "val")}

    whole = unigram_loss(shards["pretrain", "train"], shards["pretrain", "val"], 100, use_mask=False)
    assert whole == pytest.approx(-(np.log(4 / 8) + np.log(2 / 8) + np.log(1 / 8)) / 3)
    # Only the first two val tokens count: a val split of one token is scored on that token alone.
    assert unigram_loss(shards["pretrain", "train"], shards["pretrain", "val"], 2, use_mask=False) == pytest.approx(
        -(np.log(4 / 8) + np.log(2 / 8)) / 2
    )
    # SFT: the masked train token (the third 1) is not counted (p(1) = 3/7, p(2) = 2/7), nor is the val 3.
    masked = unigram_loss(shards["sft", "train"], shards["sft", "val"], 100, use_mask=True)
    assert masked == pytest.approx(-(np.log(3 / 7) + np.log(2 / 7)) / 2)
