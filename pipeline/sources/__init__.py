"""MicroPython source files and docs (.py, .md, .rst, .txt) to block tables, code kept exactly.
A sibling of `pipeline.pdf`: both write the block table of `pipeline.common.blocks`."""

from pipeline.common.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {"build_source_files": "files", "parse_source": "files"})
