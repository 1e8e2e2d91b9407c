"""GGUF export: our own writer (tensors, tokenizer), llama.cpp quantization, verification
(tokenizer and logit parity, perplexity), generation and file inspection."""

from pipeline.common.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "GgufSettings": "export",
        "build_gguf_variant": "export",
        "published_variants": "export",
        "write_gguf": "writer",
        "quantize": "quantize",
        "generate_gguf": "generate",
        "read_gguf_facts": "summary",
        "tensor_summary": "summary",
    },
)
