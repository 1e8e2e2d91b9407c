"""Byte-level BPE tokenizer, the .bin shard format and shard building, and their checks.
Training reads only what this package writes."""
