"""Byte-level BPE tokenizer, the .bin shard format and shard building, and their checks.
Training reads only what this package writes."""

from pipeline.common.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "TokenizerSettings": "tokenizer",
        "build_tokenizer": "tokenizer",
        "load_tokenizer": "tokenizer",
        "ShardSettings": "shards",
        "build_token_shards": "shards",
        "SHARDS_SUBDIR": "shards",
        "TokenShards": "shard_format",
        "corpus_texts": "texts",
    },
)
