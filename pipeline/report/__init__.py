"""The model report card: data, tokenizer, training curves, the GGUF table and a generation
evaluation (mpy-cross syntax, MicroPython imports, chrF) in one Markdown file."""

from pipeline.common.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__, {"ReportSettings": "build", "ReportInputs": "build", "GgufInput": "build", "build_model_report": "build"}
)
