"""What every stage shares: the artifact store core, the block table, the prompt format,
the child-process runner and text metrics. Imports no other package of `pipeline`."""

from pipeline.common.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "ArtifactStore": "artifacts",
        "ArtifactWrite": "artifacts",
        "default_root": "artifacts",
        "sha256_file": "artifacts",
        "BLOCK_KINDS": "blocks",
        "BLOCK_SCHEMA": "blocks",
        "PDF_BLOCK_SCHEMA": "blocks",
        "SOURCE_SCHEMA": "blocks",
        "format_prompt": "prompt_format",
        "stop_sequences": "prompt_format",
        "SPECIAL_TOKEN_IDS": "prompt_format",
        "run_child": "child",
        "child_env": "child",
        "chrf": "text_metrics",
    },
)
