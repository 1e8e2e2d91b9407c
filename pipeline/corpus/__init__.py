"""The corpus: PDF and source blocks joined, quality-filtered, deduplicated (exact + MinHash)
and split into train/val by document."""

from pipeline.common.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__, {"CorpusSettings": "build", "build_corpus": "build", "SPLITS": "build", "CORPUS_SCHEMA": "build"}
)
