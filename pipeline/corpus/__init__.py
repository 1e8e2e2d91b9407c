"""The corpus: PDF and source blocks joined, quality-filtered, deduplicated (exact + MinHash)
and split into train/val by document."""
